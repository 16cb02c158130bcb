/**
 * When do fg's samples happen in bg, if fg lies at a given place? Every bg frame (small gray
 * pictures, read in order) is compared with each fg sample at that placement (plain NCC of the
 * luma under fg's content), and the moments that agree on one time offset are kept.
 *
 * The spatial search compares fg samples with a few dozen bg samples; on long inputs those are
 * seconds apart, and in fast-changing footage no bg sample is close enough in time to any fg
 * sample for the true placement to win, so a chance match elsewhere can. A dense scan at each of
 * the search's candidate placements finds, for the true one, moments that agree on a single
 * offset (fg's samples keep their spacing in bg), which chance matches rarely do; the caller
 * then checks the best candidates at full resolution around those moments.
 *
 * Pure functions: the caller reads the pictures.
 * @module
 */
import { type GrayImage, type Rect, resampleRect } from "./gray_image.ts";
import { type CenteredTemplate, centerTemplate, nccPlaced } from "./ncc.ts";

/** A placement's templates: fg samples' content as it appears in the scanned pictures. */
export interface ScanTemplates {
  /** Left of the templates in the pictures. */
  x: number;
  /** Top of the templates in the pictures. */
  y: number;
  /** One per fg sample (same size). */
  templates: CenteredTemplate[];
}

/** Smallest template side (pictures' pixels) worth scanning. */
export const MIN_SCAN_SIDE = 6;

/**
 * The templates for a placement: `footprint` is the full fg frame's rectangle in the pictures'
 * pixels (fractional), `content` fg's content rectangle in fg pixels. The part of the content
 * inside the picture is resampled from each fg sample (area averaging). Null when that part is
 * smaller than {@link MIN_SCAN_SIDE} on a side.
 */
export function scanTemplates(
  fgSamples: GrayImage[],
  content: Rect,
  footprint: Rect,
  picWidth: number,
  picHeight: number,
): ScanTemplates | null {
  if (fgSamples.length === 0) return null;
  const fgW = fgSamples[0].width, fgH = fgSamples[0].height;
  const kx = footprint.width / fgW, ky = footprint.height / fgH;
  if (!(kx > 0 && ky > 0)) return null;
  // content in picture pixels, shrunk to whole pixels inside the picture
  const x0 = Math.max(0, Math.ceil(footprint.x + content.x * kx - 1e-6));
  const y0 = Math.max(0, Math.ceil(footprint.y + content.y * ky - 1e-6));
  const x1 = Math.min(picWidth, Math.floor(footprint.x + (content.x + content.width) * kx + 1e-6));
  const y1 = Math.min(
    picHeight,
    Math.floor(footprint.y + (content.y + content.height) * ky + 1e-6),
  );
  const w = x1 - x0, h = y1 - y0;
  if (w < MIN_SCAN_SIDE || h < MIN_SCAN_SIDE) return null;
  const src: Rect = {
    x: (x0 - footprint.x) / kx,
    y: (y0 - footprint.y) / ky,
    width: w / kx,
    height: h / ky,
  };
  const buf = new Uint8Array(w * h);
  const templates = fgSamples.map((img) => {
    resampleRect(img, src, w, h, buf);
    return centerTemplate(buf, w, h);
  });
  return { x: x0, y: y0, templates };
}

/**
 * NCC of each template of `t` with one picture (row-major, `width` wide), at the placement:
 * 0 for a flat template or picture region. Written into `out` when given (no allocation).
 */
export function scoreFrame(
  t: ScanTemplates,
  picture: Uint8Array,
  width: number,
  out: number[] = new Array(t.templates.length),
): number[] {
  for (let k = 0; k < t.templates.length; k++) {
    out[k] = nccPlaced(t.templates[k], picture, width, t.x, t.y);
  }
  return out;
}

/** Result of {@link consistentMoments}. */
export interface ConsistentMoments {
  /** bg time minus fg time (s) that the moments agree on. */
  offset: number;
  /**
   * Mean over fg samples of their best score near `fgTime + offset` (a sample whose moment falls
   * outside bg counts 0; with 4 or more samples the worst is dropped).
   */
  score: number;
  /** For each fg sample, its best bg frame near `fgTime + offset`, or -1 outside bg. */
  moments: number[];
}

/**
 * The time offset on which fg samples' best-matching bg frames agree. `scores[k][j]` is fg
 * sample k's score against bg frame j; `fgTimes[k]` its time in fg and `bgTimes[j]` bg frame j's
 * time (s, ascending). Each offset on a grid one bg frame apart is rated by the mean, over
 * samples, of the best score within `tolerance` s of `fgTime + offset` (plus 1 % of the sample's
 * distance from the middle sample, for a slightly different clock rate); the best one wins.
 * Null when there are no samples or bg frames.
 */
export function consistentMoments(
  scores: ArrayLike<number>[],
  fgTimes: number[],
  bgTimes: ArrayLike<number>,
  tolerance: number,
): ConsistentMoments | null {
  const k = Math.min(scores.length, fgTimes.length);
  const n = bgTimes.length;
  if (k === 0 || n === 0) return null;
  const dt = n > 1 ? (bgTimes[n - 1] - bgTimes[0]) / (n - 1) : 1;
  const step = dt > 0 ? dt : 1;
  const mid = fgTimes[Math.floor((k - 1) / 2)];
  const tol = fgTimes.slice(0, k).map((t) => tolerance + 0.01 * Math.abs(t - mid));
  const fgMin = Math.min(...fgTimes.slice(0, k)), fgMax = Math.max(...fgTimes.slice(0, k));
  const oLo = bgTimes[0] - fgMax - Math.max(...tol);
  const oHi = bgTimes[n - 1] - fgMin + Math.max(...tol);
  const count = Math.max(1, Math.ceil((oHi - oLo) / step) + 1);
  // per sample, a window [lo, hi) of bg frames that slides forward with the offset
  const lo = new Int32Array(k), hi = new Int32Array(k);
  const drop = k >= 4;
  let best: ConsistentMoments | null = null;
  const at = new Int32Array(k);
  for (let q = 0; q < count; q++) {
    const o = oLo + q * step;
    let sum = 0, worst = Infinity;
    for (let s = 0; s < k; s++) {
      const c = fgTimes[s] + o;
      while (lo[s] < n && bgTimes[lo[s]] < c - tol[s]) lo[s]++;
      if (hi[s] < lo[s]) hi[s] = lo[s];
      while (hi[s] < n && bgTimes[hi[s]] <= c + tol[s]) hi[s]++;
      let m = 0, mj = -1;
      const row = scores[s];
      for (let j = lo[s]; j < hi[s]; j++) {
        const v = row[j];
        if (mj < 0 || v > m) {
          m = v;
          mj = j;
        }
      }
      const v = mj < 0 ? 0 : Math.max(0, m);
      at[s] = mj;
      sum += v;
      if (v < worst) worst = v;
    }
    const score = drop ? (sum - worst) / (k - 1) : sum / k;
    if (!best || score > best.score + 1e-9) {
      best = { offset: o, score, moments: Array.from(at) };
    }
  }
  if (!best) return null;
  // the offset the chosen moments show (the grid offset is only within `tolerance` of it)
  const d = best.moments.flatMap((j, s) => (j < 0 ? [] : [bgTimes[j] - fgTimes[s]]))
    .sort((a, b) => a - b);
  if (d.length) best.offset = d[d.length >> 1];
  return best;
}
