/**
 * `deno run --allow-all bench/kernels_bench.ts [--seconds S]`: per-kernel throughput, CPU vs
 * WGSL (WebGPU) vs onnxruntime-web, printed as a markdown table.
 *
 * - embedding: frames/s at batch sizes 1, 64, 512, 2048 (CPU = `embedFrame`, WGSL = `GpuEmbedder`,
 *   ONNX = the default model through onnxruntime-web's wasm backend);
 * - phase correlation: ms per image pair at 64², 128², 256² (CPU = src/fft.ts, WGSL = 2-D FFTs +
 *   cross power + inverse + peak on the GPU, batches of 16 pairs), and one forward 2-D FFT;
 * - band distances: GFLOP/s of int8 dot products (2 × dim flops per cell), CPU = `dotInt8`.
 *
 * Each cell is the best of repeated timings over about `--seconds` (default 1) per cell, after a
 * warm-up call (pipeline compilation excluded).
 * @module
 */
import { parseArgs } from "node:util";
import { EMBED_DIM, embedFrame } from "../src/embed.ts";
import { dotInt8 } from "../src/embedding_store.ts";
import { Fft2D } from "../src/fft.ts";
import { acquireGpu, gpuUnavailableReason } from "../src/gpu/device.ts";
import { GpuBandDistance } from "../src/gpu/distance_gpu.ts";
import { GpuEmbedder } from "../src/gpu/embed_gpu.ts";
import { GpuPhaseCorrelator, phaseCorrelateCpu } from "../src/gpu/fft_gpu.ts";
import { packBandRows } from "../src/gpu/kernels_cpu.ts";
import { loadDefaultOnnxEmbedder } from "../src/onnx_embed.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "1" } },
});
const SECONDS = Number(values.seconds);

/** Best time (ms) of `fn` over about SECONDS (at least 3 runs), after one warm-up call. */
async function best(fn: () => Promise<void> | void): Promise<number> {
  await fn();
  let b = Infinity;
  const end = performance.now() + SECONDS * 1000;
  let runs = 0;
  while (runs < 3 || performance.now() < end) {
    const t0 = performance.now();
    await fn();
    b = Math.min(b, performance.now() - t0);
    runs++;
  }
  return b;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function thumbs(n: number): Uint8Array {
  const r = rng(7);
  const t = new Uint8Array(n * 4096);
  for (let f = 0; f < n; f++) {
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const v = 128 + 70 * Math.sin((x + 2 * f) / 6) * Math.cos(y / 9) + 30 * (r() - 0.5);
        t[f * 4096 + y * 64 + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return t;
}

const fmt = (v: number | null, digits = 0) =>
  v === null
    ? "n/a"
    : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const ctx = await acquireGpu();
const adapter = ctx
  ? `${ctx.adapter.description}${ctx.adapter.isFallbackAdapter ? " (fallback adapter)" : ""}`
  : `none (${gpuUnavailableReason()})`;
const rows: string[] = [];

// ---- embedding ----
const gpuEmb = ctx ? await GpuEmbedder.create({ context: ctx }) : null;
let onnx = null;
try {
  onnx = await loadDefaultOnnxEmbedder();
} catch (e) {
  console.error(`onnxruntime-web unavailable: ${e instanceof Error ? e.message : e}`);
}
for (const n of [1, 64, 512, 2048]) {
  const t = thumbs(n);
  const out = new Int8Array(n * EMBED_DIM);
  const cpu = await best(() => {
    for (let i = 0; i < n; i++) {
      embedFrame(t.subarray(i * 4096, (i + 1) * 4096), out, i * EMBED_DIM);
    }
  });
  const gpu = gpuEmb ? await best(() => gpuEmb.embedBatch(t, n, out)) : null;
  const ox = onnx ? await best(() => onnx!.embedBatch(t, n, out)) : null;
  const fps = (ms: number | null) => (ms === null ? null : (n / ms) * 1000);
  rows.push(
    `| embed, batch ${n} | frames/s | ${fmt(fps(cpu))} | ${fmt(fps(gpu))} | ${fmt(fps(ox))} |`,
  );
}
gpuEmb?.destroy();
onnx?.destroy();

// ---- FFT / phase correlation ----
for (const s of [64, 128, 256]) {
  const pairs = 16;
  const r = rng(s);
  const a = new Float32Array(pairs * s * s).map(() => r() * 255);
  const b = new Float32Array(pairs * s * s).map(() => r() * 255);
  const cpu = await best(() => void phaseCorrelateCpu(a, b, pairs, s, s));
  const corr = ctx
    ? await GpuPhaseCorrelator.create(s, s, { context: ctx, maxPairs: pairs })
    : null;
  const gpu = corr ? await best(() => corr.correlate(a, b, pairs).then(() => {})) : null;
  corr?.destroy();
  const fft = new Fft2D(s, s);
  const re = new Float64Array(s * s).map(() => r()), im = new Float64Array(s * s);
  const fftCpu = await best(() => fft.forward(re, im));
  rows.push(
    `| phase correlation ${s}², ${pairs} pairs/batch | ms per pair | ${fmt(cpu / pairs, 3)} | ${
      fmt(gpu === null ? null : gpu / pairs, 3)
    } | — |`,
  );
  rows.push(`| forward 2-D FFT ${s}² (CPU only, complex) | ms | ${fmt(fftCpu, 3)} | — | — |`);
}

// ---- band distances ----
{
  const dim = EMBED_DIM, na = 2000, nb = 2000, half = 100;
  const r = rng(3);
  const a = new Int8Array(na * dim).map(() => Math.floor(r() * 255) - 127);
  const b = new Int8Array(nb * dim).map(() => Math.floor(r() * 255) - 127);
  const idx: number[] = [], lo: number[] = [], hi: number[] = [];
  for (let i = 0; i < na; i++) {
    idx.push(i);
    lo.push(Math.max(0, i - half));
    hi.push(Math.min(nb - 1, i + half));
  }
  const band = packBandRows(idx, lo, hi);
  const out = new Float32Array(band.total);
  const cpu = await best(() => {
    const rows = band.rows;
    for (let q = 0; q < band.count; q++) {
      const ai = rows[4 * q], j0 = rows[4 * q + 1], w = rows[4 * q + 2], o = rows[4 * q + 3];
      for (let j = 0; j < w; j++) out[o + j] = dotInt8(a, ai * dim, b, (j0 + j) * dim, dim);
    }
  });
  const dist = ctx ? await GpuBandDistance.create({ context: ctx }) : null;
  dist?.upload(a, na, b, nb, dim);
  const gpu = dist ? await best(() => dist.run(band, out)) : null;
  dist?.destroy();
  const gflops = (ms: number | null) => (ms === null ? null : (2 * dim * band.total) / ms / 1e6);
  rows.push(
    `| band distances (${band.total} cells × ${dim}) | GFLOP/s | ${fmt(gflops(cpu), 2)} | ${
      fmt(gflops(gpu), 2)
    } | — |`,
  );
}

console.log(`# kernel throughput\n`);
console.log(
  `${
    new Date().toISOString()
  }, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, ` +
    `WebGPU adapter: ${adapter}\n`,
);
console.log("| kernel | unit | CPU (TS) | WGSL (WebGPU) | onnxruntime-web (wasm) |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
