// Parity of batch_distance.wgsl with batchDistanceCpu (bit-exact: integer dots, f32 scaling).
import assert from "node:assert/strict";
import { GpuBandDistance } from "./distance_gpu.ts";
import { batchDistanceCpu, packBandRows } from "./kernels_cpu.ts";
import { gpuForTests, rng } from "./test_util.ts";

const ctx = await gpuForTests("distance_gpu_test.ts");

Deno.test({
  name: "batch_distance.wgsl equals batchDistanceCpu (dots and cosines, ragged band)",
  ignore: ctx === null,
  async fn() {
    const r = rng(12);
    const dist = (await GpuBandDistance.create({ context: ctx! }))!;
    try {
      for (const [dim, na, nb] of [[512, 150, 400], [36, 5, 7]]) {
        const a = new Int8Array(na * dim).map(() => Math.floor(r() * 256) - 128);
        const b = new Int8Array(nb * dim).map(() => Math.floor(r() * 256) - 128);
        a.fill(-128, 0, dim); // extreme values
        b.fill(-128, 0, dim);
        const idx: number[] = [], lo: number[] = [], hi: number[] = [];
        for (let i = 0; i < na; i++) {
          idx.push(i);
          const c = Math.floor((i * nb) / na);
          lo.push(Math.max(0, c - 3 - (i % 90)));
          hi.push(i === 2 ? -1 : Math.min(nb - 1, c + 2 + (i % 70))); // row 2 is empty
        }
        const band = packBandRows(idx, lo, hi);
        const ia = new Float32Array(na).map(() => r() / 1000);
        const ib = new Float32Array(nb).map(() => r() / 1000);
        for (const scaled of [false, true]) {
          dist.upload(a, na, b, nb, dim, scaled ? ia : null, scaled ? ib : null);
          const got = new Float32Array(band.total), want = new Float32Array(band.total);
          await dist.run(band, got);
          batchDistanceCpu(a, b, dim, band, scaled ? ia : null, scaled ? ib : null, want);
          assert.deepEqual(got, want, `dim ${dim} scaled=${scaled}`);
        }
      }
      await assert.rejects(
        () => dist.run(packBandRows([0], [6], [7]), new Float32Array(2)),
        RangeError,
      );
    } finally {
      dist.destroy();
    }
  },
});
