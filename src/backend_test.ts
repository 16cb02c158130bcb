import assert from "node:assert/strict";
import {
  chooseBackend,
  createBandDistance,
  createCorrelator,
  createEmbedder,
  FALLBACK_CHOICE,
  noGpuDevice,
  parseBackend,
} from "./backend.ts";
import { CpuBandDistance } from "./dtw.ts";
import { EMBED_DIM, embedFrame } from "./embed.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import { CpuNccCorrelator } from "./ncc.ts";
import { VidkompyError } from "./errors.ts";
import { acquireGpu } from "./gpu/device.ts";
import { makeThumbs, maxIntDiff, rng } from "./gpu/test_util.ts";

const gpu = await acquireGpu();

Deno.test("parseBackend accepts auto, webgpu, cpu and rejects anything else", () => {
  for (const b of ["auto", "webgpu", "cpu"]) assert.equal(parseBackend(b), b);
  assert.throws(() => parseBackend("cuda"), (e) => e instanceof VidkompyError && e.exitCode === 2);
});

Deno.test("chooseBackend: cpu, auto (per adapter kind) and webgpu", async () => {
  const stages = (c: { embed: string; fft: string; distance: string }) => [
    c.embed,
    c.fft,
    c.distance,
  ];
  assert.deepEqual(
    { ...(await chooseBackend("cpu")), reason: "" },
    { embed: "cpu", fft: "cpu", distance: "cpu", reason: "" },
  );
  const auto = await chooseBackend("auto");
  if (!gpu) {
    assert.deepEqual(stages(auto), ["cpu", "cpu", "cpu"]);
    await assert.rejects(() => chooseBackend("webgpu"), VidkompyError);
  } else {
    const want = gpu.adapter.isFallbackAdapter
      ? FALLBACK_CHOICE
      : { embed: "webgpu", fft: "webgpu", distance: "webgpu" };
    assert.deepEqual(stages(auto), stages(want));
    const forced = await chooseBackend("webgpu");
    assert.deepEqual(stages(forced), ["webgpu", "webgpu", "webgpu"]);
  }
  assert.ok(auto.reason.length > 0);
  // without a GPU device, auto does not even load a (software) WebGPU driver
  if (await noGpuDevice()) assert.match(auto.reason, /^no GPU device/);
});

Deno.test("createCorrelator / createBandDistance: every available kind, same answers", async () => {
  const r = rng(4);
  const W = 40, H = 24, img = () => new Float32Array(W * H).map(() => r() * 100);
  const images = [img(), img(), img()];
  const tpl = new Float32Array(10 * 6);
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 10; x++) tpl[y * 10 + x] = images[1][(y + 7) * W + x + 20];
  }
  const batches = [{ width: 10, height: 6, templates: [tpl, null] }];
  const want = new CpuNccCorrelator().bestOverSync(images, W, H, batches);
  const dim = 16, fg = new EmbeddingStore(8, dim), bg = new EmbeddingStore(8, dim);
  for (let i = 0; i < 8; i++) {
    fg.push(new Int8Array(dim).map(() => Math.floor(r() * 255) - 127));
    bg.push(new Int8Array(dim).map(() => Math.floor(r() * 255) - 127));
  }
  const jLo = new Int32Array([0, 2, 5]), jHi = new Int32Array([3, 4, 7]);
  const dots = new Float32Array(10);
  await new CpuBandDistance().bandDots(fg, bg, 2, jLo, jHi, dots);
  const kinds = gpu ? (["cpu", "webgpu", "auto"] as const) : (["cpu", "auto"] as const);
  for (const kind of kinds) {
    const c = await createCorrelator(kind);
    const d = await createBandDistance(kind);
    try {
      if (kind !== "auto") assert.equal(c.kind, kind);
      if (kind !== "auto") assert.equal(d.kind, kind);
      const got = await c.bestOver(images, W, H, batches);
      assert.equal(got[0][1], null);
      assert.deepEqual(got[0][0]!.arg, want[0][0]!.arg, kind);
      const peak = want[0][0]!.max.indexOf(Math.max(...want[0][0]!.max));
      assert.equal(peak, 7 * (W - 10 + 1) + 20);
      assert.ok(Math.abs(got[0][0]!.max[peak] - want[0][0]!.max[peak]) < 1e-5);
      const out = new Float32Array(10);
      await d.bandDots(fg, bg, 2, jLo, jHi, out);
      assert.deepEqual(out, dots, kind);
    } finally {
      c.destroy();
      d.destroy();
    }
  }
  if (!gpu) {
    await assert.rejects(() => createCorrelator("webgpu"), VidkompyError);
    await assert.rejects(() => createBandDistance("webgpu"), VidkompyError);
  }
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
