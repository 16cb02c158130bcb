// Cross-power spectrum for phase correlation. Spectra of `pairs` image pairs are stored as
// images 2p (a) and 2p+1 (b), `count` complex values each; out[p] = a * conj(b), and in phase
// mode (mode 1) divided by (|a * conj(b)| + eps[p]) (eps per pair, absolute).
// CPU twin: crossPowerCpu in src/gpu/kernels_cpu.ts.

struct Params {
  count: u32,
  pairs: u32,
  mode: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Private copy of the uniforms, made once per invocation (uniform loads in loops are slow on
// lavapipe); control flow around barriers must still test P (uniformity analysis).
var<private> C: Params;
@group(0) @binding(1) var<storage, read> spec: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> outp: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> eps: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  C = P;
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= C.count * C.pairs) {
    return;
  }
  let p = i / C.count;
  let k = i % C.count;
  let a = spec[2u * p * C.count + k];
  let b = spec[(2u * p + 1u) * C.count + k];
  var r = vec2<f32>(a.x * b.x + a.y * b.y, a.y * b.x - a.x * b.y);
  if (C.mode == 1u) {
    r = r / (sqrt(r.x * r.x + r.y * r.y) + eps[p]);
  }
  outp[i] = r;
}
