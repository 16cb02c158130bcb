/**
 * 8-bit gray (luma) images, rectangles and resampling helpers used by the spatial search.
 * Everything here is pure: no I/O.
 * @module
 */

/** An 8-bit luma image, row-major, stride = width. */
export interface GrayImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height` luma samples, row-major. */
  data: Uint8Array;
}

/** An axis-aligned rectangle in pixel units (top-left corner and size). */
export interface Rect {
  /** Left edge (inclusive). */
  x: number;
  /** Top edge (inclusive). */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** Pixel storage accepted by the low-level helpers: 8-bit luma or float luma (0..255 scale). */
export type PixelArray = Uint8Array | Float32Array;

/** A float luma image (values on the 0..255 scale), used for pyramid levels. */
export interface FloatImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height` samples, row-major. */
  data: Float32Array;
}

/** Makes a black gray image of the given size. */
export function createGray(width: number, height: number): GrayImage {
  return { width, height, data: new Uint8Array(width * height) };
}

/** The whole image as a rectangle. */
export function fullRect(img: { width: number; height: number }): Rect {
  return { x: 0, y: 0, width: img.width, height: img.height };
}

/** Intersection of a rectangle with `[0, width) x [0, height)`; may have zero size. */
export function clampRect(r: Rect, width: number, height: number): Rect {
  const x0 = Math.max(0, Math.min(width, r.x));
  const y0 = Math.max(0, Math.min(height, r.y));
  const x1 = Math.max(x0, Math.min(width, r.x + r.width));
  const y1 = Math.max(y0, Math.min(height, r.y + r.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Copies the part of `img` under `rect` (clamped to the image) into a new image. */
export function cropGray(img: GrayImage, rect: Rect): GrayImage {
  const r = clampRect(rect, img.width, img.height);
  const out = createGray(r.width, r.height);
  for (let y = 0; y < r.height; y++) {
    const s = (r.y + y) * img.width + r.x;
    out.data.set(img.data.subarray(s, s + r.width), y * r.width);
  }
  return out;
}

/**
 * Resamples `img` to `width x height`: area averaging along an axis that shrinks, bilinear
 * interpolation (pixel centres aligned) along an axis that grows; identity when the size is
 * unchanged.
 */
export function resizeGray(img: GrayImage, width: number, height: number): GrayImage {
  if (width === img.width && height === img.height) {
    return { width, height, data: img.data.slice() };
  }
  const out = createGray(width, height);
  resizeGrayInto(img, out);
  return out;
}

let resizeScratch = new Float32Array(0);

/**
 * {@link resizeGray} into an existing image (its size is the target size): the same pixels,
 * without allocating a picture per call (for resizing every frame of a long video).
 */
export function resizeGrayInto(img: GrayImage, out: GrayImage): void {
  const { width, height } = out;
  if (width === img.width && height === img.height) {
    out.data.set(img.data);
    return;
  }
  const n = width * height;
  if (resizeScratch.length < n) resizeScratch = new Float32Array(n);
  const tmp = resizeScratch.subarray(0, n);
  resampleRegion(
    img.data,
    img.width,
    img.height,
    img.width / width,
    img.height / height,
    { x: 0, y: 0, width, height },
    fullRect(img),
    tmp,
  );
  const d = out.data;
  for (let i = 0; i < n; i++) d[i] = tmp[i] + 0.5; // values stay in [0, 255.5]: truncation rounds
}

/** Per-axis resampling taps: `taps` source indices/weights per output sample. */
interface AxisTable {
  taps: number;
  index: Int32Array;
  weight: Float32Array;
  /** Smallest source index used. */
  lo: number;
  /** Largest source index used. */
  hi: number;
}

/**
 * Taps mapping output samples `o0 .. o0+n-1` to source samples when one output sample spans
 * `k` source samples (output sample `X` covers source `[X*k, (X+1)*k)`); source indices are
 * clamped to `[clipLo, clipHi)`.
 */
function axisTable(
  k: number,
  o0: number,
  n: number,
  clipLo: number,
  clipHi: number,
  origin = 0,
): AxisTable {
  const down = k > 1 + 1e-9;
  const taps = down ? Math.ceil(k) + 1 : 2;
  const index = new Int32Array(n * taps);
  const weight = new Float32Array(n * taps);
  const last = clipHi - 1;
  let lo = last, hi = clipLo;
  const clamp = (i: number) => (i < clipLo ? clipLo : i > last ? last : i);
  for (let j = 0; j < n; j++) {
    const X = o0 + j;
    const base = j * taps;
    if (down) {
      const a = origin + X * k, b = origin + (X + 1) * k;
      const i0 = Math.floor(a);
      for (let t = 0; t < taps; t++) {
        const i = i0 + t;
        const w = Math.max(0, Math.min(b, i + 1) - Math.max(a, i)) / k;
        const ci = clamp(i);
        index[base + t] = ci;
        weight[base + t] = w;
        if (w > 0) {
          if (ci < lo) lo = ci;
          if (ci > hi) hi = ci;
        }
      }
    } else {
      const c = origin + (X + 0.5) * k - 0.5;
      const i0 = Math.floor(c);
      const f = c - i0;
      const a = clamp(i0), b = clamp(i0 + 1);
      index[base] = a;
      weight[base] = 1 - f;
      index[base + 1] = b;
      weight[base + 1] = f;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
      if (a > hi) hi = a;
    }
  }
  if (lo > hi) lo = hi = clamp(0);
  return { taps, index, weight, lo, hi };
}

let scratch = new Float32Array(0);

/**
 * Separable resampling of a region of a virtual output image.
 *
 * The output image is `src` scaled so that one output pixel spans `kx x ky` source pixels
 * (output pixel `(X, Y)` covers source `[X*kx, (X+1)*kx) x [Y*ky, (Y+1)*ky)`). Only the output
 * pixels inside `region` are computed and written row-major (stride = `region.width`) into
 * `out`. Source samples are clamped to `clip` (so e.g. letterbox bars outside it never bleed
 * in). Shrinking axes use exact area averaging, growing axes bilinear interpolation.
 */
export function resampleRegion(
  src: PixelArray,
  srcWidth: number,
  srcHeight: number,
  kx: number,
  ky: number,
  region: Rect,
  clip: Rect,
  out: Float32Array,
): void {
  const c = clampRect(clip, srcWidth, srcHeight);
  if (c.width <= 0 || c.height <= 0) throw new RangeError("resampleRegion: empty clip");
  const ow = region.width, oh = region.height;
  if (ow <= 0 || oh <= 0) return;
  if (
    kx === 1 && ky === 1 && region.x >= c.x && region.y >= c.y &&
    region.x + ow <= c.x + c.width && region.y + oh <= c.y + c.height
  ) {
    // plain copy
    for (let i = 0; i < oh; i++) {
      const s = (region.y + i) * srcWidth + region.x;
      out.set(src.subarray(s, s + ow), i * ow);
    }
    return;
  }
  const tx = axisTable(kx, region.x, ow, c.x, c.x + c.width);
  const ty = axisTable(ky, region.y, oh, c.y, c.y + c.height);
  const r0 = ty.lo, rows = ty.hi - ty.lo + 1;
  const need = rows * ow;
  if (scratch.length < need) scratch = new Float32Array(Math.max(need, scratch.length * 2));
  const tmp = scratch;
  const txi = tx.index, txw = tx.weight, tt = tx.taps;
  // horizontal pass over the source rows that the vertical taps use
  for (let r = 0; r < rows; r++) {
    const srow = (r0 + r) * srcWidth;
    const trow = r * ow;
    if (tt === 2) {
      for (let j = 0, b = 0; j < ow; j++, b += 2) {
        tmp[trow + j] = src[srow + txi[b]] * txw[b] + src[srow + txi[b + 1]] * txw[b + 1];
      }
    } else if (tt === 3) {
      for (let j = 0, b = 0; j < ow; j++, b += 3) {
        tmp[trow + j] = src[srow + txi[b]] * txw[b] + src[srow + txi[b + 1]] * txw[b + 1] +
          src[srow + txi[b + 2]] * txw[b + 2];
      }
    } else {
      for (let j = 0, b = 0; j < ow; j++, b += tt) {
        let s = 0;
        for (let t = 0; t < tt; t++) s += src[srow + txi[b + t]] * txw[b + t];
        tmp[trow + j] = s;
      }
    }
  }
  // vertical pass
  const tyi = ty.index, tyw = ty.weight, vt = ty.taps;
  for (let i = 0; i < oh; i++) {
    const orow = i * ow;
    const b = i * vt;
    const a0 = (tyi[b] - r0) * ow, w0 = tyw[b];
    for (let j = 0; j < ow; j++) out[orow + j] = tmp[a0 + j] * w0;
    for (let t = 1; t < vt; t++) {
      const w = tyw[b + t];
      if (w === 0) continue;
      const a = (tyi[b + t] - r0) * ow;
      for (let j = 0; j < ow; j++) out[orow + j] += tmp[a + j] * w;
    }
  }
}

/**
 * Resamples the rectangle `rect` of `img` (fractional source pixels, e.g. a crop measured on a
 * larger copy of the picture) to `width x height` 8-bit pixels in `out`: area averaging along an
 * axis that shrinks, bilinear interpolation along one that grows, samples clamped to the image.
 */
export function resampleRect(
  img: GrayImage,
  rect: Rect,
  width: number,
  height: number,
  out: Uint8Array,
): void {
  const tx = axisTable(rect.width / width, 0, width, 0, img.width, rect.x);
  const ty = axisTable(rect.height / height, 0, height, 0, img.height, rect.y);
  const src = img.data, sw = img.width;
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      let v = 0;
      for (let a = 0; a < ty.taps; a++) {
        const wy = ty.weight[i * ty.taps + a];
        if (wy === 0) continue;
        const row = ty.index[i * ty.taps + a] * sw;
        for (let b = 0; b < tx.taps; b++) {
          v += wy * tx.weight[j * tx.taps + b] * src[row + tx.index[j * tx.taps + b]];
        }
      }
      out[i * width + j] = v + 0.5; // values stay in [0, 255.5]: truncation rounds
    }
  }
}

/**
 * Halves an image by 2x2 area averaging; the result is `floor(w/2) x floor(h/2)` and its pixel
 * `(i, j)` covers source pixels `[2i, 2i+2) x [2j, 2j+2)`.
 */
export function downsample2(src: PixelArray, width: number, height: number): FloatImage {
  const w = width >> 1, h = height >> 1;
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const a = 2 * y * width, b = a + width;
    const o = y * w;
    for (let x = 0, s = 0; x < w; x++, s += 2) {
      data[o + x] = (src[a + s] + src[a + s + 1] + src[b + s] + src[b + s + 1]) * 0.25;
    }
  }
  return { width: w, height: h, data };
}

