/**
 * Batched int8 dot products / cosines over a DTW band on WebGPU (`batch_distance.wgsl`): upload
 * the two embedding sets once ({@link GpuBandDistance.upload}), then evaluate any number of bands
 * ({@link GpuBandDistance.run}), one round trip each. CPU twin: `batchDistanceCpu`.
 * {@link GpuDtwDistance} puts it behind the DTW's {@link BandDistance} interface.
 * @module
 */
import { type BandDistance, CpuBandDistance } from "../dtw.ts";
import type { EmbeddingStore } from "../embedding_store.ts";
import { acquireGpu, createBuffer, dispatchSize, type GpuContext } from "./device.ts";
import {
  type BandRows,
  checkDistDim,
  DIST_PARAMS_BYTES,
  packBandRows,
  packDistParams,
} from "./kernels_cpu.ts";

/** Band dot products / cosines of two int8 embedding sets on the GPU. */
export class GpuBandDistance {
  /** The context in use. */
  readonly context: GpuContext;
  private a: GPUBuffer | null = null;
  private b: GPUBuffer | null = null;
  private invA: GPUBuffer | null = null;
  private invB: GPUBuffer | null = null;
  private aCount = 0;
  private bCount = 0;
  private dim = 0;
  private scaled = false;
  private readonly params: GPUBuffer;
  private readonly paramHost = new ArrayBuffer(DIST_PARAMS_BYTES);
  private band: GPUBuffer | null = null;
  private out: GPUBuffer | null = null;
  private read: GPUBuffer | null = null;
  private bandCap = 0;
  private outCap = 0;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(ctx: GpuContext) {
    this.context = ctx;
    this.params = createBuffer(
      ctx.device,
      DIST_PARAMS_BYTES,
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      "distance params",
    );
  }

  /** A GPU band-distance evaluator, or `null` when WebGPU is unavailable. */
  static async create(opts: { context?: GpuContext } = {}): Promise<GpuBandDistance | null> {
    const ctx = opts.context ?? await acquireGpu();
    if (!ctx) return null;
    await ctx.prepare(["batch_distance"]);
    return new GpuBandDistance(ctx);
  }

  /**
   * Uploads the vectors: `a` (`aCount × dim` int8) and `b` (`bCount × dim`), and optionally the
   * inverse norms (then {@link run} returns cosines instead of raw dots). `dim` must be a
   * multiple of 4, at most 4096.
   */
  upload(
    a: Int8Array,
    aCount: number,
    b: Int8Array,
    bCount: number,
    dim: number,
    invA: Float32Array | null = null,
    invB: Float32Array | null = null,
  ): void {
    checkDistDim(dim);
    if (a.length < aCount * dim || b.length < bCount * dim) {
      throw new RangeError("vector arrays shorter than count × dim");
    }
    const d = this.context.device;
    for (const x of [this.a, this.b, this.invA, this.invB]) x?.destroy();
    const S = GPUBufferUsage.STORAGE;
    this.a = createBuffer(d, aCount * dim, S, "vectors a", a.subarray(0, aCount * dim));
    this.b = createBuffer(d, bCount * dim, S, "vectors b", b.subarray(0, bCount * dim));
    this.scaled = invA !== null && invB !== null;
    const ia = this.scaled ? invA!.subarray(0, aCount) : new Float32Array(1);
    const ib = this.scaled ? invB!.subarray(0, bCount) : new Float32Array(1);
    this.invA = createBuffer(d, ia.byteLength, S, "inv norms a", ia);
    this.invB = createBuffer(d, ib.byteLength, S, "inv norms b", ib);
    this.aCount = aCount;
    this.bCount = bCount;
    this.dim = dim;
  }

  /**
   * Evaluates the band (see `packBandRows`) into `out` (`band.total` floats, row after row): raw
   * int8 dots, or cosines when inverse norms were uploaded. Calls are serialised.
   */
  run(band: BandRows, out: Float32Array): Promise<void> {
    const r = this.queue.then(() => this.exec(band, out));
    this.queue = r.catch(() => {});
    return r;
  }

