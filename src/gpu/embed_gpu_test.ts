// Parity of embed_conv.wgsl + l2norm.wgsl with their CPU twins, embedFrameReference and embedFrame.
// Runs on any WebGPU adapter (CI: Mesa lavapipe); skipped only when there is none.
import assert from "node:assert/strict";
import { EMBED_DIM, embedFrame, embedFrameReference } from "../embed.ts";
import { runKernelOnce } from "./device.ts";
import { GpuEmbedder } from "./embed_gpu.ts";
import {
  embedConvCpu,
  embedNetWeights,
  L2NORM_PARAMS_BYTES,
  l2NormQuantizeCpu,
  packL2NormParams,
} from "./kernels_cpu.ts";
import { gpuForTests, makeThumbs, maxIntDiff, relErr, rng } from "./test_util.ts";

const ctx = await gpuForTests("embed_gpu_test.ts");
const ignore = ctx === null;

Deno.test({
  name: "GpuEmbedder: pooled / unit / int8 match the CPU twins, the reference and embedFrame",
  ignore,
  async fn() {
    const n = 40;
    const thumbs = makeThumbs(n, 11);
    // maxBatch 16: three chunks, exercising the double-buffered readback
    const gpu = (await GpuEmbedder.create({ context: ctx!, maxBatch: 16 }))!;
    try {
      const pooled = new Float32Array(n * EMBED_DIM), unit = new Float32Array(n * EMBED_DIM);
      const quant = new Int8Array(n * EMBED_DIM);
      await gpu.embedBatchDetailed(thumbs, n, { pooled, unit, quant });
      const tp = new Float32Array(n * EMBED_DIM), tu = new Float32Array(n * EMBED_DIM);
      const tq = new Int8Array(n * EMBED_DIM);
      embedConvCpu(thumbs, n, embedNetWeights(), tp);
      l2NormQuantizeCpu(tp, n, EMBED_DIM, 127, tu, tq);
      const cpu = new Int8Array(EMBED_DIM);
      for (let f = 0; f < n; f++) {
        const o = f * EMBED_DIM;
        assert.ok(relErr(pooled, tp, EMBED_DIM, o, o) <= 1e-4, `pooled, frame ${f}`);
        const t = thumbs.subarray(f * 4096, (f + 1) * 4096);
        const ref = embedFrameReference(t);
        const e = relErr(unit, ref, EMBED_DIM, o);
        assert.ok(e <= 1e-4, `unit vs reference, frame ${f}: ${e}`);
        embedFrame(t, cpu);
        const q = quant.subarray(o, o + EMBED_DIM);
        assert.ok(maxIntDiff(q, cpu) <= 1, `int8 vs embedFrame, frame ${f}`);
        assert.ok(maxIntDiff(q, tq.subarray(o, o + EMBED_DIM)) <= 1, `int8 vs twin, frame ${f}`);
      }
      assert.ok(quant.subarray(EMBED_DIM, 2 * EMBED_DIM).every((v) => v === 0), "flat → zeros");
      // embedBatch (int8 only) gives the same vectors; n = 1 and n = 0 work
      const again = new Int8Array(n * EMBED_DIM);
      await gpu.embedBatch(thumbs, n, again);
      assert.deepEqual(again, quant);
      const one = new Int8Array(EMBED_DIM);
      await gpu.embedBatch(thumbs.subarray(5 * 4096), 1, one);
      assert.deepEqual(one, quant.subarray(5 * EMBED_DIM, 6 * EMBED_DIM));
      await gpu.embedBatch(thumbs, 0, one);
      await assert.rejects(() => gpu.embedBatch(thumbs, n + 1, again), RangeError);
    } finally {
      gpu.destroy();
    }
  },
});

Deno.test({
  name: "l2norm.wgsl matches l2NormQuantizeCpu on arbitrary vectors",
  ignore,
  async fn() {
    const n = 7, dim = 96;
    const r = rng(2);
    const x = new Float32Array(n * dim).map(() => (r() - 0.5) * 10);
    x.fill(0, 2 * dim, 3 * dim); // zero vector stays zero
    x[4 * dim + 5] = 1e3; // one dominant component
    const params = new ArrayBuffer(L2NORM_PARAMS_BYTES);
    packL2NormParams(n, dim, 127, params);
    const [y, q] = await runKernelOnce(ctx!, "l2norm", [
      { kind: "uniform", data: params },
      { kind: "input", data: x },
      { kind: "output", bytes: n * dim * 4 },
      { kind: "output", bytes: n * dim },
    ], n);
    const ty = new Float32Array(n * dim), tq = new Int8Array(n * dim);
    l2NormQuantizeCpu(x, n, dim, 127, ty, tq);
    assert.ok(relErr(new Float32Array(y), ty) <= 1e-6, `unit ${relErr(new Float32Array(y), ty)}`);
    assert.ok(maxIntDiff(new Int8Array(q), tq) <= 1);
    assert.ok(new Float32Array(y).subarray(2 * dim, 3 * dim).every((v) => v === 0));
  },
});
