/**
 * Frame embeddings on WebGPU: `embed_conv.wgsl` (InstanceNorm → 5×5 conv → relu → 1×1 mix →
 * 4×4 pool) then `l2norm.wgsl` (L2 normalisation + int8 quantisation), both in one command
 * buffer, many frames per dispatch. Produces the same Int8 vectors as `embedFrame` in
 * src/embed.ts (up to ±1 where a value lands on a rounding boundary).
 *
 * Buffers and bind groups are created once (grown when a larger batch arrives) and reused; a
 * batch costs one upload, one submit and one readback per chunk of up to `maxBatch` frames, with
 * two readback buffers so chunk k+1 computes while chunk k is read back.
 * @module
 */
import { EMBED_DIM, EMBED_H, EMBED_W } from "../embed.ts";
import { acquireGpu, createBuffer, dispatchSize, type GpuContext } from "./device.ts";
import {
  EMBED_PARAMS_BYTES,
  type EmbedNetWeights,
  embedNetWeights,
  L2NORM_PARAMS_BYTES,
  packEmbedParams,
  packL2NormParams,
  THUMB_BYTES,
} from "./kernels_cpu.ts";

/** Options of {@link GpuEmbedder.create}. */
export interface GpuEmbedderOptions {
  /** Largest number of frames per dispatch (default 1024). */
  maxBatch?: number;
  /** Use this context instead of the process-wide one. */
  context?: GpuContext;
  /** Network weights (default: those of `EMBED_LAYERS`). */
  weights?: EmbedNetWeights;
}

/** Optional extra outputs of {@link GpuEmbedder.embedBatchDetailed}. */
export interface EmbedOutputs {
  /** Int8 embeddings, `n × 512`. */
  quant?: Int8Array;
  /** L2-normalised float embeddings, `n × 512`. */
  unit?: Float32Array;
  /** Pooled features before normalisation (output of `embed_conv`), `n × 512`. */
  pooled?: Float32Array;
}

interface Slot {
  readQ: GPUBuffer;
  readF: GPUBuffer | null;
  readP: GPUBuffer | null;
}

/** Embeds batches of 64×64 gray thumbnails on the GPU. */
export class GpuEmbedder {
  /** Components per vector. */
  readonly dim = EMBED_DIM;
  /** The context in use. */
  readonly context: GpuContext;
  private readonly maxBatch: number;
  private readonly weights: EmbedNetWeights;
  private capacity = 0;
  private thumbsBuf: GPUBuffer | null = null;
  private pooledBuf: GPUBuffer | null = null;
  private unitBuf: GPUBuffer | null = null;
  private quantBuf: GPUBuffer | null = null;
  private readonly convParams: GPUBuffer;
  private readonly normParams: GPUBuffer;
  private readonly convHost = new ArrayBuffer(EMBED_PARAMS_BYTES);
  private readonly normHost = new ArrayBuffer(L2NORM_PARAMS_BYTES);
  private convBind: GPUBindGroup | null = null;
  private normBind: GPUBindGroup | null = null;
  private slots: Slot[] = [];
  private queue: Promise<void> = Promise.resolve();
  private destroyed = false;

  private constructor(ctx: GpuContext, maxBatch: number, weights: EmbedNetWeights) {
    this.context = ctx;
    this.maxBatch = maxBatch;
    this.weights = weights;
    const d = ctx.device;
    const U = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    this.convParams = createBuffer(d, EMBED_PARAMS_BYTES, U, "embed_conv params");
    this.normParams = createBuffer(d, L2NORM_PARAMS_BYTES, U, "l2norm params");
  }

