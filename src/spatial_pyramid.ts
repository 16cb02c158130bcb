/**
 * Image pyramids and fg templates for the spatial search: a lazily built 2x area pyramid per
 * sample frame, and fg's content rendered (resampled, band-passed, mean-removed) at a footprint
 * size and working resolution. Pure: no I/O.
 * @module
 */
import {
  boxHighPass,
  downsample2,
  type GrayImage,
  type PixelArray,
  type Rect,
  resampleRegion,
} from "./gray_image.ts";
import { type CenteredTemplate } from "./ncc.ts";

// ---------------------------------------------------------------------------------------------
// Pyramids

/** One pyramid level (or any gray picture with float or byte pixels). */
export interface Level {
  width: number;
  height: number;
  data: PixelArray;
}

/** Lazily built 2x area pyramid; level k pixel i covers full-res [i*2^k, (i+1)*2^k). */
export class Pyramid {
  readonly levels: Level[];
  /** Deepest level that still has both sides >= 8 px. */
  readonly maxLevel: number;

  constructor(img: GrayImage) {
    this.levels = [{ width: img.width, height: img.height, data: img.data }];
    let k = 0, w = img.width, h = img.height;
    while ((w >> 1) >= 8 && (h >> 1) >= 8) {
      w >>= 1;
      h >>= 1;
      k++;
    }
    this.maxLevel = k;
  }

  /** Level k (built on first use; clamped to the deepest level). */
  get(k: number): Level {
    const kk = Math.min(k, this.maxLevel);
    while (this.levels.length <= kk) {
      const p = this.levels[this.levels.length - 1];
      this.levels.push(downsample2(p.data, p.width, p.height));
    }
    return this.levels[kk];
  }

  /** The image seen at factor d >= 1 (bg pixels per pixel): a level, resampled if needed. */
  atFactor(d: number): Level {
    const p = Math.max(0, Math.min(this.maxLevel, Math.floor(Math.log2(d) + EPS)));
    const base = this.get(p);
    const k = d / 2 ** p;
    if (Math.abs(k - 1) < EPS) return base;
    const w = Math.max(1, Math.floor(base.width / k + EPS));
    const h = Math.max(1, Math.floor(base.height / k + EPS));
    const data = new Float32Array(w * h);
    resampleRegion(
      base.data,
      base.width,
      base.height,
      k,
      k,
      { x: 0, y: 0, width: w, height: h },
      { x: 0, y: 0, width: base.width, height: base.height },
      data,
    );
    return { width: w, height: h, data };
  }
}

// ---------------------------------------------------------------------------------------------
// Templates (fg content rendered at a footprint size and working resolution)

/** fg's content rendered for one footprint and working resolution (see {@link renderTemplate}). */
export interface RenderedTemplate extends CenteredTemplate {
  /** Origin of the (band-passed interior of the) content inside the footprint, working px. */
  offX: number;
  /** Same, vertically. */
  offY: number;
  /** Band-pass radius used (working px). */
  r: number;
  /** Mean luma of the content before band-passing. */
  rawMean: number;
}

/** Tolerance of the search's floating-point comparisons of factors and scales. */
export const EPS = 1e-6;

let renderScratch = new Float32Array(0);

/**
 * Band-pass radius for a footprint whose content short side is `short` working pixels: about
 * 1/16 of it, quantised to powers of sqrt(2) so that nearby sizes share filtered bg images.
 */
export function bandRadius(short: number): number {
  const v = short / 16;
  if (v <= 1) return 1;
  return Math.max(1, Math.round(2 ** (Math.round(2 * Math.log2(v)) / 2)));
}

