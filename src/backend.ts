/**
 * Compute backend selection (`--backend auto|webgpu|cpu`) for the frame embedding and the FFT
 * phase correlation, and a factory of embedders with one interface for every backend.
 *
 * `auto`: WebGPU on a real (hardware) adapter; on a fallback (software) adapter such as Mesa's
 * lavapipe, whichever path measured faster for that stage ({@link FALLBACK_CHOICE}); CPU when
 * there is no adapter.
 * @module
 */
import { EMBED_DIM, EMBED_H, EMBED_W, embedFrame } from "./embed.ts";
import { ExitCode, VidkompyError } from "./errors.ts";
import { acquireGpu, gpuUnavailableReason } from "./gpu/device.ts";
import { GpuEmbedder } from "./gpu/embed_gpu.ts";

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

/** Resolved backends. */
export interface BackendChoice {
  /** Frame embedding. */
  embed: StageBackend;
  /** FFT phase correlation. */
  fft: StageBackend;
  /** One line saying why (for --verbose / the JSON report). */
  reason: string;
}

/**
 * What `auto` picks on a fallback (software) adapter, measured with `bench/kernels_bench.ts`
 * (best of repeated runs, `--seconds 2`) on the 2-core CI-class machine, lavapipe = llvmpipe
 * (LLVM 15, 256-bit), Deno 2.9.6, while other jobs shared the cores:
 *
 * | stage (best of each of 2–3 bench runs) | CPU (TS) | WGSL on lavapipe |
 * | --- | ---: | ---: |
 * | embed, batch 1 | 23 000–30 000 frames/s | 90 frames/s (≈11 ms round trip) |
 * | embed, batch 64 | 16 000–19 000 frames/s | 5 000 frames/s |
 * | embed, batch 512 | 19 000–20 000 frames/s | 15 000–24 000 frames/s |
 * | embed, batch 2048 | 15 000–19 000 frames/s | 26 000–31 000 frames/s |
 * | phase correlation 64² / 128² / 256² | 0.12–0.15 / 0.58–0.87 / 2.5–4.0 ms per pair | 2.2–3.6 / 9.5–14 / 27–54 ms |
 *
 * - embed: CPU. The register-blocked WGSL kernel only pulls ahead for ≥ 512 frames per call
 *   (0.8–1.7× the CPU wall-clock, run to run), and then it keeps both cores busy (lavapipe's
 *   threads) where `embedFrame` uses one JS thread — cores that ffmpeg's decoding needs at the
 *   same time; below 512 frames per call it loses outright (the ≈11 ms round trip).
 * - fft: CPU. The workgroup-memory FFT is barrier-bound on a CPU rasteriser: 10–20× slower.
 */
export const FALLBACK_CHOICE: { readonly embed: StageBackend; readonly fft: StageBackend } = {
  embed: "cpu",
  fft: "cpu",
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
  if (requested === "cpu") return { embed: "cpu", fft: "cpu", reason: "--backend cpu" };
  const ctx = await acquireGpu();
  if (!ctx) {
    if (requested === "webgpu") {
      throw new VidkompyError(
        `--backend webgpu: ${gpuUnavailableReason()}; use --backend cpu (or auto)`,
        ExitCode.Failure,
      );
    }
    return { embed: "cpu", fft: "cpu", reason: `no WebGPU: ${gpuUnavailableReason()}` };
  }
  const name = ctx.adapter.description || "unnamed adapter";
  if (requested === "webgpu") {
    return {
      embed: "webgpu",
      fft: "webgpu",
      reason: `--backend webgpu on ${name}${ctx.adapter.isFallbackAdapter ? " (software)" : ""}`,
    };
  }
  if (!ctx.adapter.isFallbackAdapter) {
    return { embed: "webgpu", fft: "webgpu", reason: `WebGPU adapter ${name}` };
  }
  return {
    embed: FALLBACK_CHOICE.embed,
    fft: FALLBACK_CHOICE.fft,
    reason: `software WebGPU adapter ${name}: embed on ${FALLBACK_CHOICE.embed}, ` +
      `FFT on ${FALLBACK_CHOICE.fft} (measured faster there)`,
  };
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
  const k = kind === "auto" ? (await chooseBackend("auto")).embed : kind;
  if (k === "cpu") return new CpuEmbedder();
  const gpu = await GpuEmbedder.create();
  if (!gpu) {
    throw new VidkompyError(
      `--backend webgpu: ${gpuUnavailableReason()}; use --backend cpu (or auto)`,
      ExitCode.Failure,
    );
  }
  return new WebGpuBatchEmbedder(gpu);
}
