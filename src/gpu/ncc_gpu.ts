/**
 * FFT NCC best-match maps on WebGPU (the coarse spatial search's FFT work): the
 * {@link NccCorrelator} of src/ncc.ts over WGSL kernels, many template × image correlations per
 * dispatch.
 *
 * Per {@link GpuNccCorrelator.bestOver} call: the images are packed two per complex grid (image
 * 2p as real part, 2p+1 as imaginary part) and transformed once (`fft_radix2.wgsl`, rows then
 * columns); per group of batches (template sizes) the templates are transformed, then for chunks
 * of (template, image pair) combos: spectrum products (`ncc_cross.wgsl`), inverse FFTs (columns,
 * then only the rows of valid placements), and the running best NCC over the images per placement
 * (`ncc_max.wgsl`, with the window normalisation 1/σ computed on the host from float64 integral
 * images, as on the CPU). Everything of a group of batches goes into one submission: one upload
 * and one readback (the best-match maps) per group, i.e. usually one round trip per call. Buffers
 * are kept within a byte budget (32 MiB each by default): more images than fit are processed in
 * segments (the running best carries over), more templates in more groups.
 *
 * Template means, flatness and norms are computed on the host exactly as
 * `NccPlan.prepareTemplate` does, so the same templates are skipped as on the CPU; the maps
 * agree with {@link CpuNccCorrelator}'s up to float32 rounding (≈ 1e-7 measured, 1e-5 tested).
 * @module
 */
import { nextPowerOfTwo } from "../fft.ts";
import type { PixelArray } from "../gray_image.ts";
import {
  CpuNccCorrelator,
  FLAT_VARIANCE,
  type IntegralImage,
  integralImage,
  type NccBatch,
  type NccBest,
  type NccCorrelator,
  windowInvStd,
} from "../ncc.ts";
import { acquireGpu, createBuffer, dispatchSize, type GpuContext } from "./device.ts";
import {
  FFT_MAX_N,
  FFT_PARAMS_BYTES,
  type FftLinesConfig,
  fftLinesPerGroup,
  makeTwiddles,
  NCC_CROSS_PARAMS_BYTES,
  NCC_MAX_PARAMS_BYTES,
  packFftParams,
  packNccCrossParams,
  packNccMaxParams,
} from "./kernels_cpu.ts";

/** Options of {@link GpuNccCorrelator.create}. */
export interface GpuNccOptions {
  /** Use this context instead of the process-wide one. */
  context?: GpuContext;
  /**
   * Largest GPU buffer (bytes) of each kind (image spectra, template spectra, work surfaces,
   * window norms, maps); default 32 MiB, capped by the device's storage binding limit. Smaller
   * values split the work into more dispatches and submissions (tests use this).
   */
  budgetBytes?: number;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment upper bound

/** A template ready for upload. */
interface PreparedTpl {
  /** Centred values (float64, as `NccPlan.prepareTemplate` computes them). */
  data: PixelArray;
  mean: number;
  tqi: number;
}

/** One batch with (some of) its active (non-flat) templates. */
interface BatchPlan {
  index: number;
  tw: number;
  th: number;
  mw: number;
  mh: number;
  /** Template index in the batch of each active template. */
  ks: number[];
  tpls: PreparedTpl[];
}

/** A growable GPU buffer. */
class Grow {
  buf: GPUBuffer | null = null;
  bytes = 0;
  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
  ) {}
  /** The buffer, at least `bytes` long (contents are lost when it grows). */
  get(bytes: number): GPUBuffer {
    if (!this.buf || this.bytes < bytes) {
      this.buf?.destroy();
      this.bytes = Math.max(256, Math.ceil(bytes / 4096) * 4096);
      this.buf = createBuffer(this.device, this.bytes, this.usage, this.label);
    }
    return this.buf;
  }
  destroy(): void {
    this.buf?.destroy();
    this.buf = null;
    this.bytes = 0;
  }
}

/**
 * {@link NccCorrelator} on WebGPU. Image grids whose FFT sides fall outside 2..2048, tiny grids
 * (< 64 values) and grids whose spectrum exceeds the budget are handed to a
 * {@link CpuNccCorrelator}.
 */
