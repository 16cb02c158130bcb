// Cross-correlation spectra for FFT NCC: every template against every packed image pair.
// `bg` holds `pairs` spectra of image pairs (image 2p as real part, 2p+1 as imaginary part, one
// complex FFT each); `tpl` holds template spectra (real, zero-mean templates). Combo
// c = k * pairs + p (template tplBase + k, pair p); this dispatch writes combos
// combo0 .. combo0 + combos - 1 to work[(c - combo0) * count + e] = bg[p][e] * conj(tpl[k][e]).
// Since the templates are real, the inverse FFT of a combo yields the correlations with image 2p
// (real part) and 2p+1 (imaginary part).
// CPU twin: nccCrossCpu in src/gpu/kernels_cpu.ts.

struct Params {
  count: u32,   // complex values per spectrum (fftWidth * fftHeight)
  pairs: u32,   // image pairs in `bg`
  combo0: u32,  // first combo of this dispatch
  combos: u32,  // combos in this dispatch
  tplBase: u32, // index in `tpl` of template k = 0
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Private copy of the uniforms, made once per invocation (uniform loads are slow on lavapipe).
var<private> C: Params;
@group(0) @binding(1) var<storage, read> bg: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> tpl: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> work: array<vec2<f32>>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  C = P;
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= C.combos * C.count) {
    return;
  }
  let local = i / C.count;
  let e = i - local * C.count;
  let c = C.combo0 + local;
  let k = c / C.pairs;
  let p = c - k * C.pairs;
  let x = bg[p * C.count + e];
  let y = tpl[(C.tplBase + k) * C.count + e];
  work[i] = vec2<f32>(x.x * y.x + x.y * y.y, x.y * y.x - x.x * y.y);
}
