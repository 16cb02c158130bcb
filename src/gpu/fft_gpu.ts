/**
 * Phase correlation of image pairs on WebGPU, batched: forward 2-D FFTs of every image
 * (`fft_radix2.wgsl`, rows then columns, in place), cross-power spectrum (`cross_power.wgsl`),
 * inverse 2-D FFT and argmax (`peak_search.wgsl`), all in one command buffer; one upload and one
 * readback per batch. {@link phaseCorrelateCpu} computes the same on the CPU with src/fft.ts,
 * {@link phaseCorrelateTwin} with the kernels' CPU twins (float32, same operation order).
 *
 * Convention: for pair p, `a` ≈ `b` translated by (dx, dy) (circularly, on the zero-padded
 * power-of-two grid), i.e. `a(x + dx, y + dy) ≈ b(x, y)`; the surface peak is at (dx, dy)
 * modulo the grid, reported in `[-N/2, N/2)`.
 * @module
 */
import { Fft2D, nextPowerOfTwo } from "../fft.ts";
import { acquireGpu, createBuffer, dispatchSize, type GpuContext } from "./device.ts";
import {
  checkFftSize,
  CROSS_PARAMS_BYTES,
  crossPowerCpu,
  fft2dConfigs,
  FFT_PARAMS_BYTES,
  type FftLinesConfig,
  fftLinesCpu,
  fftLinesPerGroup,
  makeTwiddles,
  packCrossParams,
  packFftParams,
  packPeakParams,
  PEAK_PARAMS_BYTES,
  peakSearchCpu,
} from "./kernels_cpu.ts";

/** Pixel source accepted by the correlators (n images of `width × height`, row-major). */
export type ImageBatch = ArrayLike<number>;

/** Options of the phase correlators. */
export interface PhaseCorrelateOptions {
  /**
   * true (default): phase correlation, the cross-power spectrum divided by its magnitude;
   * false: plain circular cross-correlation.
   */
  phase?: boolean;
  /**
   * Regularisation of the magnitude division, relative to `‖a‖₂ · ‖b‖₂` (the RMS magnitude of
   * the cross-power spectrum, by Parseval): bins weaker than this are damped instead of
   * amplified. Default 1e-4.
   */
  epsRel?: number;
}

/** Peaks of a batch of correlations. */
export interface PhaseCorrelation {
  /** Shift in x per pair, in `[-fftWidth/2, fftWidth/2)`. */
  dx: Int32Array;
  /** Shift in y per pair. */
  dy: Int32Array;
  /** Surface value at the peak. */
  peak: Float32Array;
  /** Peak index in the `fftWidth × fftHeight` surface. */
  index: Uint32Array;
}

/** Default {@link PhaseCorrelateOptions.epsRel}. */
export const DEFAULT_EPS_REL = 1e-4;

function allocResult(pairs: number): PhaseCorrelation {
  return {
    dx: new Int32Array(pairs),
    dy: new Int32Array(pairs),
    peak: new Float32Array(pairs),
    index: new Uint32Array(pairs),
  };
}

function setPeak(
  r: PhaseCorrelation,
  p: number,
  index: number,
  value: number,
  w: number,
  h: number,
) {
  const x = index % w, y = Math.floor(index / w);
  r.index[p] = index;
  r.peak[p] = value;
  r.dx[p] = x >= w / 2 ? x - w : x;
  r.dy[p] = y >= h / 2 ? y - h : y;
}

/**
 * Packs pairs as interleaved complex images (a_p at image 2p, b_p at 2p+1) on a zero-padded
 * `fw × fh` grid into `dst`, and the per-pair epsilons into `eps`.
 */