export class GpuNccCorrelator implements NccCorrelator {
  /** Always "webgpu". */
  readonly kind = "webgpu";
  /** The context in use. */
  readonly context: GpuContext;
  /** Dispatches (compute passes' dispatch calls) of the last call, for diagnostics. */
  lastDispatches = 0;
  /** Submissions that ended in a readback (round trips) of the last call. */
  lastRoundTrips = 0;
  private readonly budget: number;
  private readonly cpu = new CpuNccCorrelator();
  private readonly bgPack: Grow;
  private readonly tplBuf: Grow;
  private readonly work: Grow;
  private readonly invBuf: Grow;
  private readonly tqiBuf: Grow;
  private readonly outBuf: Grow;
  private readonly readBuf: Grow;
  private readonly uniforms: Grow;
  private readonly twiddles = new Map<number, GPUBuffer>();
  private queue: Promise<unknown> = Promise.resolve();
  private destroyed = false;

  private constructor(ctx: GpuContext, budget: number) {
    this.context = ctx;
    this.budget = budget;
    const d = ctx.device;
    const S = GPUBufferUsage.STORAGE, DST = GPUBufferUsage.COPY_DST;
    this.bgPack = new Grow(d, S | DST, "ncc image spectra");
    this.tplBuf = new Grow(d, S | DST, "ncc template spectra");
    this.work = new Grow(d, S, "ncc work surfaces");
    this.invBuf = new Grow(d, S | DST, "ncc window norms");
    this.tqiBuf = new Grow(d, S | DST, "ncc template norms");
    this.outBuf = new Grow(d, S | GPUBufferUsage.COPY_SRC, "ncc best maps");
    this.readBuf = new Grow(d, GPUBufferUsage.MAP_READ | DST, "ncc readback");
    this.uniforms = new Grow(d, GPUBufferUsage.UNIFORM | DST, "ncc uniforms");
  }

  /** A correlator on the GPU, or `null` when WebGPU is unavailable. */
  static async create(opts: GpuNccOptions = {}): Promise<GpuNccCorrelator | null> {
    const ctx = opts.context ?? await acquireGpu();
    if (!ctx) return null;
    await ctx.prepare(["fft_radix2", "ncc_cross", "ncc_max"]);
    const limit = Math.min(
      ctx.device.limits.maxStorageBufferBindingSize,
      ctx.device.limits.maxBufferSize,
    );
    const budget = Math.max(1 << 12, Math.min(opts.budgetBytes ?? 32 * 1024 * 1024, limit));
    return new GpuNccCorrelator(ctx, budget);
  }

  /** See {@link NccCorrelator.bestOver}. Calls are serialised. */
  bestOver(
    images: PixelArray[],
    width: number,
    height: number,
    batches: NccBatch[],
  ): Promise<(NccBest | null)[][]> {
    const r = this.queue.then(() => this.run(images, width, height, batches));
    this.queue = r.catch(() => {});
    return r;
  }

  private twiddlesFor(n: number): GPUBuffer {
    let t = this.twiddles.get(n);
    if (!t) {
      const tw = makeTwiddles(n);
      t = createBuffer(this.context.device, tw.byteLength, GPUBufferUsage.STORAGE, "twiddles", tw);
      this.twiddles.set(n, t);
    }
    return t;
  }

