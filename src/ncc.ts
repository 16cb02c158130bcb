/**
 * Zero-normalised cross-correlation (NCC, the Pearson correlation of template and image window,
 * in [-1, 1]) of a template over an image, for every placement with the template fully inside
 * the image: FFT cross-correlation for the numerator, integral images (sum, sum of squares) for
 * the window means/variances. Flat windows or templates score 0, never NaN.
 *
 * {@link NccCorrelator} is the batched form the spatial search uses (many templates × many
 * images per call, reduced to the best image per placement): {@link CpuNccCorrelator} here,
 * `GpuNccCorrelator` in src/gpu/ncc_gpu.ts.
 * @module
 */
import { Fft2D, nextPowerOfTwo } from "./fft.ts";
import type { GrayImage, PixelArray } from "./gray_image.ts";

/** Variance (per pixel, luma^2) below which a window or template counts as flat. */
export const FLAT_VARIANCE = 1e-3;

/** An NCC map: entry `(x, y)` is the score of the template's top-left at image pixel `(x, y)`. */
export interface NccMap {
  /** `imageWidth - templateWidth + 1`. */
  width: number;
  /** `imageHeight - templateHeight + 1`. */
  height: number;
  /** Scores, row-major. */
  data: Float32Array;
}

/** A local maximum of an {@link NccMap}. */
export interface NccPeak {
  /** Column in the map (= template left in the image). */
  x: number;
  /** Row in the map (= template top in the image). */
  y: number;
  /** NCC at the peak. */
  score: number;
}

/** Summed-area tables of an image: `(width+1) x (height+1)`, zero first row/column. */
export interface IntegralImage {
  /** Image width. */
  width: number;
  /** Image height. */
  height: number;
  /** Sums of values. */
  sum: Float64Array;
  /** Sums of squared values. */
  sumSq: Float64Array;
}

/**
 * Builds the summed-area tables (sum and sum of squares) of a `width x height` image; `reuse`
 * (tables of the same size) is overwritten instead of allocating new ones.
 */
export function integralImage(
  data: PixelArray,
  width: number,
  height: number,
  reuse?: IntegralImage,
): IntegralImage {
  const W = width + 1, size = W * (height + 1);
  const fits = reuse !== undefined && reuse.width === width && reuse.height === height &&
    reuse.sum.length === size;
  const sum = fits ? reuse.sum : new Float64Array(size);
  const sumSq = fits ? reuse.sumSq : new Float64Array(size);
  for (let y = 0; y < height; y++) {
    let rs = 0, rq = 0;
    const src = y * width, o = (y + 1) * W, p = y * W;
    for (let x = 0; x < width; x++) {
      const v = data[src + x];
      rs += v;
      rq += v * v;
      sum[o + x + 1] = sum[p + x + 1] + rs;
      sumSq[o + x + 1] = sumSq[p + x + 1] + rq;
    }
  }
  return { width, height, sum, sumSq };
}

/** A template with its mean removed, ready for {@link nccPlaced}. */
export interface CenteredTemplate {
  /** Width. */
  width: number;
  /** Height. */
  height: number;
  /** Values minus their mean, row-major. */
  data: Float32Array;
  /** Mean of the original values. */
  mean: number;
  /** Sum of squared centred values (0 for a flat template). */
  sumSq: number;
}

/** Removes the mean of a `width x height` template (copying it into a Float32Array). */
export function centerTemplate(data: PixelArray, width: number, height: number): CenteredTemplate {
  const n = width * height;
  let s = 0;
  for (let i = 0; i < n; i++) s += data[i];
  const mean = n > 0 ? s / n : 0;
  const out = new Float32Array(n);
  let q = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i] - mean;
    out[i] = v;
    q += v * v;
  }
  return { width, height, data: out, mean, sumSq: q };
}

/**
 * NCC of a centred template placed with its top-left at `(x, y)` in an image (row stride
 * `imageWidth`); the placement must lie inside the image. With `rowStep > 1` only every
 * `rowStep`-th template row is used (a faster estimate).
 */
