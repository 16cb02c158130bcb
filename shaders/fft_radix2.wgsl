// Batched 1-D complex FFT of power-of-two lines (n <= 2048) in workgroup memory: radix-2
// Stockham autosort (no bit reversal), all log2(n) stages in one dispatch. A line's elements
// live at `(line / linesPerImage) * imageStride + (line % linesPerImage) * lineStep + k * elemStride`
// (vec2 = re, im), so the same kernel does the rows (elemStride 1) and the columns (elemStride =
// width) of a batch of images, in place. Each workgroup transforms max(1, 256 / n) lines.
// Forward: X[k] = sum x[j] e^{-2 pi i jk/n}; inverse uses e^{+...}; the result is multiplied by
// `scale`. Twiddles come from a table tw[t] = e^{-2 pi i t / twN} (t < twN/2), twStride = twN / n.
// CPU twin: fftLinesCpu in src/gpu/kernels_cpu.ts.

struct Params {
  n: u32,
  log2n: u32,
  lines: u32,          // total lines in the batch
  linesPerGroup: u32,  // max(1, 256 / n)
  elemStride: u32,
  lineStep: u32,
  linesPerImage: u32,
  imageStride: u32,
  twStride: u32,
  inverse: u32,        // 0 forward, 1 inverse
  scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Private copy of the uniforms, made once per invocation (uniform loads in loops are slow on
// lavapipe); control flow around barriers must still test P (uniformity analysis).
var<private> C: Params;
@group(0) @binding(1) var<storage, read_write> data: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> tw: array<vec2<f32>>;

const WG: u32 = 128u;
var<workgroup> sh: array<vec2<f32>, 4096>; // two banks of 2048 (ping-pong)

fn addr(line: u32, k: u32) -> u32 {
  return (line / C.linesPerImage) * C.imageStride + (line % C.linesPerImage) * C.lineStep +
    k * C.elemStride;
}

@compute @workgroup_size(128, 1, 1)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  C = P;
  let group = wg.x + wg.y * nwg.x;
  let line0 = group * C.linesPerGroup;
  if (line0 >= P.lines) { // uniform
    return;
  }
  let n = C.n;
  let total = C.linesPerGroup * n;
  for (var e = li; e < total; e += WG) {
    let line = line0 + e / n;
    var v = vec2<f32>(0.0);
    if (line < C.lines) {
      v = data[addr(line, e % n)];
    }
    sh[e] = v;
  }
  workgroupBarrier();

  let half = n >> 1u;
  let butterflies = C.linesPerGroup * half;
  let inv = C.inverse != 0u;
  for (var st = 0u; st < P.log2n; st++) { // uniform bound: barriers inside
    let src = (st & 1u) * 2048u;
    let dst = 2048u - src;
    let s = 1u << st;          // stride of the current sub-sequences
    let m = half >> st;        // half length of the current sub-sequences
    for (var t = li; t < butterflies; t += WG) {
      let l = t / half;
      let b = t % half;
      let p = b >> st;
      let q = b & (s - 1u);
      let o = l * n;
      let a = sh[src + o + q + s * p];
      let c = sh[src + o + q + s * (p + m)];
      let w0 = tw[p * s * C.twStride];
      let w = select(w0, vec2<f32>(w0.x, -w0.y), inv);
      let d = a - c;
      sh[dst + o + q + s * 2u * p] = a + c;
      sh[dst + o + q + s * (2u * p + 1u)] = vec2<f32>(d.x * w.x - d.y * w.y, d.x * w.y + d.y * w.x);
    }
    workgroupBarrier();
  }

  let fin = (C.log2n & 1u) * 2048u;
  for (var e = li; e < total; e += WG) {
    let line = line0 + e / n;
    if (line < C.lines) {
      data[addr(line, e % n)] = sh[fin + e] * C.scale;
    }
  }
}
