/**
 * Compute backend selection (`--backend auto|webgpu|cpu`) per stage — the frame embedding, the
 * spatial search's FFT NCC, the DTW's band distances — and factories with one interface for every
 * backend: {@link createEmbedder}, {@link createCorrelator}, {@link createBandDistance}.
 *
 * `auto`: WebGPU on a real (hardware) adapter; on a fallback (software) adapter such as Mesa's
 * lavapipe, whichever path measured faster for that stage ({@link FALLBACK_CHOICE}); CPU when
 * there is no adapter.
 * @module
 */
import { type BandDistance, CpuBandDistance } from "./dtw.ts";
import { EMBED_DIM, EMBED_H, EMBED_W, embedFrame } from "./embed.ts";
import { ExitCode, VidkompyError } from "./errors.ts";
import { acquireGpu, gpuUnavailableReason } from "./gpu/device.ts";
import { GpuDtwDistance } from "./gpu/distance_gpu.ts";
import { GpuEmbedder } from "./gpu/embed_gpu.ts";
import { GpuNccCorrelator } from "./gpu/ncc_gpu.ts";
import { CpuNccCorrelator, type NccCorrelator } from "./ncc.ts";
import { ParallelNccCorrelator } from "./ncc_parallel.ts";

/** Anything that embeds batches of 64×64 grey thumbnails into int8 vectors. */
export interface BatchEmbedder {
  /** Components per vector. */
  readonly dim: number;
  /** Which implementation runs ("cpu", "webgpu", "onnx"). */
  readonly kind: string;
  /** Embeds `n` concatenated thumbnails (`n × 4096` bytes) into `out` (`n × dim` int8). */
  embedBatch(thumbs: Uint8Array, n: number, out: Int8Array): Promise<void>;
  /** Releases resources. */
  destroy(): void;
}

/** Requested backend. */
export type Backend = "auto" | "webgpu" | "cpu";

/** Resolved backend of one stage. */
export type StageBackend = "webgpu" | "cpu";

/** The stages with a backend choice. */
export type Stage = "embed" | "fft" | "distance";

/** Resolved backends. */
export interface BackendChoice {
  /** Frame embedding ({@link createEmbedder}). */
  embed: StageBackend;
  /** FFT NCC of the spatial search's coarse stage ({@link createCorrelator}). */
  fft: StageBackend;
  /** Band dot products of the temporal alignment's DTW ({@link createBandDistance}). */
  distance: StageBackend;
  /** One line saying why (for --verbose / the JSON report). */
  reason: string;
}

const ALL_CPU = { embed: "cpu", fft: "cpu", distance: "cpu" } as const;
const ALL_GPU = { embed: "webgpu", fft: "webgpu", distance: "webgpu" } as const;

