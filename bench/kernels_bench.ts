/**
 * `deno task bench kernels [--seconds S]` (or `deno run --allow-all bench/kernels_bench.ts
 * [--seconds S]`): per-kernel and per-stage throughput, CPU vs WGSL (WebGPU) (vs
 * onnxruntime-web for the embedding), as a markdown table with the faster backend of each row.
 *
 * Kernels:
 * - embedding: frames/s at batch sizes 1, 64, 512, 2048 (CPU = `embedFrame`, WGSL = `GpuEmbedder`,
 *   ONNX = the default model through onnxruntime-web's wasm backend);
 * - phase correlation: ms per image pair at 64², 128², 256² (CPU = src/fft.ts, WGSL = 2-D FFTs +
 *   cross power + inverse + peak on the GPU, batches of 16 pairs);
 * - FFT NCC best-match maps (the spatial search's FFT work): ms per template × image at
 *   64², 128², 256² grids, 5 templates × 20 images per call (CPU = `CpuNccCorrelator`, WGSL =
 *   `GpuNccCorrelator`);
 * - band distances: M cells/s of int8 dots (dim 512), 2000 × 201 band (CPU = `dotInt8`, WGSL =
 *   `GpuBandDistance.run`, vectors already uploaded).
 *
 * Stages:
 * - spatial search: 5 fg samples vs 20 bg frames at 320×180 (`searchSpatialAsync` with
 *   `CpuNccCorrelator` vs `GpuNccCorrelator`), and the time its coarse FFT NCC calls took;
 * - band similarities: `bandSimilarities` vs `bandSimilaritiesAsync` with a fresh
 *   `GpuDtwDistance` (upload + dots + cosines), 20 000 fg frames × 61-frame band.
 *
 * Each cell is the best of repeated timings over about `--seconds` (default 1) per cell, after a
 * warm-up call (pipeline compilation excluded). "faster" compares CPU and WGSL only.
 * @module
 */
import { parseArgs } from "node:util";
import { bandSimilarities, bandSimilaritiesAsync } from "../src/dtw.ts";
import { EMBED_DIM, embedFrame } from "../src/embed.ts";
import { dotInt8, EmbeddingStore } from "../src/embedding_store.ts";
import { acquireGpu, gpuUnavailableReason } from "../src/gpu/device.ts";
import { GpuBandDistance, GpuDtwDistance } from "../src/gpu/distance_gpu.ts";
import { GpuEmbedder } from "../src/gpu/embed_gpu.ts";
import { GpuPhaseCorrelator, phaseCorrelateCpu } from "../src/gpu/fft_gpu.ts";
import { packBandRows } from "../src/gpu/kernels_cpu.ts";
import { GpuNccCorrelator } from "../src/gpu/ncc_gpu.ts";
import type { GrayImage } from "../src/gray_image.ts";
import { CpuNccCorrelator, type NccBatch, type NccCorrelator } from "../src/ncc.ts";
import { loadDefaultOnnxEmbedder } from "../src/onnx_embed.ts";
import { searchSpatialAsync } from "../src/spatial_search.ts";
import { makeTexture, TEXTURE_SIZE } from "../src/synth_video_fixture.ts";

/** Options of {@link kernelsBench}. */
export interface KernelsBenchOptions {
  /** Seconds of repeated timing per cell (default 1). */
  seconds?: number;
  /** Progress lines go here (default: stderr). */
  log?: (line: string) => void;
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

/** Bilinear sample of a wrapping texture. */
function tex(t: Float32Array, u: number, v: number): number {
  const n = TEXTURE_SIZE;
  const x0 = Math.floor(u), y0 = Math.floor(v), fx = u - x0, fy = v - y0;
  const at = (x: number, y: number) => t[(((y % n) + n) % n) * n + (((x % n) + n) % n)];
  const a = at(x0, y0), b = at(x0 + 1, y0), c = at(x0, y0 + 1), d = at(x0 + 1, y0 + 1);
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

/**
 * A moving synthetic scene at 320×180: a still texture under a drifting translucent one; bg
 * frames at t = 0..19, fg samples (a 200×112 crop at (61, 37), noisy) at or near 5 of them.
 */
function spatialProblem(): { fg: GrayImage[]; bg: GrayImage[] } {
  const still = makeTexture(11), layer = makeTexture(12);
  const r = rng(5);
  const frame = (t: number, w: number, h: number, x0: number, y0: number, noise: number) => {
    const data = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const u = x + x0, v = y + y0;
        const s = 0.6 * tex(still, 1.1 * u, 1.1 * v) +
          0.4 * tex(layer, 0.8 * u - 1.5 * t, 0.8 * v - 0.5 * t);
        const val = 255 * (1.6 * s - 0.3) + noise * (r() - 0.5);
        data[y * w + x] = Math.max(0, Math.min(255, Math.round(val)));
      }
    }
    return { width: w, height: h, data };
  };
  const bg = Array.from({ length: 20 }, (_, t) => frame(t, 320, 180, 0, 0, 4));
  const fg = [1.1, 5, 9.1, 13.9, 17].map((t) => frame(t, 200, 112, 61, 37, 6));
  return { fg, bg };
}

