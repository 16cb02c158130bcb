// L2 normalisation + int8 max-abs quantisation of `frames` vectors of `dim` floats (one
// workgroup of 64 threads per vector). Writes the unit vector (f32) and the int8 vector packed 4 per u32
// (little-endian), quantised like src/embed.ts: q = round(x * qmax / max|x|), Math.round semantics
// (floor(v + 0.5)); an all-zero vector stays zero. dim must be a multiple of 4.
// CPU twin: l2NormQuantizeCpu in src/gpu/kernels_cpu.ts.

struct Params {
  frames: u32,
  dim: u32,
  qmax: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> q: array<u32>;

var<workgroup> ss: array<f32, 64>;
var<workgroup> mx: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let frame = wg.x + wg.y * nwg.x;
  if (frame >= P.frames) {
    return;
  }
  let dim = P.dim; // uniforms read once (cheaper on lavapipe)
  let qmax = P.qmax;
  let base = frame * dim;
  var s = 0.0;
  var m = 0.0;
  for (var i = li; i < dim; i += 64u) {
    let v = x[base + i];
    s += v * v;
    m = max(m, abs(v));
  }
  ss[li] = s;
  mx[li] = m;
  workgroupBarrier();
  for (var st = 32u; st > 0u; st >>= 1u) {
    if (li < st) {
      ss[li] += ss[li + st];
      mx[li] = max(mx[li], mx[li + st]);
    }
    workgroupBarrier();
  }
  let norm = sqrt(ss[0]);
  let maxAbs = mx[0];
  let invn = select(0.0, 1.0 / norm, norm > 0.0);
  let scale = select(0.0, qmax / maxAbs, maxAbs > 0.0);
  let words = dim / 4u;
  for (var w = li; w < words; w += 64u) {
    var packed = 0u;
    for (var b = 0u; b < 4u; b++) {
      let i = base + w * 4u + b;
      let v = x[i];
      y[i] = v * invn;
      let r = clamp(floor(v * scale + 0.5), -qmax, qmax);
      packed |= (bitcast<u32>(i32(r)) & 0xffu) << (8u * b);
    }
    q[frame * words + w] = packed;
  }
}
