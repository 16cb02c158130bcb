/**
 * Frame embeddings through an ONNX model with onnxruntime-web (wasm backend), e.g. the default
 * `models/embed.onnx` (the designed network of src/embed.ts) or a user model (`--model`).
 *
 * Model contract: one input taking 64×64 grey thumbnails as `[N, 1, 64, 64]` (float32 grey
 * levels 0..255, or uint8 when the model declares it; a fixed batch of 1 is run frame by frame)
 * and a first output of `D ≤ 4096` values per frame. Each output vector is quantised like
 * `embedFrame` does: scaled so that its largest |component| is 127, rounded (`Math.round`) to
 * int8; a zero or non-finite vector gives zeros.
 *
 * Offline: the default model's bytes are embedded (`onnx_model_embedded.ts`). onnxruntime-web
 * loads its wasm from its own npm package folder (Deno resolves it to the `node` build, which
 * reads the `.wasm` beside its `.mjs`), so it works without network wherever the npm package is
 * present: in the Deno cache, or in a `deno compile` binary (which embeds npm packages).
 * @module
 */
import ort from "npm:onnxruntime-web@1.30.0";
import type { BatchEmbedder } from "./backend.ts";
import { EMBED_H, EMBED_W } from "./embed.ts";
import { fromBase64 } from "./onnx_model.ts";
import { EMBED_ONNX_BASE64 } from "./onnx_model_embedded.ts";

/** Largest embedding length accepted from a model. */
export const ONNX_MAX_DIM = 4096;

/** Options of {@link loadOnnxEmbedder}. */
export interface OnnxEmbedderOptions {
  /** Frames per inference call (default 256). */
  maxBatch?: number;
  /** wasm threads (default: onnxruntime's choice; 1 disables worker threads). */
  numThreads?: number;
}

/**
 * Quantises `v[0..dim)` into `out[o..o+dim)` like src/embed.ts: max |component| → 127, rounded;
 * all-zero or non-finite input gives zeros.
 */
export function quantiseMaxAbs(v: Float32Array, dim: number, out: Int8Array, o: number): void {
  let maxAbs = 0;
  let finite = true;
  for (let i = 0; i < dim; i++) {
    const x = v[i];
    if (!Number.isFinite(x)) finite = false;
    const a = Math.abs(x);
    if (a > maxAbs) maxAbs = a;
  }
  if (!finite || !(maxAbs > 0)) {
    out.fill(0, o, o + dim);
    return;
  }
  const s = 127 / maxAbs;
  for (let i = 0; i < dim; i++) out[o + i] = Math.round(v[i] * s);
}

interface InputMeta {
  name: string;
  isTensor?: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** An ONNX-model embedder (see the module doc for the model contract). */
export class OnnxEmbedder implements BatchEmbedder {
  /** Components per vector (known after construction: probed with one frame). */
  readonly dim: number;
  /** Always "onnx". */
  readonly kind = "onnx";
  private readonly session: ort.InferenceSession;
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly uint8Input: boolean;
  private readonly batch: number;
  private readonly floatIn: Float32Array;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    session: ort.InferenceSession,
    dim: number,
    uint8Input: boolean,
    batch: number,
  ) {
    this.session = session;
    this.inputName = session.inputNames[0];
    this.outputName = session.outputNames[0];
    this.dim = dim;
    this.uint8Input = uint8Input;
    this.batch = batch;
    this.floatIn = new Float32Array(uint8Input ? 0 : batch * EMBED_W * EMBED_H);
  }

  /** @internal Opens a session and probes the output length. */
  static async open(model: Uint8Array, opts: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
    if (opts.numThreads !== undefined) ort.env.wasm.numThreads = opts.numThreads;
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    if (session.inputNames.length < 1 || session.outputNames.length < 1) {
      throw new Error("ONNX model needs at least one input and one output");
    }
    const meta = (session as unknown as { inputMetadata?: InputMeta[] }).inputMetadata?.[0];
    const uint8Input = meta?.type === "uint8";
    const shape = meta?.shape;
    const fixedOne = shape !== undefined && shape.length > 0 && shape[0] === 1;
    const batch = fixedOne ? 1 : Math.max(1, Math.floor(opts.maxBatch ?? 256));
    const probe = new OnnxEmbedder(session, 0, uint8Input, batch);
    const v = await probe.infer(new Uint8Array(EMBED_W * EMBED_H).fill(128), 0, 1);
    const dim = v.data.length;
    if (dim < 1 || dim > ONNX_MAX_DIM) {
      throw new Error(`ONNX model output has ${dim} values per frame; expected 1..${ONNX_MAX_DIM}`);
    }
    return new OnnxEmbedder(session, dim, uint8Input, batch);
  }

