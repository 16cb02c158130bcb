/**
 * Batched int8 dot products / cosines over a DTW band on WebGPU (`batch_distance.wgsl`): upload
 * the two embedding sets once ({@link GpuBandDistance.upload}), then evaluate any number of bands
 * ({@link GpuBandDistance.run}), one round trip each. CPU twin: `batchDistanceCpu`.
 * @module
 */
import { acquireGpu, createBuffer, dispatchSize, type GpuContext } from "./device.ts";
import { type BandRows, checkDistDim, DIST_PARAMS_BYTES, packDistParams } from "./kernels_cpu.ts";

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