/**
 * What `auto` picks on a fallback (software) adapter, measured with `bench/kernels_bench.ts`
 * (`deno task bench kernels`; best of repeated runs per cell) on the 2-core CI-class machine,
 * lavapipe = llvmpipe (LLVM 15, 256-bit), Deno 2.9.6, while other jobs shared the cores (hence
 * the ranges: the spread of 3 bench runs, and earlier ones for the embedding):
 *
 * | stage | CPU (TS) | WGSL on lavapipe |
 * | --- | ---: | ---: |
 * | embed, batch 1 | 23 000–30 000 frames/s | 90 frames/s (≈11 ms round trip) |
 * | embed, batch 64 | 13 500–19 000 frames/s | 4 600–5 000 frames/s |
 * | embed, batch 512 | 8 700–20 000 frames/s | 10 700–24 000 frames/s |
 * | embed, batch 2048 | 8 200–19 000 frames/s | 9 000–31 000 frames/s |
 * | phase correlation 64² / 128² / 256² | 0.11–0.15 / 0.58–1.1 / 2.5–5.9 ms per pair | 2.2–6.7 / 9.5–22 / 27–118 ms |
 * | FFT NCC best-match maps, grid 64² / 128² / 256² | 0.024–0.036 / 0.11–0.33 / 0.60–1.05 ms per template × image | 0.43–1.05 / 2.0–3.6 / 10–20 ms |
 * | spatial search, 5 fg × 20 bg frames at 320×180 | 1.55–2.47 s (coarse FFT NCC 1.24–1.95 s) | 7.6–14.9 s (coarse 7.4–14.4 s) |
 * | band distances, int8 dim 512 (kernel, vectors uploaded) | 0.87–2.1 M cells/s | 1.1–1.7 M cells/s |
 * | band similarities, 20 000 fg frames × 63 (incl. upload, cosines) | 1.04–1.84 M cells/s | 0.89–1.57 M cells/s |
 *
 * - embed: CPU. The register-blocked WGSL kernel only pulls ahead for ≥ 512 frames per call
 *   (0.8–2.2× the CPU wall-clock, run to run), and then it keeps both cores busy (lavapipe's
 *   threads) where `embedFrame` uses one JS thread — cores that ffmpeg's decoding needs at the
 *   same time; below 512 frames per call it loses outright (the ≈11 ms round trip).
 * - fft (the spatial search's FFT NCC): CPU. The workgroup-memory FFT is barrier-bound on a CPU
 *   rasteriser: 10–30× slower per correlation, 3–8× slower for a whole search (the coarse FFT
 *   stage is ≈ 80 % of the CPU search).
 * - distance (the DTW's band dots): CPU. A tie within the run-to-run noise (0.6–1.4× either
 *   way), and lavapipe needs both cores plus an upload of both embedding sets; the similarities
 *   are bit-identical either way.
 */
export const FALLBACK_CHOICE: { readonly [S in Stage]: StageBackend } = {
  embed: "cpu",
  fft: "cpu",
  distance: "cpu",
};

/** Parses a `--backend` value; throws a usage error otherwise. */
export function parseBackend(value: string): Backend {
  if (value === "auto" || value === "webgpu" || value === "cpu") return value;
  throw new VidkompyError(
    `invalid --backend '${value}': use auto, webgpu or cpu`,
    ExitCode.Usage,
  );
}

/**
 * Resolves `requested` to a backend per stage. `webgpu` rejects (exit code 1) when no adapter
 * can be had; `auto` never rejects.
 */
export async function chooseBackend(requested: Backend): Promise<BackendChoice> {
  if (requested === "cpu") return { ...ALL_CPU, reason: "--backend cpu" };
  if (requested === "auto" && Object.values(FALLBACK_CHOICE).every((b) => b === "cpu")) {
    // No GPU device on this Linux machine: any adapter would be a software one, on which auto
    // picks the CPU for every stage anyway; skip loading its driver (≈ 80 MB resident, ~0.3 s).
    const none = await noGpuDevice();
    if (none) return { ...ALL_CPU, reason: `no GPU device (${none})` };
  }
  const ctx = await acquireGpu();
  if (!ctx) {
    if (requested === "webgpu") throw noGpu();
    return { ...ALL_CPU, reason: `no WebGPU: ${gpuUnavailableReason()}` };
  }
  const name = ctx.adapter.description || "unnamed adapter";
  if (requested === "webgpu") {
    return {
      ...ALL_GPU,
      reason: `--backend webgpu on ${name}${ctx.adapter.isFallbackAdapter ? " (software)" : ""}`,
    };
  }
  if (!ctx.adapter.isFallbackAdapter) return { ...ALL_GPU, reason: `WebGPU adapter ${name}` };
  const f = FALLBACK_CHOICE;
  return {
    ...f,
    reason: `software WebGPU adapter ${name}: embed on ${f.embed}, FFT NCC on ${f.fft}, ` +
      `band distances on ${f.distance} (measured faster there)`,
  };
}

let deviceCheck: Promise<string | null> | null = null;

/**
 * On Linux, why there is certainly no hardware GPU (no DRM render node, no NVIDIA, AMD compute
 * or WSL GPU device): a one-line reason; else (another OS, a device present, the check could not
 * run) null. Deno only lets `--allow-all` programs read /dev, so `sh` lists the device nodes.
 * Checked once per process.
 */