  private async run(
    images: PixelArray[],
    width: number,
    height: number,
    batches: NccBatch[],
  ): Promise<(NccBest | null)[][]> {
    if (this.destroyed) throw new Error("GpuNccCorrelator used after destroy()");
    if (this.context.lost) throw new Error("the WebGPU device was lost");
    this.lastDispatches = 0;
    this.lastRoundTrips = 0;
    const B = images.length;
    if (B > 65536) throw new RangeError("at most 65536 images per call");
    for (const im of images) {
      if (im.length < width * height) throw new RangeError("image smaller than width × height");
    }
    const results: (NccBest | null)[][] = batches.map((b) => b.templates.map(() => null));
    if (B === 0) return results;
    const fw = nextPowerOfTwo(width), fh = nextPowerOfTwo(height), size = fw * fh;
    const surfBytes = 8 * size;
    if (
      fw < 2 || fh < 2 || fw > FFT_MAX_N || fh > FFT_MAX_N || size < 64 || surfBytes > this.budget
    ) {
      return this.cpu.bestOverSync(images, width, height, batches);
    }
    // ---- host preparation: templates (as NccPlan.prepareTemplate), integral images ----
    const plans: BatchPlan[] = [];
    batches.forEach((batch, index) => {
      const tw = batch.width, th = batch.height;
      const mw = width - tw + 1, mh = height - th + 1;
      if (mw <= 0 || mh <= 0 || tw <= 0 || th <= 0) return;
      const ks: number[] = [], tpls: PreparedTpl[] = [];
      batch.templates.forEach((data, k) => {
        if (!data) return;
        const n = tw * th;
        let s = 0;
        for (let i = 0; i < n; i++) s += data[i];
        const mean = s / n;
        let q = 0;
        for (let i = 0; i < n; i++) {
          const v = data[i] - mean;
          q += v * v;
        }
        if (q <= FLAT_VARIANCE * n) return;
        ks.push(k);
        tpls.push({ data, mean, tqi: 1 / Math.sqrt(q) });
      });
      // at most as many templates per plan as their spectra and maps fit the budget
      const per = Math.max(
        1,
        Math.min(Math.floor(this.budget / surfBytes), Math.floor(this.budget / (8 * mw * mh))),
      );
      for (let a = 0; a < ks.length; a += per) {
        plans.push({
          index,
          tw,
          th,
          mw,
          mh,
          ks: ks.slice(a, a + per),
          tpls: tpls.slice(a, a + per),
        });
      }
    });
    if (plans.length === 0) return results;
    const P = Math.ceil(B / 2);
    const segPairs = Math.max(1, Math.min(P, Math.floor(this.budget / surfBytes)));
    const segments: { p0: number; pc: number }[] = [];
    for (let p0 = 0; p0 < P; p0 += segPairs) segments.push({ p0, pc: Math.min(segPairs, P - p0) });
    const ii: IntegralImage[] = images.map((im) => integralImage(im, width, height));
    // groups of plans whose templates, window norms (per segment) and maps fit the budget
    const groups: BatchPlan[][] = [];
    let cur: BatchPlan[] = [], tplB = 0, invB = 0, outB = 0;
    for (const bp of plans) {
      const n = bp.mw * bp.mh, a = bp.ks.length;
      const t = a * surfBytes, iv = 2 * segPairs * n * 4, o = a * n * 8; // each ≤ budget
      if (
        cur.length &&
        (tplB + t > this.budget || invB + iv > this.budget || outB + o > this.budget)
      ) {
        groups.push(cur);
        cur = [];
        tplB = invB = outB = 0;
      }
      cur.push(bp);
      tplB += t;
      invB += iv;
      outB += o;
    }
    if (cur.length) groups.push(cur);

    const d = this.context.device;
    const twN = Math.max(fw, fh);
    const tw = this.twiddlesFor(twN);
    const comboCap = Math.max(1, Math.floor(this.budget / surfBytes));
    const pack = new Float32Array(2 * segPairs * size);
    let bgLoaded = -1; // segment whose spectra are in the buffer
    for (const group of groups) {
      // templates of the group: centred values, zero-padded, one complex grid each
      const T = group.reduce((s, bp) => s + bp.ks.length, 0);
      const tplHost = new Float32Array(2 * T * size);
      const tqiHost = new Float32Array(T);
      let maxTh = 0, t = 0;
      const tplBase: number[] = [], outBase: number[] = [], invBase: number[] = [];
      let outTotal = 0, invTotal = 0;
      for (const bp of group) {
        tplBase.push(t);
        outBase.push(outTotal);
        invBase.push(invTotal);
        outTotal += bp.ks.length * bp.mw * bp.mh;
        invTotal += 2 * segPairs * bp.mw * bp.mh;
        maxTh = Math.max(maxTh, bp.th);
        for (const tp of bp.tpls) {
          const o = 2 * t * size;
          for (let y = 0; y < bp.th; y++) {
            for (let x = 0; x < bp.tw; x++) {
              tplHost[o + 2 * (y * fw + x)] = tp.data[y * bp.tw + x] - tp.mean;
            }
          }
          tqiHost[t++] = tp.tqi;
        }
      }
      const tplGpu = this.tplBuf.get(tplHost.byteLength);
      d.queue.writeBuffer(tplGpu, 0, tplHost);
      const tqiGpu = this.tqiBuf.get(tqiHost.byteLength);
      d.queue.writeBuffer(tqiGpu, 0, tqiHost);
      const outGpu = this.outBuf.get(8 * outTotal);
      const invHost = new Float32Array(invTotal);
      const invGpu = this.invBuf.get(invHost.byteLength);
      const maxCombos = Math.max(...group.map((bp) => bp.ks.length * segPairs));
      const workGpu = this.work.get(Math.min(comboCap, maxCombos) * surfBytes);
      for (let si = 0; si < segments.length; si++) {
        const seg = segments[si];
        const passes: ((pass: GPUComputePassEncoder, uni: GPUBuffer) => void)[] = [];
        const uniHost: ArrayBuffer[] = [];
        const slot = (bytes: number, fill: (dst: ArrayBuffer) => void): number => {
          const b = new ArrayBuffer(bytes);
          fill(b);
          uniHost.push(b);
          return uniHost.length - 1;
        };
        const fftPass = (cfg: FftLinesConfig, buf: GPUBuffer) => {
          const s = slot(FFT_PARAMS_BYTES, (b) => packFftParams(cfg, twN, b));
          const pipe = this.context.pipeline("fft_radix2");
          passes.push((pass, uni) => {
            pass.setPipeline(pipe);
            pass.setBindGroup(
              0,
              d.createBindGroup({
                layout: pipe.getBindGroupLayout(0),
                entries: [
                  {
                    binding: 0,
                    resource: { buffer: uni, offset: s * UNIFORM_SLOT, size: FFT_PARAMS_BYTES },
                  },
                  { binding: 1, resource: { buffer: buf } },
                  { binding: 2, resource: { buffer: tw } },
                ],
              }),
            );
            const [gx, gy] = dispatchSize(Math.ceil(cfg.lines / fftLinesPerGroup(cfg.n)));
            pass.dispatchWorkgroups(gx, gy);
          });
        };
        // image spectra of this segment
        const bgGpu = this.bgPack.get(2 * segPairs * size * 4);
        if (bgLoaded !== si) {
          pack.fill(0);
          for (let p = 0; p < seg.pc; p++) {
            const a = images[2 * (seg.p0 + p)];
            const b = 2 * (seg.p0 + p) + 1 < B ? images[2 * (seg.p0 + p) + 1] : null;
            const o = 2 * p * size;
            for (let y = 0; y < height; y++) {
              const r = o + 2 * y * fw, s = y * width;
              for (let x = 0; x < width; x++) pack[r + 2 * x] = a[s + x];
              if (b) { for (let x = 0; x < width; x++) pack[r + 2 * x + 1] = b[s + x]; }
            }
          }
          d.queue.writeBuffer(bgGpu, 0, pack, 0, 2 * seg.pc * size);
          fftPass(rowsConfig(fw, fh, seg.pc, height, false, 1), bgGpu);
          fftPass(colsConfig(fw, fh, seg.pc, false, 1), bgGpu);
          bgLoaded = si;
        }
        if (si === 0) {
          fftPass(rowsConfig(fw, fh, T, maxTh, false, 1), tplGpu);
          fftPass(colsConfig(fw, fh, T, false, 1), tplGpu);
        }
        // window norms of this segment's images, per batch
        group.forEach((bp, gi) => {
          const n = bp.mw * bp.mh;
          for (let l = 0; l < 2 * seg.pc && 2 * seg.p0 + l < B; l++) {
            const o = invBase[gi] + l * n;
            windowInvStd(ii[2 * seg.p0 + l], bp.tw, bp.th, invHost.subarray(o, o + n));
          }
        });
        d.queue.writeBuffer(invGpu, 0, invHost);
        // correlations, chunk by chunk of combos
        group.forEach((bp, gi) => {
          const A = bp.ks.length, combos = A * seg.pc, n = bp.mw * bp.mh;
          for (let c0 = 0; c0 < combos; c0 += comboCap) {
            const cc = Math.min(comboCap, combos - c0);
            const sc = slot(NCC_CROSS_PARAMS_BYTES, (b) =>
              packNccCrossParams({
                count: size,
                pairs: seg.pc,
                combo0: c0,
                combos: cc,
                tplBase: tplBase[gi],
              }, b));
            const cross = this.context.pipeline("ncc_cross");
            passes.push((pass, uni) => {
              pass.setPipeline(cross);
              pass.setBindGroup(
                0,
                d.createBindGroup({
                  layout: cross.getBindGroupLayout(0),
                  entries: [
                    {
                      binding: 0,
                      resource: {
                        buffer: uni,
                        offset: sc * UNIFORM_SLOT,
                        size: NCC_CROSS_PARAMS_BYTES,
                      },
                    },
                    { binding: 1, resource: { buffer: bgGpu } },
                    { binding: 2, resource: { buffer: tplGpu } },
                    { binding: 3, resource: { buffer: workGpu } },
                  ],
                }),
              );
              const [gx, gy] = dispatchSize(Math.ceil((cc * size) / 256));
              pass.dispatchWorkgroups(gx, gy);
            });
            fftPass(colsConfig(fw, fh, cc, true, 1), workGpu);
            fftPass(rowsConfig(fw, fh, cc, bp.mh, true, 1 / size), workGpu);
            const sm = slot(NCC_MAX_PARAMS_BYTES, (b) =>
              packNccMaxParams({
                mw: bp.mw,
                mh: bp.mh,
                fw,
                count: size,
                pairs: seg.pc,
                pair0: seg.p0,
                images: B,
                combo0: c0,
                combos: cc,
                kCount: A,
                invBase: invBase[gi],
                tqiBase: tplBase[gi],
                outBase: outBase[gi],
              }, b));
            const mx = this.context.pipeline("ncc_max");
            passes.push((pass, uni) => {
              pass.setPipeline(mx);
              pass.setBindGroup(
                0,
                d.createBindGroup({
                  layout: mx.getBindGroupLayout(0),
                  entries: [
                    {
                      binding: 0,
                      resource: {
                        buffer: uni,
                        offset: sm * UNIFORM_SLOT,
                        size: NCC_MAX_PARAMS_BYTES,
                      },
                    },
                    { binding: 1, resource: { buffer: workGpu } },
                    { binding: 2, resource: { buffer: invGpu } },
                    { binding: 3, resource: { buffer: tqiGpu } },
                    { binding: 4, resource: { buffer: outGpu } },
                  ],
                }),
              );
              const [gx, gy] = dispatchSize(Math.ceil((A * n) / 256));
              pass.dispatchWorkgroups(gx, gy);
            });
          }
        });
        // one uniform block per pass, one compute pass, one submission
        const uniBytes = uniHost.length * UNIFORM_SLOT;
        const uniGpu = this.uniforms.get(uniBytes);
        const uni = new Uint8Array(uniBytes);
        uniHost.forEach((b, i) => uni.set(new Uint8Array(b), i * UNIFORM_SLOT));
        d.queue.writeBuffer(uniGpu, 0, uni);
        const enc = d.createCommandEncoder();
        const pass = enc.beginComputePass();
        for (const p of passes) p(pass, uniGpu);
        pass.end();
        this.lastDispatches += passes.length;
        const last = si === segments.length - 1;
        if (last) {
          enc.copyBufferToBuffer(outGpu, 0, this.readBuf.get(8 * outTotal), 0, 8 * outTotal);
        }
        d.queue.submit([enc.finish()]);
      }
      // read the maps back
      const rb = this.readBuf.buf!;
      await rb.mapAsync(GPUMapMode.READ, 0, 8 * outTotal);
      this.lastRoundTrips++;
      const raw = new Uint32Array(rb.getMappedRange(0, 8 * outTotal).slice(0));
      rb.unmap();
      const f = new Float32Array(raw.buffer);
      group.forEach((bp, gi) => {
        const n = bp.mw * bp.mh;
        bp.ks.forEach((k, a) => {
          const o = 2 * (outBase[gi] + a * n);
          const max = new Float32Array(n), arg = new Uint16Array(n);
          for (let i = 0; i < n; i++) {
            max[i] = f[o + 2 * i];
            arg[i] = raw[o + 2 * i + 1];
          }
          results[bp.index][k] = { width: bp.mw, height: bp.mh, max, arg };
        });
      });
    }
    return results;
  }

  /** Releases the GPU buffers (the shared device stays). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (
      const g of [
        this.bgPack,
        this.tplBuf,
        this.work,
        this.invBuf,
        this.tqiBuf,
        this.outBuf,
        this.readBuf,
        this.uniforms,
      ]
    ) g.destroy();
    for (const t of this.twiddles.values()) t.destroy();
    this.twiddles.clear();
  }
}

/** Row FFTs of the first `rows` rows of `images` `fw × fh` complex grids. */
function rowsConfig(
  fw: number,
  fh: number,
  images: number,
  rows: number,
  inverse: boolean,
  scale: number,
): FftLinesConfig {
  return {
    n: fw,
    lines: images * rows,
    elemStride: 1,
    lineStep: fw,
    linesPerImage: rows,
    imageStride: fw * fh,
    inverse,
    scale,
  };
}

/** Column FFTs of `images` `fw × fh` complex grids. */
function colsConfig(
  fw: number,
  fh: number,
  images: number,
  inverse: boolean,
  scale: number,
): FftLinesConfig {
  return {
    n: fh,
    lines: images * fw,
    elemStride: fw,
    lineStep: 1,
    linesPerImage: fw,
    imageStride: fw * fh,
    inverse,
    scale,
  };
}
