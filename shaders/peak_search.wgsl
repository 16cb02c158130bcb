// Argmax of the real parts of `images` complex images of `count` values (one workgroup per
// image). Ties go to the lowest index; NaNs are never chosen (an all-NaN image yields index 0,
// value -inf as f32 bits). out[img] = (index, bitcast<u32>(value)).
// CPU twin: peakSearchCpu in src/gpu/kernels_cpu.ts.

struct Params {
  count: u32,
  images: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
// Private copy of the uniforms, made once per invocation (uniform loads in loops are slow on
// lavapipe); control flow around barriers must still test P (uniformity analysis).
var<private> C: Params;
@group(0) @binding(1) var<storage, read> data: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> outp: array<vec2<u32>>;

var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;

@compute @workgroup_size(256, 1, 1)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  C = P;
  let img = wg.x + wg.y * nwg.x;
  if (img >= P.images) { // uniform
    return;
  }
  let base = img * C.count;
  var best = bitcast<f32>(0xff800000u); // -inf
  var idx = 0u;
  for (var k = li; k < C.count; k += 256u) {
    let v = data[base + k].x;
    if (v > best) {
      best = v;
      idx = k;
    }
  }
  bv[li] = best;
  bi[li] = idx;
  workgroupBarrier();
  for (var st = 128u; st > 0u; st >>= 1u) {
    if (li < st) {
      let v = bv[li + st];
      let j = bi[li + st];
      if (v > bv[li] || (v == bv[li] && j < bi[li])) {
        bv[li] = v;
        bi[li] = j;
      }
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    outp[img] = vec2<u32>(bi[0], bitcast<u32>(bv[0]));
  }
}