  private async exec(band: BandRows, out: Float32Array): Promise<void> {
    if (!this.a) throw new Error("GpuBandDistance.run before upload()");
    if (out.length < band.total) throw new RangeError("output smaller than the band");
    for (let r = 0; r < band.count; r++) {
      const ai = band.rows[4 * r], lo = band.rows[4 * r + 1], w = band.rows[4 * r + 2];
      if (ai >= this.aCount || (w > 0 && lo + w > this.bCount)) {
        throw new RangeError(`band row ${r} indexes past the uploaded vectors`);
      }
    }
    if (band.total === 0) return;
    const d = this.context.device;
    const S = GPUBufferUsage.STORAGE;
    if (band.count * 16 > this.bandCap) {
      this.band?.destroy();
      this.bandCap = Math.max(256, 2 ** Math.ceil(Math.log2(band.count * 16)));
      this.band = createBuffer(d, this.bandCap, S | GPUBufferUsage.COPY_DST, "band rows");
    }
    if (band.total * 4 > this.outCap) {
      this.out?.destroy();
      this.read?.destroy();
      this.outCap = Math.max(256, 2 ** Math.ceil(Math.log2(band.total * 4)));
      this.out = createBuffer(d, this.outCap, S | GPUBufferUsage.COPY_SRC, "band out");
      this.read = createBuffer(
        d,
        this.outCap,
        GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        "band readback",
      );
    }
    packDistParams(this.dim, band, this.scaled, this.paramHost);
    d.queue.writeBuffer(this.params, 0, this.paramHost);
    d.queue.writeBuffer(this.band!, 0, band.rows, 0, 4 * band.count);
    const pipe = this.context.pipeline("batch_distance");
    const bind = d.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.params } },
        { binding: 1, resource: { buffer: this.a! } },
        { binding: 2, resource: { buffer: this.b! } },
        { binding: 3, resource: { buffer: this.band! } },
        { binding: 4, resource: { buffer: this.invA! } },
        { binding: 5, resource: { buffer: this.invB! } },
        { binding: 6, resource: { buffer: this.out! } },
      ],
    });
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, bind);
    const chunks = Math.max(1, Math.ceil(band.maxWidth / 64));
    const [gx, gy] = dispatchSize(band.count * chunks);
    pass.dispatchWorkgroups(gx, gy);
    pass.end();
    const bytes = band.total * 4;
    enc.copyBufferToBuffer(this.out!, 0, this.read!, 0, bytes);
    d.queue.submit([enc.finish()]);
    await this.read!.mapAsync(GPUMapMode.READ, 0, bytes);
    out.set(new Float32Array(this.read!.getMappedRange(0, bytes)));
    this.read!.unmap();
  }

  /** Releases the GPU buffers (the shared device stays). */
  destroy(): void {
    for (const x of [this.a, this.b, this.invA, this.invB, this.band, this.out, this.read]) {
      x?.destroy();
    }
    this.params.destroy();
    this.a =
      this.b =
      this.invA =
      this.invB =
      this.band =
      this.out =
      this.read =
        null;
  }
}

/** Options of {@link GpuDtwDistance.create}. */
export interface GpuDtwDistanceOptions {
  /** Use this context instead of the process-wide one. */
  context?: GpuContext;
  /** Largest number of band cells per dispatch (default 4 Mi; each costs 4 bytes of readback). */
  maxCells?: number;
}

/**
 * The DTW's {@link BandDistance} on WebGPU: raw int8 dots of the band cells with
 * `batch_distance.wgsl`, one round trip per chunk of up to `maxCells` cells (the stores are
 * uploaded once per pair of stores). Vectors longer than 1024 components (dots no longer exact in
 * float32) or stores larger than a storage binding fall back to {@link CpuBandDistance}.
 */
export class GpuDtwDistance implements BandDistance {
  /** Always "webgpu". */
  readonly kind = "webgpu";
  /** Round trips of the last {@link GpuDtwDistance.bandDots} call (0 when the CPU ran it). */
  lastRoundTrips = 0;
  private readonly cpu = new CpuBandDistance();
  private loaded: { fg: Int8Array; fgN: number; bg: Int8Array; bgN: number } | null = null;

  private constructor(
    private readonly gpu: GpuBandDistance,
    private readonly maxCells: number,
    private readonly maxBytes: number,
  ) {}

  /** A GPU band distance, or `null` when WebGPU is unavailable. */
  static async create(opts: GpuDtwDistanceOptions = {}): Promise<GpuDtwDistance | null> {
    const gpu = await GpuBandDistance.create({ context: opts.context });
    if (!gpu) return null;
    const lim = gpu.context.device.limits;
    const maxBytes = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    const maxCells = Math.max(1, Math.min(opts.maxCells ?? 4 << 20, Math.floor(maxBytes / 4)));
    return new GpuDtwDistance(gpu, maxCells, maxBytes);
  }

  /** See {@link BandDistance.bandDots} (`skip` is ignored: those rows are computed too). */
  async bandDots(
    fg: EmbeddingStore,
    bg: EmbeddingStore,
    start: number,
    jLo: Int32Array,
    jHi: Int32Array,
    out: Float32Array,
    skip?: Uint8Array,
  ): Promise<void> {
    this.lastRoundTrips = 0;
    const dim = fg.dim;
    const rows = jLo.length;
    if (
      dim !== bg.dim || dim % 4 !== 0 || dim > 1024 || fg.count * dim > this.maxBytes ||
      bg.count * dim > this.maxBytes || rows === 0
    ) {
      return this.cpu.bandDots(fg, bg, start, jLo, jHi, out, skip);
    }
    const l = this.loaded;
    if (
      !l || l.fg !== fg.data || l.fgN !== fg.count || l.bg !== bg.data || l.bgN !== bg.count
    ) {
      this.gpu.upload(fg.data, fg.count, bg.data, bg.count, dim);
      this.loaded = { fg: fg.data, fgN: fg.count, bg: bg.data, bgN: bg.count };
    }
    let r0 = 0, o0 = 0;
    while (r0 < rows) {
      let r1 = r0, cells = 0;
      while (r1 < rows) {
        const w = Math.max(0, jHi[r1] - jLo[r1] + 1);
        if (r1 > r0 && cells + w > this.maxCells) break;
        cells += w;
        r1++;
      }
      const idx = new Int32Array(r1 - r0);
      for (let r = r0; r < r1; r++) idx[r - r0] = start + r;
      const band = packBandRows(idx, jLo.subarray(r0, r1), jHi.subarray(r0, r1));
      await this.gpu.run(band, out.subarray(o0, o0 + band.total));
      this.lastRoundTrips++;
      o0 += band.total;
      r0 = r1;
    }
  }

  /** Releases the GPU buffers (the shared device stays). */
  destroy(): void {
    this.gpu.destroy();
    this.loaded = null;
  }
}
