import assert from "node:assert/strict";
import { EMBED_DIM, embedFrame, embedFrameReference } from "./embed.ts";
import { makeThumbs, maxIntDiff, relErr } from "./gpu/test_util.ts";
import { loadDefaultOnnxEmbedder, loadOnnxEmbedder, quantiseMaxAbs } from "./onnx_embed.ts";

// onnxruntime-web keeps its wasm instance (and possibly worker threads) for the whole process.
const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "default ONNX model (onnxruntime-web, wasm) matches embedFrameReference and embedFrame",
  ...opts,
  async fn() {
    const n = 10;
    const thumbs = makeThumbs(n, 21);
    const e = await loadDefaultOnnxEmbedder({ maxBatch: 4 });
    try {
      assert.equal(e.dim, EMBED_DIM);
      const f = new Float32Array(n * EMBED_DIM);
      await e.embedFloat(thumbs, n, f);
      const q = new Int8Array(n * EMBED_DIM);
      await e.embedBatch(thumbs, n, q);
      const cpu = new Int8Array(EMBED_DIM);
      for (let i = 0; i < n; i++) {
        const t = thumbs.subarray(i * 4096, (i + 1) * 4096);
        const err = relErr(f, embedFrameReference(t), EMBED_DIM, i * EMBED_DIM);
        assert.ok(err <= 1e-4, `frame ${i}: ${err}`);
        embedFrame(t, cpu);
        assert.ok(maxIntDiff(q.subarray(i * EMBED_DIM, (i + 1) * EMBED_DIM), cpu) <= 1);
      }
      assert.ok(q.subarray(EMBED_DIM, 2 * EMBED_DIM).every((v) => v === 0), "flat → zeros");
    } finally {
      e.destroy();
    }
  },
});

Deno.test({
  name: "loadOnnxEmbedder reads models/embed.onnx by path and rejects a broken model",
  ...opts,
  async fn() {
    const path = new URL("../models/embed.onnx", import.meta.url).pathname;
    const e = await loadOnnxEmbedder(path);
    assert.equal(e.dim, EMBED_DIM);
    e.destroy();
    await assert.rejects(
      () => loadOnnxEmbedder(new Uint8Array([1, 2, 3, 4])),
      /cannot use ONNX model/,
    );
  },
});

Deno.test("quantiseMaxAbs: like embed.ts, zeros for zero / non-finite vectors", () => {
  const out = new Int8Array(8);
  quantiseMaxAbs(new Float32Array([0.5, -1, 0.25, 0]), 4, out, 2);
  assert.deepEqual([...out], [0, 0, 64, -127, 32, 0, 0, 0]);
  quantiseMaxAbs(new Float32Array([NaN, 1, 0, 0]), 4, out, 0);
  assert.deepEqual([...out.subarray(0, 4)], [0, 0, 0, 0]);
});