/**
 * fg's content rect as it appears when the full fg frame is scaled to `fw x fh` bg pixels and
 * viewed at `1/d` resolution: the footprint pixels fully inside the content, area/bilinear
 * resampled from the best pyramid level, band-passed with radius `r` (default from its size),
 * cropped by `r` on each side (where the filter saw only content) and mean-removed. Null when
 * too small. With `clip`, the band-passed values are first clipped at `clip` robust standard
 * deviations (1.4826 × their median absolute deviation) around their mean, so that a few very
 * strong edges (an overlay's: a white logo box, a caption bar) cannot outweigh the picture.
 */
export function renderTemplate(
  pyr: Pyramid,
  content: Rect,
  fw: number,
  fh: number,
  d: number,
  radius?: number,
  clip?: number,
): RenderedTemplate | null {
  const full = pyr.levels[0];
  const sx = fw / full.width / d, sy = fh / full.height / d;
  const x0 = Math.ceil(content.x * sx - EPS),
    x1 = Math.floor((content.x + content.width) * sx + EPS);
  const y0 = Math.ceil(content.y * sy - EPS),
    y1 = Math.floor((content.y + content.height) * sy + EPS);
  const tw = x1 - x0, th = y1 - y0;
  let r = radius ?? bandRadius(Math.min(tw, th));
  if (radius === undefined) {
    while (r > 1 && Math.min(tw, th) - 2 * r < 4) {
      r = Math.max(1, r >> 1);
    }
  }
  const iw = tw - 2 * r, ih = th - 2 * r;
  if (iw < 2 || ih < 2) return null;
  const p = Math.max(0, Math.min(pyr.maxLevel, Math.floor(Math.log2(1 / Math.max(sx, sy)) + EPS)));
  const src = pyr.get(p);
  const f = 2 ** p;
  const cx0 = Math.ceil(content.x / f - EPS), cy0 = Math.ceil(content.y / f - EPS);
  const cx1 = Math.max(cx0 + 1, Math.floor((content.x + content.width) / f + EPS));
  const cy1 = Math.max(cy0 + 1, Math.floor((content.y + content.height) / f + EPS));
  if (renderScratch.length < tw * th) renderScratch = new Float32Array(tw * th);
  const raw = renderScratch.subarray(0, tw * th);
  resampleRegion(
    src.data,
    src.width,
    src.height,
    1 / (sx * f),
    1 / (sy * f),
    { x: x0, y: y0, width: tw, height: th },
    { x: cx0, y: cy0, width: cx1 - cx0, height: cy1 - cy0 },
    raw,
  );
  let rs = 0;
  for (let i = 0; i < raw.length; i++) rs += raw[i];
  boxHighPass(raw, tw, th, r, raw);
  const n = iw * ih;
  const data = new Float32Array(n);
  let s = 0;
  for (let y = 0; y < ih; y++) {
    const o = (y + r) * tw + r;
    for (let x = 0; x < iw; x++) {
      const v = raw[o + x];
      data[y * iw + x] = v;
      s += v;
    }
  }
  let mean = s / n;
  if (clip !== undefined) mean = clipRobust(data, mean, clip);
  let q = 0;
  for (let i = 0; i < n; i++) {
    const v = data[i] - mean;
    data[i] = v;
    q += v * v;
  }
  return {
    width: iw,
    height: ih,
    data,
    mean,
    sumSq: q,
    offX: x0 + r,
    offY: y0 + r,
    r,
    rawMean: rs / raw.length,
  };
}

/**
 * Clips `data` (in place) to `mean ± k × 1.4826 × median(|data − mean|)`; returns the clipped
 * values' mean.
 */
export function clipRobust(data: Float32Array, mean: number, k: number): number {
  const n = data.length;
  if (n === 0) return mean;
  const dev = new Float32Array(n);
  for (let i = 0; i < n; i++) dev[i] = Math.abs(data[i] - mean);
  dev.sort();
  const lim = k * 1.4826 * dev[n >> 1];
  if (!(lim > 0)) return mean;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.max(mean - lim, Math.min(mean + lim, data[i]));
    data[i] = v;
    s += v;
  }
  return s / n;
}
