// Batched int8 dot products over a band (DTW band costs): for band row r, the a-vector
// rowA[r] against the b-vectors jLo[r] .. jLo[r] + count[r] - 1, written to
// out[rowOut[r] + j]. Vectors are int8 packed 4 per u32 (dim4 words each). With scaled = 1 the
// dot is multiplied by invA[rowA[r]] * invB[j] (cosines from the stores' inverse norms). The i32
// dot is converted to f32, exactly while dim * 127^2 < 2^24 (dim <= 1040); dim4 <= 1024.
// Workgroups are (row, 64-column chunk) pairs; the a-vector is staged in workgroup memory.
// CPU twin: batchDistanceCpu in src/gpu/kernels_cpu.ts.

struct Params {
  dim4: u32,
  rows: u32,
  chunks: u32,   // 64-wide column chunks per row (ceil(max count / 64))
  scaled: u32,
}

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
// per row: (rowA, jLo, count, rowOut)
@group(0) @binding(3) var<storage, read> band: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> invA: array<f32>;
@group(0) @binding(5) var<storage, read> invB: array<f32>;
@group(0) @binding(6) var<storage, read_write> outp: array<f32>;

var<workgroup> arow: array<u32, 1024>;

@compute @workgroup_size(64, 1, 1)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let dim4 = P.dim4; // uniforms read once (cheaper on lavapipe)
  let chunks = P.chunks;
  let g = wg.x + wg.y * nwg.x;
  let r = g / chunks;
  if (r >= P.rows) {
    return;
  }
  let row = band[r];
  let ab = row.x * dim4;
  for (var w = li; w < dim4; w += 64u) {
    arow[w] = a[ab + w];
  }
  workgroupBarrier();
  let j = (g % chunks) * 64u + li;
  if (j >= row.z) {
    return;
  }
  let jj = row.y + j;
  let bb = jj * dim4;
  var s0 = 0;
  var s1 = 0;
  var s2 = 0;
  var s3 = 0;
  var w = 0u;
  for (; w + 4u <= dim4; w += 4u) {
    s0 += dot4I8Packed(arow[w], b[bb + w]);
    s1 += dot4I8Packed(arow[w + 1u], b[bb + w + 1u]);
    s2 += dot4I8Packed(arow[w + 2u], b[bb + w + 2u]);
    s3 += dot4I8Packed(arow[w + 3u], b[bb + w + 3u]);
  }
  for (; w < dim4; w++) {
    s0 += dot4I8Packed(arow[w], b[bb + w]);
  }
  var v = f32((s0 + s1) + (s2 + s3));
  if (P.scaled != 0u) {
    v = v * invA[row.x] * invB[jj];
  }
  outp[row.w + j] = v;
}