export function nccPlaced(
  tpl: CenteredTemplate,
  image: PixelArray,
  imageWidth: number,
  x: number,
  y: number,
  rowStep = 1,
): number {
  const tw = tpl.width, th = tpl.height, t = tpl.data;
  let st = 0, stt = 0, si = 0, sii = 0, sti = 0, n = 0;
  for (let r = 0; r < th; r += rowStep) {
    const to = r * tw;
    const io = (y + r) * imageWidth + x;
    for (let c = 0; c < tw; c++) {
      const a = t[to + c];
      const b = image[io + c];
      st += a;
      stt += a * a;
      si += b;
      sii += b * b;
      sti += a * b;
    }
    n += tw;
  }
  if (n === 0) return 0;
  const vt = stt - (st * st) / n;
  const vi = sii - (si * si) / n;
  if (vt <= FLAT_VARIANCE * n || vi <= FLAT_VARIANCE * n) return 0;
  const r = (sti - (st * si) / n) / Math.sqrt(vt * vi);
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

/**
 * Direct NCC of `template` placed with its top-left at `(x, y)` in `image` (must fit inside).
 * Reference implementation for verification and refinement.
 */
export function nccAt(image: GrayImage, template: GrayImage, x: number, y: number): number {
  if (
    x < 0 || y < 0 || x + template.width > image.width || y + template.height > image.height
  ) {
    throw new RangeError("nccAt: template placement outside the image");
  }
  const c = centerTemplate(template.data, template.width, template.height);
  return nccPlaced(c, image.data, image.width, x, y);
}

/** FFT spectra of one or two images (packed as real and imaginary parts) plus their integrals. */
export interface PreparedImages {
  /** Image width (both images). */
  width: number;
  /** Image height. */
  height: number;
  /** Spectrum, real part. */
  re: Float64Array;
  /** Spectrum, imaginary part. */
  im: Float64Array;
  /** Integral images of the first image. */
  a: IntegralImage;
  /** Integral images of the second image, if any. */
  b: IntegralImage | null;
}

/** FFT spectrum of a zero-mean template. */
export interface PreparedTemplate {
  /** Template width. */
  width: number;
  /** Template height. */
  height: number;
  /** Spectrum, real part. */
  re: Float64Array;
  /** Spectrum, imaginary part. */
  im: Float64Array;
  /** Sum of squared centred template values. */
  sumSq: number;
}

/**
 * FFT cross-correlation plan for images up to a given size. Two images can share one complex
 * FFT (one as real part, one as imaginary part): since the template is real, one inverse FFT
 * then yields both correlations.
 */
export class NccPlan {
  /** FFT grid width (power of two >= image width). */
  readonly fftWidth: number;
  /** FFT grid height. */
  readonly fftHeight: number;
  private readonly fft: Fft2D;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  /** A plan for images of at most `imageWidth x imageHeight`. */
  constructor(imageWidth: number, imageHeight: number) {
    this.fftWidth = nextPowerOfTwo(imageWidth);
    this.fftHeight = nextPowerOfTwo(imageHeight);
    this.fft = new Fft2D(this.fftWidth, this.fftHeight);
    this.re = new Float64Array(this.fftWidth * this.fftHeight);
    this.im = new Float64Array(this.fftWidth * this.fftHeight);
  }

  /**
   * Transforms image `a` (and optionally `b`, same size) for repeated correlation. `reuse` (from
   * an earlier call on a plan of the same size) has its buffers overwritten instead of
   * allocating new ones.
   */
  prepareImages(
    a: PixelArray,
    b: PixelArray | null,
    width: number,
    height: number,
    reuse?: PreparedImages,
  ): PreparedImages {
    const fw = this.fftWidth, size = fw * this.fftHeight;
    if (width > fw || height > this.fftHeight) throw new RangeError("image larger than plan");
    const fits = reuse !== undefined && reuse.re.length === size;
    const re = fits ? reuse.re.fill(0) : new Float64Array(size);
    const im = fits ? reuse.im.fill(0) : new Float64Array(size);
    for (let y = 0; y < height; y++) {
      const s = y * width, o = y * fw;
      for (let x = 0; x < width; x++) re[o + x] = a[s + x];
      if (b) { for (let x = 0; x < width; x++) im[o + x] = b[s + x]; }
    }
    this.fft.forward(re, im, height, width);
    return {
      width,
      height,
      re,
      im,
      a: integralImage(a, width, height, fits ? reuse.a : undefined),
      b: b ? integralImage(b, width, height, fits ? reuse.b ?? undefined : undefined) : null,
    };
  }

  /**
   * Transforms a template (its mean is removed first). Returns null for a flat template.
   * `reuse` (from an earlier call on this plan) has its buffers overwritten instead of
   * allocating new ones.
   */
  prepareTemplate(
    data: PixelArray,
    width: number,
    height: number,
    reuse?: PreparedTemplate,
  ): PreparedTemplate | null {
    const fw = this.fftWidth, size = fw * this.fftHeight;
    if (width > fw || height > this.fftHeight) throw new RangeError("template larger than plan");
    const n = width * height;
    let s = 0;
    for (let i = 0; i < n; i++) s += data[i];
    const mean = s / n;
    let q = 0;
    for (let i = 0; i < n; i++) {
      const v = data[i] - mean;
      q += v * v;
    }
    if (q <= FLAT_VARIANCE * n) return null;
    const re = reuse && reuse.re.length === size ? reuse.re : new Float64Array(size);
    const im = reuse && reuse.im.length === size ? reuse.im : new Float64Array(size);
    re.fill(0);
    im.fill(0);
    for (let y = 0; y < height; y++) {
      const si = y * width, o = y * fw;
      for (let x = 0; x < width; x++) re[o + x] = data[si + x] - mean;
    }
    this.fft.forward(re, im, height, width);
    return { width, height, re, im, sumSq: q };
  }

  /**
   * Raw cross-correlation of the (zero-mean) template with the prepared image(s): entry
   * `v * stride + u` of `re` (first image) and `im` (second image) is
   * `sum T'(i, j) * I(u + i, v + j)` for the valid placements `u < width`, `v < height`. The
   * arrays are the plan's scratch buffers, overwritten by the next call.
   */
  crossCorrelate(
    images: PreparedImages,
    tpl: PreparedTemplate,
  ): { re: Float64Array; im: Float64Array; stride: number; width: number; height: number } {
    const mw = images.width - tpl.width + 1, mh = images.height - tpl.height + 1;
    const re = this.re, im = this.im;
    if (mw <= 0 || mh <= 0) return { re, im, stride: this.fftWidth, width: 0, height: 0 };
    const ar = images.re, ai = images.im, tr = tpl.re, ti = tpl.im;
    for (let i = 0, n = re.length; i < n; i++) {
      // I * conj(T)
      const xr = ar[i], xi = ai[i], yr = tr[i], yi = ti[i];
      re[i] = xr * yr + xi * yi;
      im[i] = xi * yr - xr * yi;
    }
    this.fft.inverse(re, im, mh, mw);
    return { re, im, stride: this.fftWidth, width: mw, height: mh };
  }

  /**
   * NCC maps of the template over the prepared image(s): writes
   * `(width - tw + 1) x (height - th + 1)` scores into `outA` (and `outB` for the second image,
   * when there is one and `outB` is given). Returns the map size.
   */
  correlate(
    images: PreparedImages,
    tpl: PreparedTemplate,
    outA: Float32Array,
    outB: Float32Array | null = null,
  ): { width: number; height: number } {
    const c = this.crossCorrelate(images, tpl);
    if (c.width === 0) return { width: 0, height: 0 };
    normalise(c.re, c.stride, images.a, tpl, c.width, c.height, outA);
    if (outB && images.b) normalise(c.im, c.stride, images.b, tpl, c.width, c.height, outB);
    return { width: c.width, height: c.height };
  }
}

/**
 * `1 / sqrt(sum over the window of (I - mean)^2)` for every placement of a `tw x th` window
 * fully inside the image (0 for flat windows), row-major into `out`; returns the map size.
 * Multiplying a raw correlation with a zero-mean template by this and by
 * `1 / sqrt(template sumSq)` gives the NCC.
 */
export function windowInvStd(
  ii: IntegralImage,
  tw: number,
  th: number,
  out: Float32Array,
): { width: number; height: number } {
  const mw = ii.width - tw + 1, mh = ii.height - th + 1;
  if (mw <= 0 || mh <= 0) return { width: 0, height: 0 };
  const n = tw * th, W = ii.width + 1, S = ii.sum, Q = ii.sumSq, flat = FLAT_VARIANCE * n;
  for (let v = 0; v < mh; v++) {
    const r0 = v * W, r1 = (v + th) * W, o = v * mw;
    for (let u = 0; u < mw; u++) {
      const a = r0 + u, b = a + tw, d = r1 + u, e = d + tw;
      const s = S[e] - S[b] - S[d] + S[a];
      const vi = Q[e] - Q[b] - Q[d] + Q[a] - (s * s) / n;
      out[o + u] = vi <= flat ? 0 : 1 / Math.sqrt(vi);
    }
  }
  return { width: mw, height: mh };
}

function normalise(
  corr: Float64Array,
  stride: number,
  ii: IntegralImage,
  tpl: PreparedTemplate,
  mw: number,
  mh: number,
  out: Float32Array,
): void {
  const tw = tpl.width, th = tpl.height, n = tw * th;
  const W = ii.width + 1;
  const S = ii.sum, Q = ii.sumSq;
  const tq = tpl.sumSq;
  const flat = FLAT_VARIANCE * n;
  for (let v = 0; v < mh; v++) {
    const r0 = v * W, r1 = (v + th) * W;
    const o = v * mw, c = v * stride;
    for (let u = 0; u < mw; u++) {
      const a = r0 + u, b = r0 + u + tw, d = r1 + u, e = r1 + u + tw;
      const s = S[e] - S[b] - S[d] + S[a];
      const q = Q[e] - Q[b] - Q[d] + Q[a];
      const vi = q - (s * s) / n;
      if (vi <= flat) {
        out[o + u] = 0;
        continue;
      }
      const r = corr[c + u] / Math.sqrt(tq * vi);
      out[o + u] = r > 1 ? 1 : r < -1 ? -1 : r;
    }
  }
}

/**
 * NCC of `template` at every placement fully inside `image` (FFT based). A flat template gives
 * an all-zero map; a template larger than the image an empty one.
 */
export function nccMap(image: GrayImage, template: GrayImage): NccMap {
  const mw = image.width - template.width + 1, mh = image.height - template.height + 1;
  if (mw <= 0 || mh <= 0) return { width: 0, height: 0, data: new Float32Array(0) };
  const data = new Float32Array(mw * mh);
  const plan = new NccPlan(image.width, image.height);
  const tpl = plan.prepareTemplate(template.data, template.width, template.height);
  if (!tpl) return { width: mw, height: mh, data };
  const img = plan.prepareImages(image.data, null, image.width, image.height);
  plan.correlate(img, tpl, data);
  return { width: mw, height: mh, data };
}

/**
 * The `count` highest local maxima (3x3 neighbourhood) of an NCC map, best first, at least
 * `minDistance` apart (Chebyshev distance; a weaker peak closer than that to a stronger one
 * is dropped).
 */
export function nccPeaks(map: NccMap, count: number, minDistance = 1): NccPeak[] {
  const { width: w, height: h, data } = map;
  const all: NccPeak[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x];
      let isMax = true;
      for (let dy = -1; dy <= 1 && isMax; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if ((dx === 0 && dy === 0) || xx < 0 || xx >= w) continue;
          const u = data[yy * w + xx];
          // ties: the first in scan order wins
          if (u > v || (u === v && (dy < 0 || (dy === 0 && dx < 0)))) {
            isMax = false;
            break;
          }
        }
      }
      if (isMax) all.push({ x, y, score: v });
    }
  }
  all.sort((a, b) => b.score - a.score);
  const out: NccPeak[] = [];
  for (const p of all) {
    if (out.length >= count) break;
    if (out.some((q) => Math.max(Math.abs(q.x - p.x), Math.abs(q.y - p.y)) < minDistance)) continue;
    out.push(p);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Batched best-match maps (the coarse spatial search's FFT work), behind an injectable interface

/** Templates of one size, correlated over every image of a {@link NccCorrelator.bestOver} call. */
export interface NccBatch {
  /** Template width. */
  width: number;
  /** Template height. */
  height: number;
  /** Template pixels (`width × height`, row-major), or null to skip that entry. */
  templates: (PixelArray | null)[];
}

/** Per placement, the best NCC of one template over all images and the image giving it. */
export interface NccBest {
  /** Map width (`imageWidth − templateWidth + 1`). */
  width: number;
  /** Map height. */
  height: number;
  /** Best NCC per placement (row-major; ≥ −1, or −2 where nothing was compared). */
  max: Float32Array;
  /** Index of the image with the best NCC per placement (ties: the lowest index). */
  arg: Uint16Array;
}

/**
 * Computes, for templates of several sizes, the NCC maps over a set of same-size images reduced
 * to the best image per placement. The CPU implementation is {@link CpuNccCorrelator}; the WGSL
 * one is `GpuNccCorrelator` (src/gpu/ncc_gpu.ts); `createCorrelator` in src/backend.ts picks one
 * per `--backend`.
 */
export interface NccCorrelator {
  /** Which implementation runs ("cpu" or "webgpu"). */
  readonly kind: string;
  /**
   * For every batch and template: the template's NCC map over each of `images` (all
   * `width × height`, at most 65536 images), reduced to the best image per placement; null for a
   * null entry, a flat template (variance ≤ {@link FLAT_VARIANCE} per pixel), or a batch whose
   * templates do not fit inside the images. Flat image windows score 0.
   */
  bestOver(
    images: PixelArray[],
    width: number,
    height: number,
    batches: NccBatch[],
  ): Promise<(NccBest | null)[][]>;
  /** Releases resources. */
  destroy(): void;
}

/**
 * {@link NccCorrelator} on the CPU with src/fft.ts (float64): images transformed two per complex
 * FFT, one inverse FFT per template and image pair. {@link CpuNccCorrelator.bestOverSync} is the
 * same computation, synchronously.
 */
export class CpuNccCorrelator implements NccCorrelator {
  /** Always "cpu". */
  readonly kind = "cpu";
  /**
   * The last call's plan and buffers, reused by the next call of the same image size (a coarse
   * search makes several calls of each size: no garbage of tens of MB per call).
   */
  #scratch: {
    width: number;
    height: number;
    plan: NccPlan;
    packed: PreparedImages[];
    inv: Float32Array[];
  } | null = null;

  /** {@link NccCorrelator.bestOver}, computed synchronously. */
  bestOverSync(
    images: PixelArray[],
    width: number,
    height: number,
    batches: NccBatch[],
  ): (NccBest | null)[][] {
    const B = images.length;
    if (B > 65536) throw new RangeError("at most 65536 images per call");
    if (B === 0) return batches.map((b) => b.templates.map(() => null));
    let sc = this.#scratch;
    if (!sc || sc.width !== width || sc.height !== height) {
      sc = this.#scratch = { width, height, plan: new NccPlan(width, height), packed: [], inv: [] };
    }
    const plan = sc.plan;
    const packed: PreparedImages[] = [];
    for (let b = 0; b < B; b += 2) {
      const p = plan.prepareImages(
        images[b],
        b + 1 < B ? images[b + 1] : null,
        width,
        height,
        sc.packed[b >> 1],
      );
      sc.packed[b >> 1] = p;
      packed.push(p);
    }
    while (sc.inv.length < B) sc.inv.push(new Float32Array(width * height));
    const inv = sc.inv;
    let reuse: PreparedTemplate | undefined;
    return batches.map((batch) => {
      const tw = batch.width, th = batch.height;
      const mw = width - tw + 1, mh = height - th + 1, n = mw * mh;
      if (mw <= 0 || mh <= 0 || tw <= 0 || th <= 0) return batch.templates.map(() => null);
      for (let b = 0; b < B; b++) {
        const pk = packed[b >> 1];
        windowInvStd((b & 1) ? pk.b! : pk.a, tw, th, inv[b]);
      }
      return batch.templates.map((data): NccBest | null => {
        if (!data) return null;
        const pt = plan.prepareTemplate(data, tw, th, reuse);
        if (!pt) return null;
        reuse = pt;
        const tqi = 1 / Math.sqrt(pt.sumSq);
        const mx = new Float32Array(n).fill(-2), am = new Uint16Array(n);
        for (let pi = 0; pi < packed.length; pi++) {
          const c = plan.crossCorrelate(packed[pi], pt);
          const st = c.stride, re = c.re, im = c.im;
          const ia = inv[2 * pi], ib = packed[pi].b ? inv[2 * pi + 1] : null;
          const ba = 2 * pi, bb = 2 * pi + 1;
          for (let v = 0; v < mh; v++) {
            const o = v * mw, co = v * st;
            for (let u = 0; u < mw; u++) {
              const i = o + u;
              const va = re[co + u] * ia[i] * tqi;
              if (va > mx[i]) {
                mx[i] = va;
                am[i] = ba;
              }
              if (ib) {
                const vb = im[co + u] * ib[i] * tqi;
                if (vb > mx[i]) {
                  mx[i] = vb;
                  am[i] = bb;
                }
              }
            }
          }
        }
        return { width: mw, height: mh, max: mx, arg: am };
      });
    });
  }

  /** {@link NccCorrelator.bestOver} (computed synchronously; the promise is already settled). */
  bestOver(
    images: PixelArray[],
    width: number,
    height: number,
    batches: NccBatch[],
  ): Promise<(NccBest | null)[][]> {
    try {
      return Promise.resolve(this.bestOverSync(images, width, height, batches));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Drops the reused buffers. */
  destroy(): void {
    this.#scratch = null;
  }
}