export function packPairs(
  a: ImageBatch,
  b: ImageBatch,
  pairs: number,
  width: number,
  height: number,
  fw: number,
  fh: number,
  epsRel: number,
  dst: Float32Array,
  eps: Float32Array,
): void {
  const size = fw * fh, img = width * height;
  dst.fill(0, 0, 4 * pairs * size);
  for (let p = 0; p < pairs; p++) {
    let sa = 0, sb = 0;
    const oa = 4 * p * size, ob = oa + 2 * size;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const va = a[p * img + y * width + x], vb = b[p * img + y * width + x];
        dst[oa + 2 * (y * fw + x)] = va;
        dst[ob + 2 * (y * fw + x)] = vb;
        sa += va * va;
        sb += vb * vb;
      }
    }
    eps[p] = Math.max(epsRel * Math.sqrt(sa * sb), 1e-30);
  }
}

/**
 * CPU phase correlation with src/fft.ts (float64): per pair, one complex FFT of `a + i·b`
 * (split into both spectra by symmetry), cross-power, one inverse FFT, argmax. When `surface`
 * is given (`pairs × fftWidth × fftHeight`), the real correlation surfaces are written to it.
 */
export function phaseCorrelateCpu(
  a: ImageBatch,
  b: ImageBatch,
  pairs: number,
  width: number,
  height: number,
  opts: PhaseCorrelateOptions = {},
  surface?: Float32Array,
): PhaseCorrelation {
  const fw = nextPowerOfTwo(width), fh = nextPowerOfTwo(height);
  const size = fw * fh, img = width * height;
  const phase = opts.phase ?? true, epsRel = opts.epsRel ?? DEFAULT_EPS_REL;
  const fft = new Fft2D(fw, fh);
  const re = new Float64Array(size), im = new Float64Array(size);
  const rr = new Float64Array(size), ri = new Float64Array(size);
  const out = allocResult(pairs);
  for (let p = 0; p < pairs; p++) {
    re.fill(0);
    im.fill(0);
    let sa = 0, sb = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const va = a[p * img + y * width + x], vb = b[p * img + y * width + x];
        re[y * fw + x] = va;
        im[y * fw + x] = vb;
        sa += va * va;
        sb += vb * vb;
      }
    }
    const eps = Math.fround(Math.max(epsRel * Math.sqrt(sa * sb), 1e-30));
    fft.forward(re, im, height);
    for (let ky = 0; ky < fh; ky++) {
      const ny = (fh - ky) % fh;
      for (let kx = 0; kx < fw; kx++) {
        const k = ky * fw + kx, nk = ny * fw + ((fw - kx) % fw);
        // Z = A + iB: A = (Z[k] + conj Z[-k]) / 2, B = (Z[k] - conj Z[-k]) / (2i)
        const zr = re[k], zi = im[k], cr = re[nk], ci = -im[nk];
        const ar = (zr + cr) / 2, ai = (zi + ci) / 2;
        const br = (zi - ci) / 2, bi = -(zr - cr) / 2;
        let xr = ar * br + ai * bi, xi = ai * br - ar * bi;
        if (phase) {
          const d = Math.sqrt(xr * xr + xi * xi) + eps;
          xr /= d;
          xi /= d;
        }
        rr[k] = xr;
        ri[k] = xi;
      }
    }
    fft.inverse(rr, ri);
    let best = -Infinity, idx = 0;
    for (let k = 0; k < size; k++) {
      if (rr[k] > best) {
        best = rr[k];
        idx = k;
      }
    }
    if (surface) { for (let k = 0; k < size; k++) surface[p * size + k] = rr[k]; }
    setPeak(out, p, idx, best, fw, fh);
  }
  return out;
}

/**
 * The GPU pipeline evaluated with the kernels' CPU twins (float32, same order as the shaders):
 * the parity reference of {@link GpuPhaseCorrelator}.
 */
