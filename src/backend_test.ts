import assert from "node:assert/strict";
import { chooseBackend, createEmbedder, FALLBACK_CHOICE, parseBackend } from "./backend.ts";
import { EMBED_DIM, embedFrame } from "./embed.ts";
import { VidkompyError } from "./errors.ts";
import { acquireGpu } from "./gpu/device.ts";
import { makeThumbs, maxIntDiff } from "./gpu/test_util.ts";

const gpu = await acquireGpu();

Deno.test("parseBackend accepts auto, webgpu, cpu and rejects anything else", () => {
  for (const b of ["auto", "webgpu", "cpu"]) assert.equal(parseBackend(b), b);
  assert.throws(() => parseBackend("cuda"), (e) => e instanceof VidkompyError && e.exitCode === 2);
});

Deno.test("chooseBackend: cpu, auto (per adapter kind) and webgpu", async () => {
  assert.deepEqual(
    { ...(await chooseBackend("cpu")), reason: "" },
    { embed: "cpu", fft: "cpu", reason: "" },
  );
  const auto = await chooseBackend("auto");
  if (!gpu) {
    assert.deepEqual([auto.embed, auto.fft], ["cpu", "cpu"]);
    await assert.rejects(() => chooseBackend("webgpu"), VidkompyError);
  } else {
    const want = gpu.adapter.isFallbackAdapter
      ? FALLBACK_CHOICE
      : { embed: "webgpu", fft: "webgpu" };
    assert.deepEqual([auto.embed, auto.fft], [want.embed, want.fft]);
    const forced = await chooseBackend("webgpu");
    assert.deepEqual([forced.embed, forced.fft], ["webgpu", "webgpu"]);
  }
  assert.ok(auto.reason.length > 0);
});

Deno.test("createEmbedder: every available kind gives embedFrame's vectors (±1)", async () => {
  const n = 9;
  const thumbs = makeThumbs(n, 3);
  const want = new Int8Array(n * EMBED_DIM);
  for (let i = 0; i < n; i++) {
    embedFrame(thumbs.subarray(i * 4096, (i + 1) * 4096), want, i * EMBED_DIM);
  }
  const kinds = gpu ? (["cpu", "webgpu", "auto"] as const) : (["cpu", "auto"] as const);
  for (const kind of kinds) {
    const e = await createEmbedder(kind);
    try {
      assert.equal(e.dim, EMBED_DIM);
      const out = new Int8Array(n * EMBED_DIM);
      await e.embedBatch(thumbs, n, out);
      assert.ok(maxIntDiff(out, want) <= 1, kind);
      if (e.kind === "cpu") assert.deepEqual(out, want);
    } finally {
      e.destroy();
    }
  }
  if (!gpu) await assert.rejects(() => createEmbedder("webgpu"), VidkompyError);
});