export function noGpuDevice(): Promise<string | null> {
  return deviceCheck ??= (async () => {
    if (Deno.build.os !== "linux") return null;
    try {
      const out = await new Deno.Command("sh", {
        args: ["-c", "ls -d /dev/dri/renderD* /dev/nvidia[0-9]* /dev/dxg /dev/kfd 2>/dev/null"],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      if (new TextDecoder().decode(out.stdout).trim() !== "") return null;
      return "no /dev/dri render node or GPU device";
    } catch {
      return null;
    }
  })();
}

function noGpu(): VidkompyError {
  return new VidkompyError(
    `--backend webgpu: ${gpuUnavailableReason()}; use --backend cpu (or auto)`,
    ExitCode.Failure,
  );
}

/** `kind` resolved for `stage` ("auto" through {@link chooseBackend}). */
async function resolve(kind: Backend | StageBackend, stage: Stage): Promise<StageBackend> {
  return kind === "auto" ? (await chooseBackend("auto"))[stage] : kind;
}

/** The CPU embedder (`embedFrame` per frame) behind the {@link BatchEmbedder} interface. */
export class CpuEmbedder implements BatchEmbedder {
  /** Components per vector. */
  readonly dim = EMBED_DIM;
  /** Always "cpu". */
  readonly kind = "cpu";

  /** Embeds `n` thumbnails synchronously (the promise is already settled). */
  embedBatch(thumbs: Uint8Array, n: number, out: Int8Array): Promise<void> {
    try {
      const px = EMBED_W * EMBED_H;
      if (thumbs.length < n * px) throw new RangeError(`thumbs must hold ${n} × ${px} bytes`);
      if (out.length < n * EMBED_DIM) throw new RangeError("output too small for the frames");
      for (let i = 0; i < n; i++) {
        embedFrame(thumbs.subarray(i * px, (i + 1) * px), out, i * EMBED_DIM);
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Nothing to release. */
  destroy(): void {}
}

class WebGpuBatchEmbedder implements BatchEmbedder {
  readonly dim = EMBED_DIM;
  readonly kind = "webgpu";
  constructor(private readonly gpu: GpuEmbedder) {}
  embedBatch(thumbs: Uint8Array, n: number, out: Int8Array): Promise<void> {
    return this.gpu.embedBatch(thumbs, n, out);
  }
  destroy(): void {
    this.gpu.destroy();
  }
}

/**
 * An embedder for `kind` ("auto" resolves through {@link chooseBackend}). "webgpu" rejects when
 * no adapter can be had. All kinds give the same int8 vectors (up to ±1 on rounding ties).
 */
export async function createEmbedder(kind: Backend | StageBackend): Promise<BatchEmbedder> {
  if (await resolve(kind, "embed") === "cpu") return new CpuEmbedder();
  const gpu = await GpuEmbedder.create();
  if (!gpu) throw noGpu();
  return new WebGpuBatchEmbedder(gpu);
}

/**
 * The FFT NCC correlator of the spatial search (`searchSpatialAsync`'s `correlator`) for `kind`
 * ("auto" resolves through {@link chooseBackend}'s `fft`). "webgpu" rejects (exit code 1) when no
 * adapter can be had. On the CPU it computes on every core ({@link ParallelNccCorrelator}). Every
 * kind gives the same placements. Call `destroy()` when done.
 */
export async function createCorrelator(kind: Backend | StageBackend): Promise<NccCorrelator> {
  if (await resolve(kind, "fft") === "cpu") {
    return navigator.hardwareConcurrency > 1 ? new ParallelNccCorrelator() : new CpuNccCorrelator();
  }
  const gpu = await GpuNccCorrelator.create();
  if (!gpu) throw noGpu();
  return gpu;
}

/**
 * The band distance of the temporal alignment (`alignTemporalAsync`'s `distance`) for `kind`
 * ("auto" resolves through {@link chooseBackend}'s `distance`). "webgpu" rejects (exit code 1)
 * when no adapter can be had. Every kind gives bit-identical similarities. Call `destroy()` when
 * done.
 */
export async function createBandDistance(kind: Backend | StageBackend): Promise<BandDistance> {
  if (await resolve(kind, "distance") === "cpu") return new CpuBandDistance();
  const gpu = await GpuDtwDistance.create();
  if (!gpu) throw noGpu();
  return gpu;
}