/**
 * Runs the bench and returns the markdown (a context line and the table). Needs WebGPU for the
 * WGSL column (n/a otherwise).
 */
export async function kernelsBench(opts: KernelsBenchOptions = {}): Promise<string> {
  const seconds = opts.seconds ?? 1;
  const log = opts.log ?? ((l: string) => console.error(l));

  /**
   * Best time (ms) of `fn` over about `seconds`, after one warm-up call: at least 3 timed runs,
   * or 1 when a call takes longer than a third of `seconds`.
   */
  const best = async (fn: () => Promise<unknown> | unknown): Promise<number> => {
    const w0 = performance.now();
    await fn();
    const minRuns = performance.now() - w0 > (seconds * 1000) / 3 ? 1 : 3;
    let b = Infinity;
    const end = performance.now() + seconds * 1000;
    let runs = 0;
    while (runs < minRuns || performance.now() < end) {
      const t0 = performance.now();
      await fn();
      b = Math.min(b, performance.now() - t0);
      runs++;
    }
    return b;
  };
  const fmt = (v: number | null, digits = 0) =>
    v === null ? "n/a" : v.toLocaleString("en-US", {
      maximumFractionDigits: digits,
      minimumFractionDigits: digits,
    });
  /** "CPU ×2.1" / "WGSL ×1.3": which is faster, by how much (`higherIsBetter` per unit). */
  const faster = (cpu: number | null, gpu: number | null, higherIsBetter: boolean) => {
    if (cpu === null || gpu === null) return "—";
    const r = higherIsBetter ? cpu / gpu : gpu / cpu;
    return r >= 1 ? `CPU ×${r.toFixed(1)}` : `WGSL ×${(1 / r).toFixed(1)}`;
  };

  const ctx = await acquireGpu();
  const adapter = ctx
    ? `${ctx.adapter.description}${ctx.adapter.isFallbackAdapter ? " (fallback adapter)" : ""}`
    : `none (${gpuUnavailableReason()})`;
  const rows: string[] = [];
  const row = (
    what: string,
    unit: string,
    cpu: number | null,
    gpu: number | null,
    higherIsBetter: boolean,
    digits: number,
    onnx: number | null | undefined = undefined,
  ) => {
    const line = `| ${what} | ${unit} | ${fmt(cpu, digits)} | ${fmt(gpu, digits)} | ${
      onnx === undefined ? "—" : fmt(onnx, digits)
    } | ${faster(cpu, gpu, higherIsBetter)} |`;
    rows.push(line);
    log(line);
  };

  // ---- embedding ----
  const gpuEmb = ctx ? await GpuEmbedder.create({ context: ctx }) : null;
  let onnx = null;
  try {
    onnx = await loadDefaultOnnxEmbedder();
  } catch (e) {
    log(`onnxruntime-web unavailable: ${e instanceof Error ? e.message : e}`);
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
    row(`kernel: embed, batch ${n}`, "frames/s", fps(cpu), fps(gpu), true, 0, fps(ox));
  }
  gpuEmb?.destroy();
  onnx?.destroy();

  // ---- phase correlation ----
  for (const s of [64, 128, 256]) {
    const pairs = 16;
    const r = rng(s);
    const a = new Float32Array(pairs * s * s).map(() => r() * 255);
    const b = new Float32Array(pairs * s * s).map(() => r() * 255);
    const cpu = await best(() => void phaseCorrelateCpu(a, b, pairs, s, s));
    const corr = ctx
      ? await GpuPhaseCorrelator.create(s, s, { context: ctx, maxPairs: pairs })
      : null;
    const gpu = corr ? await best(() => corr.correlate(a, b, pairs)) : null;
    corr?.destroy();
    row(
      `kernel: phase correlation ${s}², ${pairs} pairs per call`,
      "ms per pair",
      cpu / pairs,
      gpu === null ? null : gpu / pairs,
      false,
      3,
    );
  }

  // ---- FFT NCC best-match maps ----
  const gNcc = ctx ? await GpuNccCorrelator.create({ context: ctx }) : null;
  const cNcc = new CpuNccCorrelator();
  for (const s of [64, 128, 256]) {
    const r = rng(s + 1);
    const B = 20, K = 5;
    const w = s, h = Math.round(s * 0.5625);
    const images = Array.from({ length: B }, () => new Float32Array(w * h).map(() => r() * 100));
    const tw = Math.round(w * 0.6), th = Math.round(h * 0.6);
    const batch: NccBatch = {
      width: tw,
      height: th,
      templates: Array.from({ length: K }, () => new Float32Array(tw * th).map(() => r() * 100)),
    };
    const cpu = await best(() => cNcc.bestOverSync(images, w, h, [batch]));
    const gpu = gNcc ? await best(() => gNcc.bestOver(images, w, h, [batch])) : null;
    row(
      `kernel: FFT NCC best-match ${w}×${h} (grid ${s}²), ${K} templates × ${B} images per call`,
      "ms per template × image",
      cpu / (K * B),
      gpu === null ? null : gpu / (K * B),
      false,
      3,
    );
  }

  // ---- band distances (kernel) ----
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
    const mcells = (ms: number | null) => (ms === null ? null : band.total / ms / 1e3);
    row(
      `kernel: band distances, ${band.total} cells × dim ${dim}`,
      "M cells/s",
      mcells(cpu),
      mcells(gpu),
      true,
      2,
    );
  }

  // ---- stage: spatial search ----
  {
    const { fg, bg } = spatialProblem();
    /** Best total time of searches with `c`, and the time its FFT NCC calls took in that run. */
    const measure = async (c: NccCorrelator) => {
      let coarse = 0;
      const timing: NccCorrelator = {
        kind: c.kind,
        bestOver: async (images, w, h, batches) => {
          const t0 = performance.now();
          const r = await c.bestOver(images, w, h, batches);
          coarse += performance.now() - t0;
          return r;
        },
        destroy: () => {},
      };
      const first = await searchSpatialAsync(fg, bg, { correlator: timing }); // warm-up
      let total = Infinity, part = 0;
      const end = performance.now() + seconds * 1000;
      for (let runs = 0; runs < 1 || performance.now() < end; runs++) {
        coarse = 0;
        const t0 = performance.now();
        await searchSpatialAsync(fg, bg, { correlator: timing });
        const t = performance.now() - t0;
        if (t < total) [total, part] = [t, coarse];
      }
      return { first, total, coarse: part };
    };
    const cpu = await measure(cNcc);
    const gpu = gNcc ? await measure(gNcc) : null;
    const b = cpu.first.best;
    if (gpu) {
      const g = gpu.first.best;
      if (g.x !== b.x || g.y !== b.y || g.width !== b.width || g.height !== b.height) {
        log(`spatial search: the placements differ! ${JSON.stringify([g, b])}`);
      }
    }
    const sec = (ms: number | undefined) => (ms === undefined ? null : ms / 1000);
    row(
      `stage: spatial search, 5 fg × 20 bg frames at 320×180 (found ${b.x},${b.y} ` +
        `@${b.scale.toFixed(3)}, same on both)`,
      "s",
      sec(cpu.total),
      sec(gpu?.total),
      false,
      2,
    );
    row(
      "stage: … of which the coarse FFT NCC",
      "s",
      sec(cpu.coarse),
      sec(gpu?.coarse),
      false,
      2,
    );
  }
  gNcc?.destroy();

  // ---- stage: band similarities ----
  {
    const dim = EMBED_DIM, N = 20000, M = 21000, half = 30;
    const r = rng(9);
    const fgS = EmbeddingStore.fromArray(
      new Int8Array(N * dim).map(() => Math.floor(r() * 255) - 127),
      dim,
    );
    const bgS = EmbeddingStore.fromArray(
      new Int8Array(M * dim).map(() => Math.floor(r() * 255) - 127),
      dim,
    );
    const bgTimes = new Float64Array(M).map((_, j) => j / 30);
    const lo = new Float64Array(N).map((_, i) => (i + 500 - half) / 30);
    const hi = new Float64Array(N).map((_, i) => (i + 500 + half) / 30);
    const fgInv = fgS.invNorms(), bgInv = bgS.invNorms();
    const want = bandSimilarities(fgS, bgS, bgTimes, lo, hi, 0, N, fgInv, bgInv);
    const cpu = await best(() => bandSimilarities(fgS, bgS, bgTimes, lo, hi, 0, N, fgInv, bgInv));
    let gpu: number | null = null;
    if (ctx) {
      const once = async () => {
        const d = (await GpuDtwDistance.create({ context: ctx }))!;
        try {
          return await bandSimilaritiesAsync(fgS, bgS, bgTimes, lo, hi, d, 0, N, fgInv, bgInv);
        } finally {
          d.destroy();
        }
      };
      const got = await once();
      if (got.sims.some((v, i) => v !== want.sims[i])) log("band similarities differ!");
      gpu = await best(once);
    }
    const mcells = (ms: number | null) => (ms === null ? null : want.cells / ms / 1e3);
    row(
      `stage: band similarities, ${N} fg frames, ${want.cells} cells (incl. upload)`,
      "M cells/s",
      mcells(cpu),
      mcells(gpu),
      true,
      2,
    );
  }

  return [
    `Deno ${Deno.version.deno}, WebGPU adapter: ${adapter}; best of ${seconds} s per cell`,
    "",
    "| kernel / stage | unit | CPU (TS) | WGSL (WebGPU) | onnxruntime-web (wasm) | faster |",
    "| --- | --- | ---: | ---: | ---: | --- |",
    ...rows,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { seconds: { type: "string", default: "1" } },
  });
  const md = await kernelsBench({ seconds: Number(values.seconds) });
  const stamp = `${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores`;
  console.log(`# kernel throughput\n\n${stamp}\n\n${md}`);
}