  private async infer(
    thumbs: Uint8Array,
    start: number,
    m: number,
  ): Promise<{ data: Float32Array }> {
    const px = EMBED_W * EMBED_H;
    const src = thumbs.subarray(start * px, (start + m) * px);
    let input: ort.Tensor;
    if (this.uint8Input) {
      input = new ort.Tensor("uint8", src, [m, 1, EMBED_H, EMBED_W]);
    } else {
      const f = this.floatIn.length >= m * px ? this.floatIn : new Float32Array(m * px);
      for (let i = 0; i < m * px; i++) f[i] = src[i];
      input = new ort.Tensor("float32", f.subarray(0, m * px), [m, 1, EMBED_H, EMBED_W]);
    }
    const res = await this.session.run({ [this.inputName]: input });
    const out = res[this.outputName];
    if (!out || out.type !== "float32") {
      throw new Error(`ONNX model output ${this.outputName} is not a float32 tensor`);
    }
    const data = out.data as Float32Array;
    if (data.length % m !== 0) throw new Error("ONNX model output is not a whole vector per frame");
    return { data };
  }

  /** Float outputs (as the model returns them) of `n` thumbnails, `n × dim`. */
  async embedFloat(thumbs: Uint8Array, n: number, out: Float32Array): Promise<void> {
    for (let s = 0; s < n; s += this.batch) {
      const m = Math.min(this.batch, n - s);
      const { data } = await this.infer(thumbs, s, m);
      out.set(data.subarray(0, m * this.dim), s * this.dim);
    }
  }

  /** Embeds `n` thumbnails into `out` (`n × dim` int8, quantised like embed.ts). */
  embedBatch(thumbs: Uint8Array, n: number, out: Int8Array): Promise<void> {
    const run = this.queue.then(async () => {
      if (thumbs.length < n * EMBED_W * EMBED_H) throw new RangeError("thumbs too short");
      if (out.length < n * this.dim) throw new RangeError("output too small for the frames");
      for (let s = 0; s < n; s += this.batch) {
        const m = Math.min(this.batch, n - s);
        const { data } = await this.infer(thumbs, s, m);
        for (let f = 0; f < m; f++) {
          quantiseMaxAbs(
            data.subarray(f * this.dim, (f + 1) * this.dim),
            this.dim,
            out,
            (s + f) * this.dim,
          );
        }
      }
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Releases the inference session. */
  destroy(): void {
    void this.session.release().catch(() => {});
  }
}

/**
 * Loads an ONNX embedder from a file path or model bytes (see the module doc for the contract).
 * Rejects with a one-line message when the model cannot be read, parsed or run.
 */
export async function loadOnnxEmbedder(
  pathOrBytes: string | Uint8Array,
  opts: OnnxEmbedderOptions = {},
): Promise<OnnxEmbedder> {
  const bytes = typeof pathOrBytes === "string" ? await Deno.readFile(pathOrBytes) : pathOrBytes;
  try {
    return await OnnxEmbedder.open(bytes, opts);
  } catch (e) {
    const what = typeof pathOrBytes === "string" ? pathOrBytes : "ONNX model";
    throw new Error(`cannot use ${what}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** Bytes of the default model (`models/embed.onnx`, embedded). */
export function defaultOnnxModel(): Uint8Array {
  return fromBase64(EMBED_ONNX_BASE64);
}

/** The default embedding network through onnxruntime-web (no file access). */
export function loadDefaultOnnxEmbedder(opts: OnnxEmbedderOptions = {}): Promise<OnnxEmbedder> {
  return loadOnnxEmbedder(defaultOnnxModel(), opts);
}
