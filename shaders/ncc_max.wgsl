// Running best NCC over images, per template and placement, from the inverse FFTs of
// ncc_cross.wgsl: for template k (of `kCount`) and placement i = v * mw + u of the
// `mw x mh` map, over the combos c = k * pairs + p of this dispatch (combo0 .. combo0 + combos - 1,
// in increasing order), the NCC of image 2(pair0 + p) is work[c - combo0][v * fw + u].x *
// inv[image][i] * tqi[k] and that of image 2(pair0 + p) + 1 uses .y (when it exists). The best
// value and its image index (ties: the lowest index) are kept in outp[outBase + k * n + i] as
// (bitcast value, image); the first dispatch of a template (pair0 + p = 0) starts from -2.
// inv[invBase + image * n + i] = 1 / the window's standard deviation (0 when flat), and
// tqi[tqiBase + k] = 1 / sqrt(template sum of squares); n = mw * mh.
// CPU twin: nccMaxCpu in src/gpu/kernels_cpu.ts.

struct Params {
  mw: u32,
  mh: u32,
  fw: u32,      // row stride of the work surfaces
  count: u32,   // complex values per work surface
  pairs: u32,   // image pairs per template in the combo numbering
  pair0: u32,   // global index of pair p = 0 (images 2 pair0, 2 pair0 + 1)
  images: u32,  // total images (the last pair may have no second image)
  combo0: u32,
  combos: u32,
  kCount: u32,
  invBase: u32, // inv index of image 2 pair0 at i = 0
  tqiBase: u32,
  outBase: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
var<private> C: Params;
@group(0) @binding(1) var<storage, read> work: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> inv: array<f32>;
@group(0) @binding(3) var<storage, read> tqi: array<f32>;
@group(0) @binding(4) var<storage, read_write> outp: array<vec2<u32>>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  C = P;
  let g = gid.x + gid.y * nwg.x * 256u;
  let n = C.mw * C.mh;
  if (g >= C.kCount * n) {
    return;
  }
  let k = g / n;
  let i = g - k * n;
  let v = i / C.mw;
  let u = i - v * C.mw;
  let first = k * C.pairs;
  let cLo = max(C.combo0, first);
  let cHi = min(C.combo0 + C.combos, first + C.pairs);
  if (cLo >= cHi) {
    return;
  }
  let o = C.outBase + k * n + i;
  var best = -2.0;
  var arg = 0u;
  if (C.pair0 + (cLo - first) != 0u) {
    let prev = outp[o];
    best = bitcast<f32>(prev.x);
    arg = prev.y;
  }
  let t = tqi[C.tqiBase + k];
  let e = v * C.fw + u;
  for (var c = cLo; c < cHi; c++) {
    let img = 2u * (c - first);
    let w = work[(c - C.combo0) * C.count + e];
    let va = w.x * inv[C.invBase + img * n + i] * t;
    if (va > best) {
      best = va;
      arg = 2u * C.pair0 + img;
    }
    if (2u * C.pair0 + img + 1u < C.images) {
      let vb = w.y * inv[C.invBase + (img + 1u) * n + i] * t;
      if (vb > best) {
        best = vb;
        arg = 2u * C.pair0 + img + 1u;
      }
    }
  }
  outp[o] = vec2<u32>(bitcast<u32>(best), arg);
}