export function phaseCorrelateTwin(
  a: ImageBatch,
  b: ImageBatch,
  pairs: number,
  width: number,
  height: number,
  opts: PhaseCorrelateOptions = {},
  surface?: Float32Array,
): PhaseCorrelation {
  const fw = nextPowerOfTwo(width), fh = nextPowerOfTwo(height);
  const size = fw * fh;
  const data = new Float32Array(4 * pairs * size);
  const eps = new Float32Array(pairs);
  packPairs(a, b, pairs, width, height, fw, fh, opts.epsRel ?? DEFAULT_EPS_REL, data, eps);
  const tw = makeTwiddles(Math.max(fw, fh));
  const fwd = fft2dConfigs(fw, fh, 2 * pairs, false);
  fftLinesCpu(data, fwd.rows, tw);
  fftLinesCpu(data, fwd.cols, tw);
  const r = new Float32Array(2 * pairs * size);
  crossPowerCpu(data, size, pairs, opts.phase ?? true, eps, r);
  const inv = fft2dConfigs(fw, fh, pairs, true);
  fftLinesCpu(r, inv.rows, tw);
  fftLinesCpu(r, inv.cols, tw);
  const idx = new Uint32Array(pairs), val = new Float32Array(pairs);
  peakSearchCpu(r, size, pairs, idx, val);
  const out = allocResult(pairs);
  for (let p = 0; p < pairs; p++) setPeak(out, p, idx[p], val[p], fw, fh);
  if (surface) { for (let k = 0; k < pairs * size; k++) surface[k] = r[2 * k]; }
  return out;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment upper bound

/** Batched phase correlation of fixed-size image pairs on the GPU. */
export class GpuPhaseCorrelator {
  /** Image width. */
  readonly width: number;
  /** Image height. */
  readonly height: number;
  /** FFT grid width (power of two ≥ width). */
  readonly fftWidth: number;
  /** FFT grid height. */
  readonly fftHeight: number;
  /** The context in use. */
  readonly context: GpuContext;
  private readonly maxPairs: number;
  private capacity = 0;
  private host = new Float32Array(0);
  private eps = new Float32Array(0);
  private data: GPUBuffer | null = null;
  private cross: GPUBuffer | null = null;
  private epsBuf: GPUBuffer | null = null;
  private peaks: GPUBuffer | null = null;
  private peaksRead: GPUBuffer | null = null;
  private surfRead: GPUBuffer | null = null;
  private readonly twiddles: GPUBuffer;
  private readonly uniforms: GPUBuffer;
  private readonly uniHost = new ArrayBuffer(6 * UNIFORM_SLOT);
  private binds: GPUBindGroup[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  private constructor(ctx: GpuContext, width: number, height: number, maxPairs: number) {
    this.context = ctx;
    this.width = width;
    this.height = height;
    this.fftWidth = nextPowerOfTwo(width);
    this.fftHeight = nextPowerOfTwo(height);
    checkFftSize(this.fftWidth);
    checkFftSize(this.fftHeight);
    this.maxPairs = maxPairs;
    const d = ctx.device;
    const tw = makeTwiddles(Math.max(this.fftWidth, this.fftHeight));
    this.twiddles = createBuffer(d, tw.byteLength, GPUBufferUsage.STORAGE, "twiddles", tw);
    this.uniforms = createBuffer(
      d,
      this.uniHost.byteLength,
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      "phase uniforms",
    );
  }

  /**
   * A correlator for `width × height` images (FFT grid: next powers of two, at most 2048), or
   * `null` when WebGPU is unavailable. `maxPairs` bounds the pairs per dispatch (default 64).
   */
  static async create(
    width: number,
    height: number,
    opts: { maxPairs?: number; context?: GpuContext } = {},
  ): Promise<GpuPhaseCorrelator | null> {
    const ctx = opts.context ?? await acquireGpu();
    if (!ctx) return null;
    await ctx.prepare(["fft_radix2", "cross_power", "peak_search"]);
    return new GpuPhaseCorrelator(ctx, width, height, Math.max(1, opts.maxPairs ?? 64));
  }

  private ensure(pairs: number): void {
    if (pairs <= this.capacity) return;
    const d = this.context.device;
    let cap = Math.max(1, this.capacity);
    while (cap < pairs) cap *= 2;
    cap = Math.min(cap, this.maxPairs);
    for (
      const b of [this.data, this.cross, this.epsBuf, this.peaks, this.peaksRead, this.surfRead]
    ) {
      b?.destroy();
    }
    this.surfRead = null;
    const size = this.fftWidth * this.fftHeight;
    const S = GPUBufferUsage.STORAGE;
    this.host = new Float32Array(4 * cap * size);
    this.eps = new Float32Array(cap);
    this.data = createBuffer(d, this.host.byteLength, S | GPUBufferUsage.COPY_DST, "pair spectra");
    this.cross = createBuffer(d, 8 * cap * size, S | GPUBufferUsage.COPY_SRC, "cross power");
    this.epsBuf = createBuffer(d, 4 * cap, S | GPUBufferUsage.COPY_DST, "eps");
    this.peaks = createBuffer(d, 8 * cap, S | GPUBufferUsage.COPY_SRC, "peaks");
    this.peaksRead = createBuffer(
      d,
      8 * cap,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      "peaks readback",
    );
    const ctx = this.context;
    const fft = ctx.pipeline("fft_radix2");
    const uni = (slot: number, size: number): GPUBindingResource => ({
      buffer: this.uniforms,
      offset: slot * UNIFORM_SLOT,
      size,
    });
    const fftBind = (slot: number, buf: GPUBuffer) =>
      d.createBindGroup({
        layout: fft.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: uni(slot, FFT_PARAMS_BYTES) },
          { binding: 1, resource: { buffer: buf } },
          { binding: 2, resource: { buffer: this.twiddles } },
        ],
      });
    const cross = ctx.pipeline("cross_power"), peak = ctx.pipeline("peak_search");
    this.binds = [
      fftBind(0, this.data),
      fftBind(1, this.data),
      d.createBindGroup({
        layout: cross.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: uni(2, CROSS_PARAMS_BYTES) },
          { binding: 1, resource: { buffer: this.data } },
          { binding: 2, resource: { buffer: this.cross } },
          { binding: 3, resource: { buffer: this.epsBuf } },
        ],
      }),
      fftBind(3, this.cross),
      fftBind(4, this.cross),
      d.createBindGroup({
        layout: peak.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: uni(5, PEAK_PARAMS_BYTES) },
          { binding: 1, resource: { buffer: this.cross } },
          { binding: 2, resource: { buffer: this.peaks } },
        ],
      }),
    ];
    this.capacity = cap;
  }

  /**
   * Correlates `pairs` image pairs (`a`, `b`: `pairs × width × height` values each). When
   * `surface` is given (`pairs × fftWidth × fftHeight` floats) the real correlation surfaces are
   * read back into it too (verification; costs a larger readback). Calls are serialised.
   */
  correlate(
    a: ImageBatch,
    b: ImageBatch,
    pairs: number,
    opts: PhaseCorrelateOptions = {},
    surface?: Float32Array,
  ): Promise<PhaseCorrelation> {
    const run = this.queue.then(() => this.run(a, b, pairs, opts, surface));
    this.queue = run.catch(() => {});
    return run;
  }

  private async run(
    a: ImageBatch,
    b: ImageBatch,
    pairs: number,
    opts: PhaseCorrelateOptions,
    surface?: Float32Array,
  ): Promise<PhaseCorrelation> {
    if (this.destroyed) throw new Error("GpuPhaseCorrelator used after destroy()");
    if (this.context.lost) throw new Error("the WebGPU device was lost");
    const img = this.width * this.height;
    if (a.length < pairs * img || b.length < pairs * img) {
      throw new RangeError(`expected ${pairs} images of ${this.width}×${this.height}`);
    }
    const fw = this.fftWidth, fh = this.fftHeight, size = fw * fh;
    if (surface && surface.length < pairs * size) throw new RangeError("surface too small");
    const out = allocResult(pairs);
    if (pairs === 0) return out;
    this.ensure(Math.min(pairs, this.maxPairs));
    const d = this.context.device;
    for (let start = 0; start < pairs; start += this.capacity) {
      const m = Math.min(this.capacity, pairs - start);
      const sub = (x: ImageBatch): ImageBatch =>
        ArrayBuffer.isView(x) && "subarray" in x
          ? (x as unknown as Float32Array).subarray(start * img, (start + m) * img)
          : Array.prototype.slice.call(x, start * img, (start + m) * img) as number[];
      packPairs(
        sub(a),
        sub(b),
        m,
        this.width,
        this.height,
        fw,
        fh,
        opts.epsRel ?? DEFAULT_EPS_REL,
        this.host,
        this.eps,
      );
      const fwd = fft2dConfigs(fw, fh, 2 * m, false);
      const inv = fft2dConfigs(fw, fh, m, true);
      const twN = Math.max(fw, fh);
      const cfgs: FftLinesConfig[] = [fwd.rows, fwd.cols, inv.rows, inv.cols];
      packFftParams(cfgs[0], twN, this.uniHost, 0);
      packFftParams(cfgs[1], twN, this.uniHost, UNIFORM_SLOT);
      packCrossParams(size, m, opts.phase ?? true, this.uniHost, 2 * UNIFORM_SLOT);
      packFftParams(cfgs[2], twN, this.uniHost, 3 * UNIFORM_SLOT);
      packFftParams(cfgs[3], twN, this.uniHost, 4 * UNIFORM_SLOT);
      packPeakParams(size, m, this.uniHost, 5 * UNIFORM_SLOT);
      d.queue.writeBuffer(this.uniforms, 0, this.uniHost);
      d.queue.writeBuffer(this.data!, 0, this.host, 0, 4 * m * size);
      d.queue.writeBuffer(this.epsBuf!, 0, this.eps, 0, m);
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      const fftPipe = this.context.pipeline("fft_radix2");
      const fftPass = (cfg: FftLinesConfig, bind: GPUBindGroup) => {
        pass.setPipeline(fftPipe);
        pass.setBindGroup(0, bind);
        const [gx, gy] = dispatchSize(Math.ceil(cfg.lines / fftLinesPerGroup(cfg.n)));
        pass.dispatchWorkgroups(gx, gy);
      };
      fftPass(cfgs[0], this.binds[0]);
      fftPass(cfgs[1], this.binds[1]);
      pass.setPipeline(this.context.pipeline("cross_power"));
      pass.setBindGroup(0, this.binds[2]);
      const [cx, cy] = dispatchSize(Math.ceil((m * size) / 256));
      pass.dispatchWorkgroups(cx, cy);
      fftPass(cfgs[2], this.binds[3]);
      fftPass(cfgs[3], this.binds[4]);
      pass.setPipeline(this.context.pipeline("peak_search"));
      pass.setBindGroup(0, this.binds[5]);
      const [px, py] = dispatchSize(m);
      pass.dispatchWorkgroups(px, py);
      pass.end();
      enc.copyBufferToBuffer(this.peaks!, 0, this.peaksRead!, 0, 8 * m);
      if (surface) {
        this.surfRead ??= createBuffer(
          d,
          8 * this.capacity * size,
          GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
          "surface readback",
        );
        enc.copyBufferToBuffer(this.cross!, 0, this.surfRead, 0, 8 * m * size);
      }
      d.queue.submit([enc.finish()]);
      await this.peaksRead!.mapAsync(GPUMapMode.READ, 0, 8 * m);
      const pk = new Uint32Array(this.peaksRead!.getMappedRange(0, 8 * m));
      const fv = new Float32Array(pk.buffer, pk.byteOffset, pk.length);
      for (let p = 0; p < m; p++) setPeak(out, start + p, pk[2 * p], fv[2 * p + 1], fw, fh);
      this.peaksRead!.unmap();
      if (surface) {
        await this.surfRead!.mapAsync(GPUMapMode.READ, 0, 8 * m * size);
        const s = new Float32Array(this.surfRead!.getMappedRange(0, 8 * m * size));
        for (let k = 0; k < m * size; k++) surface[start * size + k] = s[2 * k];
        this.surfRead!.unmap();
      }
    }
    return out;
  }

  /** Releases the GPU buffers (the shared device stays). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (
      const b of [
        this.data,
        this.cross,
        this.epsBuf,
        this.peaks,
        this.peaksRead,
        this.surfRead,
        this.twiddles,
        this.uniforms,
      ]
    ) b?.destroy();
  }
}
