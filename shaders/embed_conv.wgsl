// Frame-embedding CNN, layers 1-5 of EMBED_LAYERS (src/embed.ts), many frames per dispatch:
//   InstanceNorm (mean/std, eps) -> Conv 1->4 5x5 "same" (zero padding) -> Relu
//   -> Conv 4->2 1x1 -> AveragePool 4x4 stride 4  =>  2 x 16 x 16 floats per frame.
// The 5x5 filters are applied as their rank-1 factors w_f[ky][kx] = col_f[ky] * row_f[kx] (the
// Gaussian-derivative bank is exactly separable; the host checks it): a horizontal 5-tap pass
// then a vertical one, vec4 = the four filters.
// One workgroup (64 threads) per 64x64 frame. Thread (cx, blk) owns the 4-wide, 16-high strip of
// pooling cells (cx, 4 blk .. 4 blk + 3) and is register-blocked: it streams the pixel rows of
// its strip (plus a 2-pixel halo) straight from the packed input, keeps the last eight
// horizontally filtered rows in registers and never touches workgroup memory for pixels.
// Statistics are exact integers: sum (-> mean) and sum of (x - m0)^2 about the rounded mean m0.
// CPU twin: embedConvCpu in src/gpu/kernels_cpu.ts (same operation order).

struct Params {
  frames: u32,          // frames in this dispatch
  _pad0: u32,
  eps2: f32,            // NORM_EPS^2, added to the variance
  _pad1: u32,
  mix0: vec4<f32>,      // 1x1 conv weights of output channel 0 (over the 4 relu'd filters)
  mix1: vec4<f32>,      // ... of output channel 1
  row: array<vec4<f32>, 5>, // row[kx] = horizontal taps of filters 0..3
  col: array<vec4<f32>, 5>, // col[ky] = vertical taps of filters 0..3
}

@group(0) @binding(0) var<uniform> P: Params;
// 64x64 gray frames, 4 pixels per u32 (little-endian bytes), 1024 words per frame.
@group(0) @binding(1) var<storage, read> thumbs: array<u32>;
// 512 floats per frame, channel-major [c][gy][gx] (unnormalised pooled features).
@group(0) @binding(2) var<storage, read_write> pooled: array<f32>;

var<workgroup> isum: atomic<u32>;
var<workgroup> isq: atomic<u32>;
// Weights copied from the uniform block into private registers once per invocation: on
// lavapipe a uniform load in the inner loops costs more than the arithmetic it feeds.
var<private> r0: vec4<f32>;
var<private> r1: vec4<f32>;
var<private> r2: vec4<f32>;
var<private> r3: vec4<f32>;
var<private> r4: vec4<f32>;
var<private> c0: vec4<f32>;
var<private> c1: vec4<f32>;
var<private> c2: vec4<f32>;
var<private> c3: vec4<f32>;
var<private> c4: vec4<f32>;
var<private> m0v: vec4<f32>;
var<private> m1v: vec4<f32>;

// Byte `b` of word `w` as f32.
fn px(w: u32, b: u32) -> f32 {
  return f32((w >> (8u * b)) & 0xffu);
}

// Four horizontally filtered pixels of one row; each vec4 = the four filters.
struct H {
  p0: vec4<f32>,
  p1: vec4<f32>,
  p2: vec4<f32>,
  p3: vec4<f32>,
}

// Row `y` (-2..65) filtered horizontally at the 4 pixels of column block `cx` (zero padding).
fn hrow(base: u32, cx: u32, y: i32, mean: f32, inv: f32) -> H {
  if (y < 0 || y > 63) {
    let z = vec4<f32>(0.0);
    return H(z, z, z, z);
  }
  let rb = base + u32(y) * 16u + cx;
  let wl = select(0u, thumbs[rb - select(0u, 1u, cx > 0u)], cx > 0u);
  let wm = thumbs[rb];
  let wr = select(0u, thumbs[rb + select(0u, 1u, cx < 15u)], cx < 15u);
  let zl = select(0.0, 1.0, cx > 0u);
  let zr = select(0.0, 1.0, cx < 15u);
  // normalised pixels ox-2 .. ox+5 (zero outside the frame)
  let a0 = (px(wl, 2u) - mean) * inv * zl;
  let a1 = (px(wl, 3u) - mean) * inv * zl;
  let a2 = (px(wm, 0u) - mean) * inv;
  let a3 = (px(wm, 1u) - mean) * inv;
  let a4 = (px(wm, 2u) - mean) * inv;
  let a5 = (px(wm, 3u) - mean) * inv;
  let a6 = (px(wr, 0u) - mean) * inv * zr;
  let a7 = (px(wr, 1u) - mean) * inv * zr;
  return H(
    r0 * a0 + r1 * a1 + r2 * a2 + r3 * a3 + r4 * a4,
    r0 * a1 + r1 * a2 + r2 * a3 + r3 * a4 + r4 * a5,
    r0 * a2 + r1 * a3 + r2 * a4 + r3 * a5 + r4 * a6,
    r0 * a3 + r1 * a4 + r2 * a5 + r3 * a6 + r4 * a7,
  );
}