  /** A GPU embedder, or `null` when WebGPU is unavailable. */
  static async create(opts: GpuEmbedderOptions = {}): Promise<GpuEmbedder | null> {
    const ctx = opts.context ?? await acquireGpu();
    if (!ctx) return null;
    await ctx.prepare(["embed_conv", "l2norm"]);
    const maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? 1024));
    return new GpuEmbedder(ctx, maxBatch, opts.weights ?? embedNetWeights());
  }

  private ensure(frames: number, wantUnit: boolean, wantPooled: boolean): void {
    const d = this.context.device;
    if (frames > this.capacity) {
      let cap = Math.max(1, this.capacity);
      while (cap < frames) cap *= 2;
      cap = Math.min(cap, this.maxBatch);
      for (const b of [this.thumbsBuf, this.pooledBuf, this.unitBuf, this.quantBuf]) b?.destroy();
      for (const s of this.slots) {
        s.readQ.destroy();
        s.readF?.destroy();
        s.readP?.destroy();
      }
      const S = GPUBufferUsage.STORAGE;
      this.thumbsBuf = createBuffer(d, cap * THUMB_BYTES, S | GPUBufferUsage.COPY_DST, "thumbs");
      this.pooledBuf = createBuffer(d, cap * EMBED_DIM * 4, S | GPUBufferUsage.COPY_SRC, "pooled");
      this.unitBuf = createBuffer(d, cap * EMBED_DIM * 4, S | GPUBufferUsage.COPY_SRC, "unit");
      this.quantBuf = createBuffer(d, cap * EMBED_DIM, S | GPUBufferUsage.COPY_SRC, "quant");
      const conv = this.context.pipeline("embed_conv");
      this.convBind = d.createBindGroup({
        layout: conv.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.convParams } },
          { binding: 1, resource: { buffer: this.thumbsBuf } },
          { binding: 2, resource: { buffer: this.pooledBuf } },
        ],
      });
      const norm = this.context.pipeline("l2norm");
      this.normBind = d.createBindGroup({
        layout: norm.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: this.normParams } },
          { binding: 1, resource: { buffer: this.pooledBuf } },
          { binding: 2, resource: { buffer: this.unitBuf } },
          { binding: 3, resource: { buffer: this.quantBuf } },
        ],
      });
      this.capacity = cap;
      this.slots = [];
    }
    const R = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
    while (this.slots.length < 2) {
      this.slots.push({
        readQ: createBuffer(d, this.capacity * EMBED_DIM, R, "quant readback"),
        readF: null,
        readP: null,
      });
    }
    for (const s of this.slots) {
      if (wantUnit && !s.readF) {
        s.readF = createBuffer(d, this.capacity * EMBED_DIM * 4, R, "unit rb");
      }
      if (wantPooled && !s.readP) {
        s.readP = createBuffer(d, this.capacity * EMBED_DIM * 4, R, "pooled readback");
      }
    }
  }

  /**
   * Embeds `n` concatenated thumbnails (`n × 64 × 64` bytes) into `out` (`n × 512` int8), like
   * `embedFrame` for each. Calls are serialised; a flat frame gives the zero vector.
   */
  embedBatch(thumbs: Uint8Array, n: number, out: Int8Array): Promise<void> {
    return this.embedBatchDetailed(thumbs, n, { quant: out });
  }

  /** Like {@link embedBatch}, also (or only) returning float outputs for verification. */
  embedBatchDetailed(thumbs: Uint8Array, n: number, outs: EmbedOutputs): Promise<void> {
    const run = this.queue.then(() => this.run(thumbs, n, outs));
    this.queue = run.catch(() => {});
    return run;
  }

  private async run(thumbs: Uint8Array, n: number, outs: EmbedOutputs): Promise<void> {
    if (this.destroyed) throw new Error("GpuEmbedder used after destroy()");
    if (this.context.lost) throw new Error("the WebGPU device was lost");
    const px = EMBED_W * EMBED_H;
    if (!Number.isInteger(n) || n < 0 || thumbs.length < n * px) {
      throw new RangeError(`thumbs must hold ${n} × ${px} bytes`);
    }
    for (const o of [outs.quant, outs.unit, outs.pooled]) {
      if (o && o.length < n * EMBED_DIM) throw new RangeError("output too small for the frames");
    }
    if (n === 0) return;
    const d = this.context.device;
    this.ensure(Math.min(n, this.maxBatch), outs.unit !== undefined, outs.pooled !== undefined);
    let pending: Promise<void> | null = null;
    let k = 0;
    for (let start = 0; start < n; start += this.capacity, k++) {
      const m = Math.min(this.capacity, n - start);
      const slot = this.slots[k & 1];
      // Uploads are queue operations: ordered after the previous chunk's submit.
      packEmbedParams(m, this.weights, this.convHost);
      packL2NormParams(m, EMBED_DIM, 127, this.normHost);
      d.queue.writeBuffer(this.convParams, 0, this.convHost);
      d.queue.writeBuffer(this.normParams, 0, this.normHost);
      d.queue.writeBuffer(
        this.thumbsBuf!,
        0,
        thumbs as Uint8Array<ArrayBuffer>,
        start * px,
        m * px,
      );
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      const [gx, gy] = dispatchSize(m);
      pass.setPipeline(this.context.pipeline("embed_conv"));
      pass.setBindGroup(0, this.convBind!);
      pass.dispatchWorkgroups(gx, gy);
      pass.setPipeline(this.context.pipeline("l2norm"));
      pass.setBindGroup(0, this.normBind!);
      pass.dispatchWorkgroups(gx, gy);
      pass.end();
      const qb = m * EMBED_DIM, fb = m * EMBED_DIM * 4;
      if (outs.quant) enc.copyBufferToBuffer(this.quantBuf!, 0, slot.readQ, 0, qb);
      if (outs.unit) enc.copyBufferToBuffer(this.unitBuf!, 0, slot.readF!, 0, fb);
      if (outs.pooled) enc.copyBufferToBuffer(this.pooledBuf!, 0, slot.readP!, 0, fb);
      d.queue.submit([enc.finish()]);
      if (pending) await pending;
      pending = this.readBack(slot, outs, start, m);
    }
    if (pending) await pending;
  }

  private async readBack(slot: Slot, outs: EmbedOutputs, start: number, m: number): Promise<void> {
    const o = start * EMBED_DIM, len = m * EMBED_DIM;
    const maps: Promise<void>[] = [];
    if (outs.quant) maps.push(slot.readQ.mapAsync(GPUMapMode.READ, 0, len));
    if (outs.unit) maps.push(slot.readF!.mapAsync(GPUMapMode.READ, 0, len * 4));
    if (outs.pooled) maps.push(slot.readP!.mapAsync(GPUMapMode.READ, 0, len * 4));
    await Promise.all(maps);
    if (outs.quant) {
      outs.quant.set(new Int8Array(slot.readQ.getMappedRange(0, len)), o);
      slot.readQ.unmap();
    }
    if (outs.unit) {
      outs.unit.set(new Float32Array(slot.readF!.getMappedRange(0, len * 4)), o);
      slot.readF!.unmap();
    }
    if (outs.pooled) {
      outs.pooled.set(new Float32Array(slot.readP!.getMappedRange(0, len * 4)), o);
      slot.readP!.unmap();
    }
  }

  /** Releases the GPU buffers (the shared device stays). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of [this.thumbsBuf, this.pooledBuf, this.unitBuf, this.quantBuf]) b?.destroy();
    for (const s of this.slots) {
      s.readQ.destroy();
      s.readF?.destroy();
      s.readP?.destroy();
    }
    this.convParams.destroy();
    this.normParams.destroy();
    this.slots = [];
  }
}