let boxScratch = new Float32Array(0);

/**
 * Band-pass ("detail") filter: `src` minus its `(2r+1) x (2r+1)` box mean (edges replicated),
 * written into `out` (length >= `width * height`). Removes gradients and other structure much
 * larger than `r`, which otherwise dominate correlations between unrelated images.
 */
export function boxHighPass(
  src: PixelArray,
  width: number,
  height: number,
  r: number,
  out: Float32Array,
): void {
  const n = width * height;
  if (boxScratch.length < n) boxScratch = new Float32Array(n);
  const tmp = boxScratch;
  const lastX = width - 1, lastY = height - 1;
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let s = src[o] * (r + 1);
    for (let i = 1; i <= r; i++) s += src[o + (i < lastX ? i : lastX)];
    for (let x = 0; x < width; x++) {
      tmp[o + x] = s;
      const add = x + r + 1, sub = x - r;
      s += src[o + (add < lastX ? add : lastX)] - src[o + (sub > 0 ? sub : 0)];
    }
  }
  const norm = 1 / ((2 * r + 1) * (2 * r + 1));
  // vertical running sums, one column accumulator per x
  const acc = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    let s = tmp[x] * (r + 1);
    for (let i = 1; i <= r; i++) s += tmp[(i < lastY ? i : lastY) * width + x];
    acc[x] = s;
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const add = (y + r + 1 < lastY ? y + r + 1 : lastY) * width;
    const sub = (y - r > 0 ? y - r : 0) * width;
    for (let x = 0; x < width; x++) {
      const s = acc[x];
      out[o + x] = src[o + x] - s * norm;
      acc[x] = s + tmp[add + x] - tmp[sub + x];
    }
  }
}