// relu + 1x1 mix of one vertically filtered pixel: (channel 0, channel 1).
fn mixed(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>, e: vec4<f32>) -> vec2<f32> {
  let v = c0 * a + c1 * b + c2 * c + c3 * d + c4 * e;
  let r = max(v, vec4<f32>(0.0));
  return vec2<f32>(dot(m0v, r), dot(m1v, r));
}

// One output row of the cell from five filtered rows: sums over its 4 pixels.
fn vrow(a: H, b: H, c: H, d: H, e: H) -> vec2<f32> {
  return mixed(a.p0, b.p0, c.p0, d.p0, e.p0) + mixed(a.p1, b.p1, c.p1, d.p1, e.p1) +
    mixed(a.p2, b.p2, c.p2, d.p2, e.p2) + mixed(a.p3, b.p3, c.p3, d.p3, e.p3);
}

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let frame = wg.x + wg.y * nwg.x;
  if (frame >= P.frames) {
    return; // uniform across the workgroup
  }
  let base = frame * 1024u;
  r0 = P.row[0];
  r1 = P.row[1];
  r2 = P.row[2];
  r3 = P.row[3];
  r4 = P.row[4];
  c0 = P.col[0];
  c1 = P.col[1];
  c2 = P.col[2];
  c3 = P.col[3];
  c4 = P.col[4];
  m0v = P.mix0;
  m1v = P.mix1;
  let cx = li % 16u;
  let blk = li / 16u;

  // 1. Exact statistics: each thread sums its 16 words (rows 16 blk .. 16 blk + 15, column cx).
  var s = 0u;
  for (var r = 0u; r < 16u; r++) {
    let w = thumbs[base + (blk * 16u + r) * 16u + cx];
    s += (w & 0xffu) + ((w >> 8u) & 0xffu) + ((w >> 16u) & 0xffu) + (w >> 24u);
  }
  atomicAdd(&isum, s);
  let total = workgroupUniformLoad(&isum);
  let m0 = i32((total + 2048u) / 4096u);
  var q = 0u;
  for (var r = 0u; r < 16u; r++) {
    let w = thumbs[base + (blk * 16u + r) * 16u + cx];
    for (var b = 0u; b < 4u; b++) {
      let d = i32((w >> (8u * b)) & 0xffu) - m0;
      q += u32(d * d);
    }
  }
  atomicAdd(&isq, q);
  let sq = workgroupUniformLoad(&isq);
  let mean = f32(total) / 4096.0;
  let dm = mean - f32(m0);
  let variance = (f32(sq) - 4096.0 * dm * dm) / 4096.0;
  let inv = 1.0 / sqrt(max(variance, 0.0) + P.eps2);

  // 2. Separable conv + relu + 1x1 mix + 4x4 average pool over 4 stacked cells; h0..h7 are the
  //    horizontally filtered rows oy-2 .. oy+5 of the current cell, kept in registers.
  let y0 = i32(blk * 16u);
  var h0 = hrow(base, cx, y0 - 2, mean, inv);
  var h1 = hrow(base, cx, y0 - 1, mean, inv);
  var h2 = hrow(base, cx, y0, mean, inv);
  var h3 = hrow(base, cx, y0 + 1, mean, inv);
  for (var c = 0u; c < 4u; c++) {
    let oy = y0 + i32(c * 4u);
    let h4 = hrow(base, cx, oy + 2, mean, inv);
    let h5 = hrow(base, cx, oy + 3, mean, inv);
    let h6 = hrow(base, cx, oy + 4, mean, inv);
    let h7 = hrow(base, cx, oy + 5, mean, inv);
    let sum = vrow(h0, h1, h2, h3, h4) + vrow(h1, h2, h3, h4, h5) + vrow(h2, h3, h4, h5, h6) +
      vrow(h3, h4, h5, h6, h7);
    let cell = (blk * 4u + c) * 16u + cx;
    pooled[frame * 512u + cell] = sum.x / 16.0;
    pooled[frame * 512u + 256u + cell] = sum.y / 16.0;
    h0 = h4;
    h1 = h5;
    h2 = h6;
    h3 = h7;
  }
}
