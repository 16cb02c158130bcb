/**
 * Spatial search: where does the foreground (fg) video lie inside the background (bg) video?
 * Translation + uniform scale, found from a few luma sample frames of each (time
 * correspondence unknown), coarse-to-fine:
 *
 * 1. Coarse: for a geometric grid of scales (always containing exactly 1.0 and the
 *    "fg = whole bg" fits) NCC maps of fg's content rect over every bg sample, via FFT at a
 *    per-scale working resolution chosen so the footprint keeps enough pixels (>= `minSide` on
 *    its short side) while FFTs stay small and tightly packed (factors bgH/2^m, bgW/2^m or
 *    half-octaves). Per fg sample the best bg sample is taken per position; the consensus over
 *    fg samples (their mean, the worst dropped when >= 4) picks the candidate peaks.
 * 2. Fine: the best candidates are re-verified in pixel space down an image pyramid (direct NCC,
 *    hill climbing over position and scale), pruned at each level, and finally refined to 1 px
 *    at full resolution (position +-2 px and single-pixel footprint size steps).
 *
 * Score: NCC (Pearson correlation, in [-1, 1]) over fg's content rect of *band-passed* luma:
 * both images minus their (2r+1)^2 box mean, r ~ 1/16 of the footprint's short side, so that
 * gradients and other very large structures (which correlate between unrelated images) do not
 * count; the `r`-wide rim of the content, where the filter would see past it, is left out. At
 * full resolution it is the mean over fg samples, each with its best-matching bg sample: the one
 * comparable confidence metric of all candidates. Invariant to brightness/contrast changes.
 *
 * The coarse stage's FFT work goes through an injectable {@link NccCorrelator}:
 * {@link searchSpatial} runs it on the CPU (src/fft.ts), {@link searchSpatialAsync} with any
 * correlator, e.g. `GpuNccCorrelator` (WGSL, one round trip per working resolution) from
 * `createCorrelator` in src/backend.ts; the fine stage always runs on the CPU. The WGSL maps
 * differ from the CPU's only by float32 rounding (≈ 1e-7), which can only matter between coarse
 * peaks tied to that precision, and the fine stage re-scores every candidate at full resolution
 * on the CPU: the placements and scores are the same (checked on the test pairs).
 *
 * Pure: no I/O.
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
import { detectContentRect } from "./letterbox.ts";
import { nextPowerOfTwo } from "./fft.ts";
import {
  type CenteredTemplate,
  CpuNccCorrelator,
  type NccBatch,
  type NccBest,
  type NccCorrelator,
  nccPeaks,
  nccPlaced,
} from "./ncc.ts";

/** A placement of fg inside bg. */
export interface SpatialCandidate {
  /** Left of the FULL fg frame in bg pixels (may be negative when fg's bars hang outside bg). */
  x: number;
  /** Top of the full fg frame in bg pixels (may be negative). */
  y: number;
  /** fg's scale inside bg: geometric mean of `scaleX` and `scaleY`. */
  scale: number;
  /** `width / fgWidth`. */
  scaleX: number;
  /** `height / fgHeight`. */
  scaleY: number;
  /** Footprint width of the full fg frame in bg pixels. */
  width: number;
  /** Footprint height of the full fg frame in bg pixels. */
  height: number;
  /**
   * NCC in [-1, 1] of band-passed luma at full resolution over fg's content rect (mean over fg
   * samples, each with its best-matching bg sample); comparable between all candidates.
   */
  score: number;
}

/** Result of {@link searchSpatial}. */
export interface SpatialResult {
  /** The placement found. */
  best: SpatialCandidate;
  /** Best candidate at a clearly different position (> 8 px) or scale (> 3 %), if any. */
  runnerUp: SpatialCandidate | null;
  /** `best.score` clamped to [0, 1]: low (< 0.3) for unrelated inputs. */
  confidence: number;
  /** For each fg sample, the index into bgFrames of the bg sample that matches it best. */
  bestBgForFg: number[];
  /**
   * The other placements scored at full resolution, clearly different from `best` and from each
   * other, best first (at most {@link MAX_ALTERNATIVES}), each with the bg sample that matches
   * each fg sample best there. In moving footage sampled sparsely in time the truth can score
   * below a wrong placement that found a chance match: a caller that can check candidates on
   * better-timed frames tries these.
   */
  alternatives: { candidate: SpatialCandidate; bestBgForFg: number[] }[];
}

/** Most alternatives a {@link SpatialResult} lists. */
export const MAX_ALTERNATIVES = 4;

/** Options of {@link searchSpatial}. */
export interface SpatialSearchOptions {
  /** Smallest scale searched (default 0.25). */
  minScale?: number;
  /** Largest scale searched (default 2.0); also limited by fg's content fitting inside bg. */
  maxScale?: number;
  /** Only search 100 % scale. */
  unscaledOnly?: boolean;
  /** fg content rect (letterbox excluded), full-res fg pixels; default detectContentRect(fg). */
  content?: Rect;
  /** 0-4 (default 2): trades speed for accuracy. */
  precision?: number;
}

/** Options of {@link refineSpatial}. */
export interface RefineOptions {
  /** fg content rect (letterbox excluded), full-res fg pixels; default: the whole fg frame. */
  content?: Rect;
  /**
   * Position error (bg px) the search starts out covering (default 16): the refinement starts
   * at the pyramid level where +-2 px spans it. Hill climbing may go further.
   */
  reach?: number;
}

// ---------------------------------------------------------------------------------------------
// Pyramids

interface Level {
  width: number;
  height: number;
  data: PixelArray;
}

/** Lazily built 2x area pyramid; level k pixel i covers full-res [i*2^k, (i+1)*2^k). */
class Pyramid {
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

interface RenderedTemplate extends CenteredTemplate {
  /** Origin of the (band-passed interior of the) content inside the footprint, working px. */
  offX: number;
  /** Same, vertically. */
  offY: number;
  /** Band-pass radius used (working px). */
  r: number;
  /** Mean luma of the content before band-passing. */
  rawMean: number;
}

const EPS = 1e-6;

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
 * too small.
 */
function renderTemplate(
  pyr: Pyramid,
  content: Rect,
  fw: number,
  fh: number,
  d: number,
  radius?: number,
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
  const mean = s / n;
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

// ---------------------------------------------------------------------------------------------
// Scoring in pixel space

/** A placement at a pyramid level: footprint origin in level pixels, footprint size full-res. */
interface LevelState {
  xl: number;
  yl: number;
  fw: number;
  fh: number;
}

const TEMPLATE_CACHE_BYTES = 32 * 1024 * 1024;
const BG_CACHE_BYTES = 32 * 1024 * 1024;

/** A least-recently-used cache with a byte budget. */
class LruCache<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  /** The cached value (refreshing its recency), or undefined. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Stores a value, evicting the least recently used ones beyond the budget. */
  set(key: string, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.budget || this.map.size <= 1) break;
      this.map.delete(k);
      this.bytes -= e.bytes;
    }
  }

  /** Empties the cache. */
  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}

/** Direct-NCC scoring of placements against fg/bg pyramids, with a template cache. */
class Scorer {
  readonly fgW: number;
  readonly fgH: number;
  readonly bgW: number;
  readonly bgH: number;
  private readonly cache = new LruCache<RenderedTemplate | null>(TEMPLATE_CACHE_BYTES);
  private readonly bgCache = new LruCache<Level>(BG_CACHE_BYTES);

  constructor(
    readonly fg: Pyramid[],
    readonly bg: Pyramid[],
    readonly content: Rect,
    /** fg samples whose content is not flat (only those are scored). */
    readonly informative: boolean[],
  ) {
    this.fgW = fg[0].levels[0].width;
    this.fgH = fg[0].levels[0].height;
    this.bgW = bg[0].levels[0].width;
    this.bgH = bg[0].levels[0].height;
  }

  /** Deepest pyramid level usable for both fg and bg. */
  get maxLevel(): number {
    return Math.min(this.fg[0].maxLevel, this.bg[0].maxLevel);
  }

  /** fg sample k's content rendered for footprint `fw x fh` at a pyramid level (cached). */
  template(k: number, fw: number, fh: number, level: number): RenderedTemplate | null {
    const key = `${k}|${level}|${fw}|${fh}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const t = renderTemplate(this.fg[k], this.content, fw, fh, 2 ** level);
    this.cache.set(key, t, t ? t.data.byteLength : 0);
    return t;
  }

  /** Drops cached templates (filtered bg images stay cached, within their own budget). */
  clearCache(): void {
    this.cache.clear();
  }

  /** bg sample b at a pyramid level, band-passed with radius r (cached). */
  bgImage(b: number, level: number, r: number): Level {
    const key = `${b}|${level}|${r}`;
    const hit = this.bgCache.get(key);
    if (hit) return hit;
    const lv = this.bg[b].get(level);
    const data = new Float32Array(lv.width * lv.height);
    boxHighPass(lv.data, lv.width, lv.height, r, data);
    const out = { width: lv.width, height: lv.height, data };
    this.bgCache.set(key, out, data.byteLength);
    return out;
  }

  /** NCC of fg sample k against bg sample b at a placement; -Infinity when invalid. */
  scoreOne(k: number, b: number, st: LevelState, level: number, rowStep: number): number {
    const t = this.template(k, st.fw, st.fh, level);
    if (!t) return -Infinity;
    const img = this.bgImage(b, level, t.r);
    const x = st.xl + t.offX, y = st.yl + t.offY;
    if (x < 0 || y < 0 || x + t.width > img.width || y + t.height > img.height) return -Infinity;
    return nccPlaced(t, img.data, img.width, x, y, rowStep);
  }

  /** Mean NCC over the fg samples with a pair (`pairs[k] >= 0`); -Infinity when invalid. */
  score(pairs: number[], st: LevelState, level: number, rowStep: number): number {
    let s = 0, n = 0;
    for (let k = 0; k < pairs.length; k++) {
      if (pairs[k] < 0) continue;
      const v = this.scoreOne(k, pairs[k], st, level, rowStep);
      if (v === -Infinity) return -Infinity;
      s += v;
      n++;
    }
    return n > 0 ? s / n : 0;
  }

  /** Mean of bg sample b's luma under fg's content at a placement (NaN when invalid). */
  meanUnder(k: number, b: number, st: LevelState, level: number): number {
    const t = this.template(k, st.fw, st.fh, level);
    if (!t) return NaN;
    const img = this.bg[b].get(level);
    const x = st.xl + t.offX, y = st.yl + t.offY;
    if (x < 0 || y < 0 || x + t.width > img.width || y + t.height > img.height) return NaN;
    let s = 0;
    for (let r = 0; r < t.height; r++) {
      const o = (y + r) * img.width + x;
      for (let c = 0; c < t.width; c++) s += img.data[o + c];
    }
    return s / (t.width * t.height);
  }

  /**
   * bg samples ranked (best first) for each fg sample at a placement, among `among[k]` (default
   * all). Flat fg samples rank bg samples by how close their mean luma is.
   */
  rankPairs(st: LevelState, level: number, rowStep: number, among?: number[][]): number[][] {
    const out: number[][] = [];
    const all = this.bg.map((_, b) => b);
    for (let k = 0; k < this.fg.length; k++) {
      const list = among?.[k] ?? all;
      const t = this.template(k, st.fw, st.fh, level);
      const scored = list.map((b) => {
        const v = !t
          ? 0
          : this.informative[k]
          ? this.scoreOne(k, b, st, level, rowStep)
          : -Math.abs(this.meanUnder(k, b, st, level) - t.rawMean);
        return { b, v: Number.isNaN(v) ? -Infinity : v };
      });
      scored.sort((p, q) => (q.v - p.v) || (p.b - q.b));
      out.push(scored.map((p) => p.b));
    }
    return out;
  }
}

/** Scored pairs: `pairs` with the flat (uninformative) fg samples set to -1. */
function scoredPairs(pairs: number[], informative: boolean[]): number[] {
  return pairs.map((b, k) => (informative[k] ? b : -1));
}

interface ClimbOptions {
  /** Initial exhaustive position radius (level pixels). */
  radius: number;
  /** Relative scale step; 0 keeps the footprint size fixed. */
  delta: number;
  /**
   * Step through every distinct footprint size instead (full resolution, where single steps
   * may change only the width or only the height).
   */
  pixelLadder?: boolean;
  /** Largest number of single-pixel ladder steps per move (default 4). */
  ladderReach?: number;
  rowStep: number;
  maxMoves: number;
  minScale: number;
  maxScale: number;
}

/**
 * Hill climbing over (position, scale) at one pyramid level: an exhaustive square of positions
 * first, then greedy moves to the best neighbour (8 positions at the same scale; one or two
 * scale steps up/down (up to 4 single-pixel steps with `pixelLadder`) with the content centre
 * kept in place, plus their 8 neighbours: several steps get over small bumps of the score).
 */
function climb(
  sc: Scorer,
  pairs: number[],
  level: number,
  start: LevelState,
  o: ClimbOptions,
): { state: LevelState; score: number } {
  const f = 2 ** level;
  const fgW = sc.fgW, fgH = sc.fgH;
  const s0 = Math.sqrt((start.fw / fgW) * (start.fh / fgH));
  const ccx = sc.content.x + sc.content.width / 2, ccy = sc.content.y + sc.content.height / 2;
  const sizes = new Map<number, [number, number] | null>();
  const sVal = new Map<number, number>([[0, s0]]);
  const valid = (fw: number, fh: number) => {
    const ss = Math.sqrt((fw / fgW) * (fh / fgH));
    return fw >= 1 && fh >= 1 && ss >= o.minScale * (1 - EPS) && ss <= o.maxScale * (1 + EPS);
  };
  const sizeAt = (i: number): [number, number] | null => {
    let r = sizes.get(i);
    if (r !== undefined) return r;
    if (i === 0) r = [start.fw, start.fh];
    else if (o.pixelLadder) {
      // the next distinct (round(fgW*s), round(fgH*s)) as s moves away from size i -/+ 1
      const j = i - Math.sign(i);
      const prev = sizeAt(j);
      r = null;
      if (prev) {
        let sv = sVal.get(j) ?? s0, fw = prev[0], fh = prev[1];
        const step = 1 + (Math.sign(i) * 0.25) / Math.max(fgW, fgH);
        for (let it = 0; it < 64 && fw === prev[0] && fh === prev[1]; it++) {
          sv *= step;
          fw = Math.round(fgW * sv);
          fh = Math.round(fgH * sv);
        }
        sVal.set(i, sv);
        if (valid(fw, fh) && (fw !== prev[0] || fh !== prev[1])) r = [fw, fh];
      }
    } else {
      const sv = s0 * (1 + o.delta) ** i;
      const fw = Math.round(fgW * sv), fh = Math.round(fgH * sv);
      r = valid(fw, fh) ? [fw, fh] : null;
    }
    sizes.set(i, r);
    return r;
  };
  const memo = new Map<string, number>();
  const ev = (i: number, xl: number, yl: number): number => {
    const key = `${i},${xl},${yl}`;
    const m = memo.get(key);
    if (m !== undefined) return m;
    const sz = sizeAt(i);
    const v = sz ? sc.score(pairs, { xl, yl, fw: sz[0], fh: sz[1] }, level, o.rowStep) : -Infinity;
    memo.set(key, v);
    return v;
  };
  let best = { i: 0, xl: start.xl, yl: start.yl, score: -Infinity };
  const R = o.radius;
  for (let dy = -R; dy <= R; dy++) {
    for (let dx = -R; dx <= R; dx++) {
      const v = ev(0, start.xl + dx, start.yl + dy);
      if (v > best.score) best = { i: 0, xl: start.xl + dx, yl: start.yl + dy, score: v };
    }
  }
  for (let move = 0; move < o.maxMoves && best.score > -Infinity; move++) {
    let cand = best;
    const consider = (i: number, xl: number, yl: number) => {
      const v = ev(i, xl, yl);
      if (v > cand.score + 1e-9) cand = { i, xl, yl, score: v };
    };
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) if (dx || dy) consider(best.i, best.xl + dx, best.yl + dy);
    }
    if (o.delta > 0) {
      const cur = sizeAt(best.i);
      const reach = o.pixelLadder ? (o.ladderReach ?? 4) : 2;
      for (let di = -reach; di <= reach; di++) {
        if (di === 0) continue;
        const nz = sizeAt(best.i + di);
        if (!nz || !cur) continue;
        const ax = Math.round(best.xl + (ccx * (cur[0] - nz[0])) / (fgW * f));
        const ay = Math.round(best.yl + (ccy * (cur[1] - nz[1])) / (fgH * f));
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) consider(best.i + di, ax + dx, ay + dy);
        }
      }
    }
    if (cand === best) break;
    best = cand;
  }
  const sz = sizeAt(best.i) ?? [start.fw, start.fh];
  return { state: { xl: best.xl, yl: best.yl, fw: sz[0], fh: sz[1] }, score: best.score };
}

// ---------------------------------------------------------------------------------------------
// Candidates

/** A placement being refined (full-res coordinates). */
interface Cand {
  x: number;
  y: number;
  fw: number;
  fh: number;
  score: number;
  /** Footprint size fixed (exact 1.0, a "fits bg" size, or a user-fixed scale). */
  fixed: boolean;
  /** bg sample per fg sample. */
  pairs: number[];
  /** A few best bg samples per fg sample (re-ranked at finer levels). */
  shortlist?: number[][];
  /** Pyramid level where refinement starts. */
  start: number;
}

function candScale(c: { fw: number; fh: number }, fgW: number, fgH: number): number {
  return Math.sqrt((c.fw / fgW) * (c.fh / fgH));
}

function toCandidate(c: Cand, fgW: number, fgH: number): SpatialCandidate {
  const scaleX = c.fw / fgW, scaleY = c.fh / fgH;
  return {
    x: c.x,
    y: c.y,
    scale: Math.sqrt(scaleX * scaleY),
    scaleX,
    scaleY,
    width: c.fw,
    height: c.fh,
    score: c.score,
  };
}

/** Distance in bg pixels between the content centres of two placements. */
function centreDistance(a: Cand, b: Cand, content: Rect, fgW: number, fgH: number): number {
  const cx = content.x + content.width / 2, cy = content.y + content.height / 2;
  const ax = a.x + (cx * a.fw) / fgW, ay = a.y + (cy * a.fh) / fgH;
  const bx = b.x + (cx * b.fw) / fgW, by = b.y + (cy * b.fh) / fgH;
  return Math.hypot(ax - bx, ay - by);
}

/**
 * True when two placements are clearly different: content centres more than `px` (8) bg pixels
 * apart or scales more than `rel` (3 %) apart.
 */
function clearlyDifferent(
  a: Cand,
  b: Cand,
  content: Rect,
  fgW: number,
  fgH: number,
  px = 8,
  rel = 0.03,
): boolean {
  const ds = Math.abs(Math.log(candScale(a, fgW, fgH) / candScale(b, fgW, fgH)));
  return ds > Math.log(1 + rel) || centreDistance(a, b, content, fgW, fgH) > px;
}

const TIE = 0.002;

function isUnit(c: Cand, fgW: number, fgH: number): boolean {
  return c.fw === fgW && c.fh === fgH;
}

/**
 * The winner among scored candidates: the top score, except that within {@link TIE} of it an
 * exact 100 % candidate wins, then an exact "fg = whole bg" fit, then the scale closest to 1.
 */
function pickBest(cands: Cand[], fgW: number, fgH: number, bgW: number, bgH: number): Cand {
  let top = cands[0];
  for (const c of cands) if (c.score > top.score) top = c;
  const near = cands.filter((c) => c.score >= top.score - TIE);
  const unit = near.filter((c) => isUnit(c, fgW, fgH));
  if (unit.length) return unit.reduce((a, b) => (b.score > a.score ? b : a));
  const fit = near.filter((c) => c.fw === bgW && c.fh === bgH && c.x === 0 && c.y === 0);
  if (fit.length) return fit[0];
  let best = top;
  for (const c of near) {
    if (
      Math.abs(Math.log(candScale(c, fgW, fgH))) < Math.abs(Math.log(candScale(best, fgW, fgH)))
    ) {
      best = c;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Settings

interface Settings {
  /** Footprint content short side at the coarse level (px). */
  minSide: number;
  /** Scale grid ratio. */
  ratio: number;
  /** Largest coarse bg side (FFT size). */
  maxFft: number;
  /** Candidates kept after the coarse stage. */
  keep: number;
  /** Peaks per scale. */
  peaks: number;
  /** Candidates refined at full resolution. */
  fullRes: number;
  /** Row step of the full-resolution search (final scores always use every row). */
  rowStep: number;
  /** Fine scale search at full resolution for every contender (else only the best free one). */
  fineAll: boolean;
  /** Single-pixel size steps tried per move by the fine scale search (0: none). */
  ladderReach: number;
}

function settings(precision: number): Settings {
  const p = Math.max(0, Math.min(4, Math.round(precision)));
  return [
    {
      minSide: 20,
      ratio: 1.12,
      maxFft: 256,
      keep: 4,
      peaks: 2,
      fullRes: 2,
      rowStep: 4,
      fineAll: false,
      ladderReach: 0,
    },
    {
      minSide: 24,
      ratio: 1.09,
      maxFft: 256,
      keep: 6,
      peaks: 2,
      fullRes: 2,
      rowStep: 3,
      fineAll: false,
      ladderReach: 2,
    },
    {
      minSide: 28,
      ratio: 1.07,
      maxFft: 256,
      keep: 8,
      peaks: 3,
      fullRes: 3,
      rowStep: 3,
      fineAll: false,
      ladderReach: 3,
    },
    {
      minSide: 36,
      ratio: 1.045,
      maxFft: 512,
      keep: 10,
      peaks: 3,
      fullRes: 3,
      rowStep: 2,
      fineAll: true,
      ladderReach: 4,
    },
    {
      minSide: 44,
      ratio: 1.03,
      maxFft: 512,
      keep: 14,
      peaks: 4,
      fullRes: 4,
      rowStep: 1,
      fineAll: true,
      ladderReach: 4,
    },
  ][p];
}

/** A scale of the coarse grid, with its footprint size and whether it is a special size. */
interface GridScale {
  fw: number;
  fh: number;
  forced: boolean;
}

function normaliseContent(content: Rect | undefined, fg: GrayImage[]): Rect {
  const w = fg[0].width, h = fg[0].height;
  const c = content ?? detectContentRect(fg);
  const x0 = Math.max(0, Math.min(w - 1, Math.round(c.x)));
  const y0 = Math.max(0, Math.min(h - 1, Math.round(c.y)));
  const x1 = Math.max(x0 + 1, Math.min(w, Math.round(c.x + c.width)));
  const y1 = Math.max(y0 + 1, Math.min(h, Math.round(c.y + c.height)));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Standard deviation of an image's content (sampled). */
function contentStd(img: GrayImage, c: Rect): number {
  const step = Math.max(1, Math.floor(Math.sqrt((c.width * c.height) / 20000)));
  let s = 0, q = 0, n = 0;
  for (let y = c.y; y < c.y + c.height; y += step) {
    for (let x = c.x, o = y * img.width; x < c.x + c.width; x += step) {
      const v = img.data[o + x];
      s += v;
      q += v * v;
      n++;
    }
  }
  const m = s / n;
  return Math.sqrt(Math.max(0, q / n - m * m));
}

function checkSizes(frames: GrayImage[], what: string): void {
  if (frames.length === 0) throw new RangeError(`searchSpatial: no ${what} frames`);
  const { width, height } = frames[0];
  for (const f of frames) {
    if (f.width !== width || f.height !== height || f.data.length < width * height) {
      throw new RangeError(`searchSpatial: ${what} frames differ in size`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Coarse stage

/** A coarse candidate and the working resolution it came from. */
interface Coarse {
  cand: Cand;
  /** Working-resolution factor (bg pixels per working pixel). */
  d: number;
  forced: boolean;
}

/** Size of the FFT grid for a bg image seen at factor d. */
function fftArea(bgW: number, bgH: number, d: number): { w: number; h: number } {
  return {
    w: nextPowerOfTwo(Math.floor(bgW / d + EPS)),
    h: nextPowerOfTwo(Math.floor(bgH / d + EPS)),
  };
}

/**
 * Working-resolution factor for each grid scale: among factors that make the bg just fit a
 * power-of-two FFT (bgH/2^m, bgW/2^m, or half-octaves), with FFT sides <= maxFft and the
 * footprint's content short side >= minSide (or as large as allowed), the cheapest FFT.
 */
function chooseFactors(
  scales: GridScale[],
  fgW: number,
  fgH: number,
  bgW: number,
  bgH: number,
  content: Rect,
  maxLevel: number,
  set: Settings,
): number[] {
  const ds = new Set<number>();
  const dMax = 2 ** maxLevel * 1.999;
  for (let m = 0; m < 24; m++) {
    for (const d of [bgH / 2 ** m, bgW / 2 ** m, 2 ** (m / 2)]) if (d >= 1 && d <= dMax) ds.add(d);
  }
  const all = [...ds].sort((a, b) => b - a);
  const allowed = all.filter((d) => {
    const f = fftArea(bgW, bgH, d);
    return Math.max(f.w, f.h) <= set.maxFft;
  });
  const pool = allowed.length ? allowed : [all[all.length - 1]];
  return scales.map((g) => {
    const short = Math.min((content.width * g.fw) / fgW, (content.height * g.fh) / fgH);
    const bestFoot = short / pool[pool.length - 1];
    const need = Math.min(set.minSide, 0.8 * bestFoot);
    let best = pool[pool.length - 1], bestArea = Infinity;
    for (const d of pool) {
      if (short / d < need - EPS) continue;
      const f = fftArea(bgW, bgH, d);
      if (f.w * f.h < bestArea) {
        bestArea = f.w * f.h;
        best = d;
      }
    }
    return best;
  });
}

/** What the coarse stage asks a correlator: bg images at one working resolution, templates. */
interface CoarseRequest {
  /** Band-passed bg samples at the working resolution. */
  images: Float32Array[];
  /** Their width. */
  width: number;
  /** Their height. */
  height: number;
  /** One batch per grid scale of the working resolution (fg samples' templates). */
  batches: NccBatch[];
}

/**
 * Coarse stage: for every grid scale, NCC maps (FFT) of each fg sample's band-passed content
 * over every bg sample at a small working resolution; per fg sample the best bg sample per
 * position; consensus = mean over fg samples (the worst dropped when >= 4); its peaks become
 * candidates (full-res coordinates). A generator: it yields one correlation request per working
 * resolution (all its grid scales at once, so that a GPU correlator makes one round trip per
 * working resolution) and is resumed with the answer; it returns the candidates.
 */
function* coarseSteps(
  fgPyr: Pyramid[],
  bgPyr: Pyramid[],
  content: Rect,
  scales: GridScale[],
  informative: boolean[],
  set: Settings,
): Generator<CoarseRequest, Coarse[], (NccBest | null)[][]> {
  const fgW = fgPyr[0].levels[0].width, fgH = fgPyr[0].levels[0].height;
  const bgW = bgPyr[0].levels[0].width, bgH = bgPyr[0].levels[0].height;
  const maxLevel = Math.min(fgPyr[0].maxLevel, bgPyr[0].maxLevel);
  const factors = chooseFactors(scales, fgW, fgH, bgW, bgH, content, maxLevel, set);
  const groups = new Map<number, GridScale[]>();
  scales.forEach((g, i) => {
    const list = groups.get(factors[i]) ?? [];
    list.push(g);
    groups.set(factors[i], list);
  });
  const out: Coarse[] = [];
  for (const [d, group] of groups) {
    // one band-pass radius per working resolution, from its smallest footprint
    let shortest = Infinity;
    for (const g of group) {
      const sx = g.fw / fgW / d, sy = g.fh / fgH / d;
      shortest = Math.min(shortest, content.width * sx, content.height * sy);
    }
    let r = bandRadius(shortest);
    while (r > 1 && shortest - 2 * r < 6) r = Math.max(1, r >> 1);
    const bgC = bgPyr.map((p) => {
      const lv = p.atFactor(d);
      const data = new Float32Array(lv.width * lv.height);
      boxHighPass(lv.data, lv.width, lv.height, r, data);
      return { width: lv.width, height: lv.height, data };
    });
    const cw = bgC[0].width, ch = bgC[0].height;
    const items: { g: GridScale; t0: RenderedTemplate }[] = [];
    const batches: NccBatch[] = [];
    for (const g of group) {
      const tpls = fgPyr.map((p, k) =>
        informative[k] ? renderTemplate(p, content, g.fw, g.fh, d, r) : null
      );
      const t0 = tpls.find((t) => t !== null);
      if (!t0 || t0.width > cw || t0.height > ch) continue;
      items.push({ g, t0 });
      batches.push({
        width: t0.width,
        height: t0.height,
        templates: tpls.map((t) => t?.data ?? null),
      });
    }
    if (items.length === 0) continue;
    const answers = yield { images: bgC.map((b) => b.data), width: cw, height: ch, batches };
    items.forEach(({ g, t0 }, s) => {
      const res = answers[s];
      const used: number[] = [];
      res.forEach((m, k) => {
        if (m) used.push(k);
      });
      if (used.length === 0) return;
      const mw = cw - t0.width + 1, mh = ch - t0.height + 1, n = mw * mh;
      const cons = new Float32Array(n);
      const m = used.length, drop = m >= 4;
      const maps = used.map((k) => res[k]!.max);
      for (let i = 0; i < n; i++) {
        let s = 0, lo = Infinity;
        for (const mk of maps) {
          const v = mk[i];
          s += v;
          if (v < lo) lo = v;
        }
        cons[i] = drop ? (s - lo) / (m - 1) : s / m;
      }
      const peaks = nccPeaks({ width: mw, height: mh, data: cons }, set.peaks, 2);
      for (const pk of peaks) {
        const i = pk.y * mw + pk.x;
        out.push({
          cand: {
            x: Math.round((pk.x - t0.offX) * d),
            y: Math.round((pk.y - t0.offY) * d),
            fw: g.fw,
            fh: g.fh,
            score: pk.score,
            fixed: g.forced,
            pairs: fgPyr.map((_, k) => (res[k] ? res[k]!.arg[i] : 0)),
            start: 0,
          },
          d,
          forced: g.forced,
        });
      }
    });
  }
  return out;
}

/** Runs {@link coarseSteps} to completion with a synchronous CPU correlator. */
function coarseSync(steps: Generator<CoarseRequest, Coarse[], (NccBest | null)[][]>): Coarse[] {
  const cpu = new CpuNccCorrelator();
  let r = steps.next(undefined as unknown as (NccBest | null)[][]);
  while (!r.done) {
    const q = r.value;
    r = steps.next(cpu.bestOverSync(q.images, q.width, q.height, q.batches));
  }
  return r.value;
}

/** Runs {@link coarseSteps} to completion with any correlator. */
async function coarseAsync(
  steps: Generator<CoarseRequest, Coarse[], (NccBest | null)[][]>,
  correlator: NccCorrelator,
): Promise<Coarse[]> {
  let r = steps.next(undefined as unknown as (NccBest | null)[][]);
  while (!r.done) {
    const q = r.value;
    r = steps.next(await correlator.bestOver(q.images, q.width, q.height, q.batches));
  }
  return r.value;
}

// ---------------------------------------------------------------------------------------------
// The search

/**
 * Finds where fg lies inside bg (translation + uniform scale) from K fg and B bg luma samples
 * at full resolution, without knowing which samples are simultaneous. See the module docs.
 * Throws a RangeError when there are no frames or fg's content cannot fit inside bg at any
 * scale of the range.
 */
export function searchSpatial(
  fgFrames: GrayImage[],
  bgFrames: GrayImage[],
  opts: SpatialSearchOptions = {},
): SpatialResult {
  const setup = setupSearch(fgFrames, bgFrames, opts);
  return finishSearch(setup, coarseSync(setup.steps));
}

/** Options of {@link searchSpatialAsync}. */
export interface SpatialSearchAsyncOptions extends SpatialSearchOptions {
  /**
   * Runs the coarse stage's FFT NCC (default: a {@link CpuNccCorrelator}, i.e. the same work as
   * {@link searchSpatial}). The caller owns it (and destroys it).
   */
  correlator?: NccCorrelator;
}

/**
 * {@link searchSpatial} with the coarse stage's FFT NCC maps computed by `opts.correlator`
 * (e.g. `GpuNccCorrelator` on WebGPU: one round trip per working resolution). The fine stage
 * (direct NCC in pixel space) runs on the CPU as in {@link searchSpatial}. A correlator that
 * computes the same best-match maps (up to float32 rounding of the coarse scores) gives the same
 * placement; the reported scores are always computed at full resolution on the CPU.
 */
export async function searchSpatialAsync(
  fgFrames: GrayImage[],
  bgFrames: GrayImage[],
  opts: SpatialSearchAsyncOptions = {},
): Promise<SpatialResult> {
  const setup = setupSearch(fgFrames, bgFrames, opts);
  const coarse = opts.correlator
    ? await coarseAsync(setup.steps, opts.correlator)
    : coarseSync(setup.steps);
  return finishSearch(setup, coarse);
}

/** State of a search between its stages. */
interface SearchSetup {
  set: Settings;
  fgW: number;
  fgH: number;
  bgW: number;
  bgH: number;
  content: Rect;
  minScale: number;
  maxScale: number;
  fixedScale: boolean;
  special: GridScale[];
  informative: boolean[];
  sc: Scorer;
  /** The coarse stage, not started yet. */
  steps: Generator<CoarseRequest, Coarse[], (NccBest | null)[][]>;
}

/** Validation, scale grid and pyramids of a search; the coarse stage is returned unstarted. */
function setupSearch(
  fgFrames: GrayImage[],
  bgFrames: GrayImage[],
  opts: SpatialSearchOptions,
): SearchSetup {
  checkSizes(fgFrames, "fg");
  checkSizes(bgFrames, "bg");
  const set = settings(opts.precision ?? 2);
  const fgW = fgFrames[0].width, fgH = fgFrames[0].height;
  const bgW = bgFrames[0].width, bgH = bgFrames[0].height;
  const content = normaliseContent(opts.content, fgFrames);

  // scale range
  let minScale = opts.unscaledOnly ? 1 : (opts.minScale ?? 0.25);
  let maxScale = opts.unscaledOnly ? 1 : (opts.maxScale ?? 2.0);
  if (minScale > maxScale) [minScale, maxScale] = [maxScale, minScale];
  const fitMax = Math.min(bgW / content.width, bgH / content.height);
  const fixedScale = maxScale / minScale < 1 + 1e-9;
  minScale = Math.max(minScale, 4 / Math.min(content.width, content.height));
  const gridMax = Math.min(maxScale, fitMax);
  if (minScale > gridMax * (1 + 1e-3)) {
    throw new RangeError(
      `searchSpatial: fg content ${content.width}x${content.height} cannot fit inside bg ` +
        `${bgW}x${bgH} at scales ${minScale.toFixed(3)}..${maxScale.toFixed(3)}`,
    );
  }

  // the grid: geometric, anchored at 1.0, plus special sizes
  const sizeOf = (s: number): GridScale => ({
    fw: Math.max(1, Math.round(fgW * s)),
    fh: Math.max(1, Math.round(fgH * s)),
    forced: false,
  });
  const grid: GridScale[] = [];
  const special: GridScale[] = [];
  if (fixedScale) {
    special.push({ ...sizeOf(Math.min(minScale, gridMax)), forced: true });
  } else {
    const lr = Math.log(set.ratio);
    const lo = Math.ceil(Math.log(minScale) / lr - EPS),
      hi = Math.floor(Math.log(gridMax) / lr + EPS);
    for (let i = lo; i <= hi; i++) grid.push(sizeOf(Math.exp(i * lr)));
    if (
      grid.length === 0 || Math.log(gridMax / candScale(grid[grid.length - 1], fgW, fgH)) > lr / 2
    ) {
      grid.push(sizeOf(gridMax));
    }
    if (grid.length === 0 || Math.log(candScale(grid[0], fgW, fgH) / minScale) > lr / 2) {
      grid.unshift(sizeOf(minScale));
    }
    const inRange = (g: GridScale) => {
      const s = candScale(g, fgW, fgH);
      return s >= minScale * (1 - 1e-3) && s <= maxScale * (1 + 1e-3);
    };
    const unit = { fw: fgW, fh: fgH, forced: true };
    if (inRange(unit) && fitMax >= 1 - EPS) special.push(unit);
    // fg = whole bg (aspect equal up to rounding)
    if (Math.abs(Math.log((bgW / fgW) / (bgH / fgH))) < 0.02) {
      const fit = { fw: bgW, fh: bgH, forced: true };
      if (inRange(fit)) special.push(fit);
    }
    // fg content = whole bg
    if (content.width < fgW || content.height < fgH) {
      const sxc = bgW / content.width, syc = bgH / content.height;
      if (Math.abs(Math.log(sxc / syc)) < 0.02) {
        const fit = {
          fw: Math.round(fgW * sxc),
          fh: Math.round(fgH * syc),
          forced: true,
        };
        if (inRange(fit)) special.push(fit);
      }
    }
  }
  const allScales: GridScale[] = [...special];
  for (const g of grid) {
    const s = candScale(g, fgW, fgH);
    const close = special.some((p) =>
      Math.abs(Math.log(candScale(p, fgW, fgH) / s)) < Math.log(set.ratio) * 0.3
    );
    if (!close) allScales.push(g);
  }

  // samples
  const fgPyr = fgFrames.map((f) => new Pyramid(f));
  const bgPyr = bgFrames.map((f) => new Pyramid(f));
  let informative = fgFrames.map((f) => contentStd(f, content) > 1.5);
  if (!informative.some(Boolean)) informative = fgFrames.map(() => true);
  const sc = new Scorer(fgPyr, bgPyr, content, informative);
  // ---- coarse: FFT NCC per working resolution (run by the caller) ----
  const steps = coarseSteps(fgPyr, bgPyr, content, allScales, informative, set);
  return {
    set,
    fgW,
    fgH,
    bgW,
    bgH,
    content,
    minScale,
    maxScale,
    fixedScale,
    special,
    informative,
    sc,
    steps,
  };
}

/** The fine stage of a search, from the coarse candidates. */
function finishSearch(setup: SearchSetup, coarse: Coarse[]): SpatialResult {
  const { set, fgW, fgH, bgW, bgH, content, minScale, maxScale, fixedScale, special } = setup;
  const { informative, sc } = setup;
  if (coarse.length === 0) {
    throw new RangeError("searchSpatial: no placement of fg's content fits inside bg");
  }

  // keep the best distinct coarse candidates, plus the best one of each forced size
  coarse.sort((a, b) => b.cand.score - a.cand.score);
  const kept: Coarse[] = [];
  const lr = Math.log(set.ratio);
  for (const c of coarse) {
    if (kept.filter((k) => !k.forced).length >= set.keep) break;
    if (c.forced) continue;
    const dup = kept.some((k) =>
      Math.abs(Math.log(candScale(k.cand, fgW, fgH) / candScale(c.cand, fgW, fgH))) < 1.5 * lr &&
      centreDistance(k.cand, c.cand, content, fgW, fgH) < Math.max(8, 2 * Math.max(k.d, c.d))
    );
    if (!dup) kept.push(c);
  }
  for (const g of special) {
    const best = coarse.find((c) => c.forced && c.cand.fw === g.fw && c.cand.fh === g.fh);
    if (best) kept.push(best);
  }

  // ---- fine: pyramid refinement ----
  // each candidate starts at the pyramid level matching its coarse resolution (but where its
  // content still spans >= 12 px), then walks down level by level
  const startLevel = (c: Coarse) => {
    const short = Math.min((content.width * c.cand.fw) / fgW, (content.height * c.cand.fh) / fgH);
    const byD = Math.floor(Math.log2(c.d) + EPS);
    const bySize = Math.floor(Math.log2(Math.max(1, short / 12)) + EPS);
    return Math.max(0, Math.min(sc.maxLevel, byD, bySize));
  };
  let cands = kept.map((c) => ({ ...c.cand, start: startLevel(c) }));
  const climbBase = { maxMoves: 12, minScale, maxScale: fixedScale ? minScale : maxScale };
  const refineAt = (c: Cand, lv: number, rowStep: number, first: boolean, scaleSearch = true) => {
    // at full resolution the radius is 2: level 1 positions are only even
    const f = 2 ** lv;
    const st: LevelState = { xl: Math.round(c.x / f), yl: Math.round(c.y / f), fw: c.fw, fh: c.fh };
    if (first || lv >= 2) {
      const ranks = sc.rankPairs(st, lv, rowStep);
      c.shortlist = ranks.map((r) => r.slice(0, 3));
      c.pairs = ranks.map((r) => r[0]);
    } else if (lv === 1 && c.shortlist) {
      c.pairs = sc.rankPairs(st, lv, rowStep, c.shortlist).map((r) => r[0]);
    }
    const r = climb(sc, scoredPairs(c.pairs, informative), lv, st, {
      ...climbBase,
      radius: first || lv === 0 ? 2 : 1,
      delta: c.fixed || !scaleSearch ? 0 : (1.05 * f) / Math.max(c.fw, c.fh),
      pixelLadder: lv === 0,
      ladderReach: set.ladderReach,
      rowStep,
    });
    c.x = r.state.xl * f;
    c.y = r.state.yl * f;
    c.fw = r.state.fw;
    c.fh = r.state.fh;
    c.score = r.score;
  };
  for (let level = Math.max(...cands.map((c) => c.start)); level >= 1; level--) {
    const active = cands.filter((c) => c.start >= level);
    const waiting = cands.filter((c) => c.start < level);
    for (const c of active) refineAt(c, level, 1, c.start === level);
    const n = level === 1 ? set.fullRes : Math.max(set.fullRes, Math.ceil(set.keep / 2));
    const keptHere = prune(active, n, level >= 3 ? 0.3 : 0.2, level, content, fgW, fgH);
    cands = [...keptHere, ...waiting];
    sc.clearCache();
  }
  // full resolution: refine the contenders, just score the others (runner-up material)
  cands = cands.filter((c) => c.score > -Infinity);
  if (cands.length === 0) throw new RangeError("searchSpatial: no valid placement");
  // (level 1 cannot represent odd positions: a true placement may trail there by ~0.1)
  const top = Math.max(...cands.map((c) => c.score));
  const contenders: Cand[] = [];
  for (const c of pruneSame(cands)) {
    if (c.score < top - (c.fixed ? 0.3 : 0.1) || contenders.length >= set.fullRes + 2) continue;
    // a near-duplicate of a better candidate of the same kind (fixed or free) adds nothing
    const dup = contenders.some((u) =>
      u.fixed === c.fixed && !clearlyDifferent(u, c, content, fgW, fgH, 3, 0.005)
    );
    if (!dup) contenders.push(c);
  }
  let scaleSearches = 0;
  for (const c of contenders) {
    // the fine scale search only for the best free contender (all of them at precision >= 3)
    const fine = !c.fixed && set.ladderReach > 0 && (scaleSearches++ === 0 || set.fineAll);
    // sub-sample rows only when plenty remain (>= ~120)
    const rows = (content.height * c.fh) / fgH;
    const rowStep = Math.max(1, Math.min(set.rowStep, Math.floor(rows / 120)));
    refineAt(c, 0, rowStep, c.start === 0, fine);
  }
  const scored = pruneSame(cands);
  for (const c of scored) {
    c.score = sc.score(
      scoredPairs(c.pairs, informative),
      { xl: c.x, yl: c.y, fw: c.fw, fh: c.fh },
      0,
      1,
    );
  }
  const finals = scored.filter((c) => c.score > -Infinity);
  const pool = finals.filter((c) => contenders.includes(c));
  if (pool.length === 0) throw new RangeError("searchSpatial: no valid placement");
  const best = pickBest(pool, fgW, fgH, bgW, bgH);
  let runner: Cand | null = null;
  for (const c of finals) {
    if (c === best || !clearlyDifferent(c, best, content, fgW, fgH)) continue;
    if (!runner || c.score > runner.score) runner = c;
  }
  const others: Cand[] = [];
  for (const c of [...finals].sort((a, b) => b.score - a.score)) {
    if (others.length >= MAX_ALTERNATIVES) break;
    if ([best, ...others].some((u) => !clearlyDifferent(c, u, content, fgW, fgH))) continue;
    others.push(c);
  }
  return {
    best: toCandidate(best, fgW, fgH),
    runnerUp: runner ? toCandidate(runner, fgW, fgH) : null,
    confidence: Math.max(0, Math.min(1, best.score)),
    bestBgForFg: best.pairs.slice(),
    alternatives: others.map((c) => ({
      candidate: toCandidate(c, fgW, fgH),
      bestBgForFg: c.pairs.slice(),
    })),
  };
}

/** Candidates sorted by score (fixed sizes first on ties) without same-placement duplicates. */
function pruneSame(cands: Cand[]): Cand[] {
  const sorted = cands.filter((c) => c.score > -Infinity).sort((a, b) =>
    b.score - a.score || Number(b.fixed) - Number(a.fixed)
  );
  const uniq: Cand[] = [];
  for (const c of sorted) {
    const dup = uniq.some((u) =>
      u.fw === c.fw && u.fh === c.fh && Math.abs(u.x - c.x) <= 1 && Math.abs(u.y - c.y) <= 1
    );
    if (!dup) uniq.push(c);
  }
  return uniq;
}

/**
 * Sorts candidates by score, drops near-duplicates (same size and within 1 px), keeps up to
 * `n` free candidates within `margin` of the best score (always including the best clearly
 * different one, the runner-up, with tolerances widened for the coarse `level`) plus
 * fixed-size candidates within 0.3 of the best score.
 */
function prune(
  cands: Cand[],
  n: number,
  margin: number,
  level: number,
  content: Rect,
  fgW: number,
  fgH: number,
): Cand[] {
  const f = 2 ** level;
  const uniq: Cand[] = [];
  for (const c of pruneSame(cands)) {
    // near-duplicates of a better candidate of the same kind will converge to it
    const dup = uniq.some((u) =>
      u.fixed === c.fixed &&
      !clearlyDifferent(u, c, content, fgW, fgH, Math.max(3, 2 * f), Math.min(0.05, 0.004 * f))
    );
    if (!dup) uniq.push(c);
  }
  if (uniq.length === 0) return [];
  const top = uniq[0].score;
  const free = uniq.filter((c) => !c.fixed);
  const out: Cand[] = [];
  if (free.length) {
    out.push(free[0]);
    // positions/scales are still rough at coarse levels: demand a larger difference there
    const other = free.find((c) =>
      clearlyDifferent(c, free[0], content, fgW, fgH, Math.max(8, 4 * f), 0.03 + (0.01 * f) / 2)
    );
    if (other && n > 1) out.push(other);
    for (const c of free) {
      if (out.length >= n || c.score < top - margin) break;
      if (!out.includes(c)) out.push(c);
    }
  }
  // exact sizes (100 %, fits) survive generously: at coarse levels they cannot sit on odd
  // full-res positions and lose to slightly rescaled neighbours
  for (const c of uniq) if (c.fixed && c.score >= top - 0.3) out.push(c);
  return out;
}

/**
 * Local refinement of a placement on time-matched fg/bg pairs (pair i: fg frame i shown over bg
 * frame i): coarse-to-fine hill climbing over position and scale from a pyramid level where
 * +-2 px covers `reach` (16 px) down to full resolution (+-2 px, single-pixel footprint size
 * steps). The score is the mean band-passed NCC over the pairs (flat fg frames skipped), the
 * same metric as {@link searchSpatial}'s. An exact 100 % or "fg = whole bg" size near the
 * result is preferred when it scores within 0.002.
 */
export function refineSpatial(
  pairs: { fg: GrayImage; bg: GrayImage }[],
  initial: SpatialCandidate,
  opts: RefineOptions = {},
): SpatialCandidate {
  if (pairs.length === 0) return { ...initial };
  checkSizes(pairs.map((p) => p.fg), "fg");
  checkSizes(pairs.map((p) => p.bg), "bg");
  const fgFrames = pairs.map((p) => p.fg);
  const fgW = fgFrames[0].width, fgH = fgFrames[0].height;
  const bgW = pairs[0].bg.width, bgH = pairs[0].bg.height;
  const content = normaliseContent(
    opts.content ?? { x: 0, y: 0, width: fgW, height: fgH },
    fgFrames,
  );
  let informative = fgFrames.map((f) => contentStd(f, content) > 1.5);
  if (!informative.some(Boolean)) informative = fgFrames.map(() => true);
  const sc = new Scorer(
    fgFrames.map((f) => new Pyramid(f)),
    pairs.map((p) => new Pyramid(p.bg)),
    content,
    informative,
  );
  const idx = scoredPairs(pairs.map((_, i) => i), informative);
  const fw0 = Math.max(1, Math.round(initial.width || fgW * initial.scale));
  const fh0 = Math.max(1, Math.round(initial.height || fgH * initial.scale));
  const ccx = content.x + content.width / 2, ccy = content.y + content.height / 2;
  const reach = Math.max(2, opts.reach ?? 16);
  // coarse-to-fine: the first level's +-2 px covers `reach`, with >= 32 px of content left
  const short = Math.min((content.width * fw0) / fgW, (content.height * fh0) / fgH);
  const top = Math.max(
    0,
    Math.min(sc.maxLevel, Math.floor(Math.log2(reach / 2)), Math.floor(Math.log2(short / 32))),
  );
  const run = (
    c: { x: number; y: number; fw: number; fh: number },
    fixed: boolean,
    from: number,
  ) => {
    let cur = { ...c }, score = -Infinity;
    for (let lv = from; lv >= 0; lv--) {
      const f = 2 ** lv;
      const rows = (content.height * cur.fh) / fgH;
      const r = climb(sc, idx, lv, {
        xl: Math.round(cur.x / f),
        yl: Math.round(cur.y / f),
        fw: cur.fw,
        fh: cur.fh,
      }, {
        radius: lv === from || lv === 0 ? 2 : 1,
        delta: fixed ? 0 : (1.05 * f) / Math.max(cur.fw, cur.fh),
        pixelLadder: lv === 0,
        rowStep: lv === 0 ? Math.max(1, Math.min(2, Math.floor(rows / 120))) : 1,
        maxMoves: 12,
        minScale: 0,
        maxScale: Infinity,
      });
      if (r.score === -Infinity) continue; // too small or outside at this level
      score = r.score;
      cur = { x: r.state.xl * f, y: r.state.yl * f, fw: r.state.fw, fh: r.state.fh };
    }
    if (score === -Infinity) return null;
    const exact = sc.score(idx, { xl: cur.x, yl: cur.y, fw: cur.fw, fh: cur.fh }, 0, 1);
    return { ...cur, score: exact, fixed, pairs: idx, start: 0 };
  };
  const out: Cand[] = [];
  const free = run({ x: initial.x, y: initial.y, fw: fw0, fh: fh0 }, false, top);
  if (free) out.push(free);
  // exact 100 % (re-anchored on the content centre) and "fg = whole bg" sizes nearby
  const base = free ?? { x: initial.x, y: initial.y, fw: fw0, fh: fh0 };
  const s0 = candScale(base, fgW, fgH);
  const near = (fw: number, fh: number) =>
    Math.abs(Math.log(candScale({ fw, fh }, fgW, fgH) / s0)) < 0.02;
  if (near(fgW, fgH) && !isUnit(base as Cand, fgW, fgH)) {
    const x = Math.round(base.x + (ccx * (base.fw - fgW)) / fgW);
    const y = Math.round(base.y + (ccy * (base.fh - fgH)) / fgH);
    const u = run({ x, y, fw: fgW, fh: fgH }, true, 0);
    if (u) out.push(u);
  }
  if (near(bgW, bgH) && !(base.fw === bgW && base.fh === bgH)) {
    const fit = run({ x: 0, y: 0, fw: bgW, fh: bgH }, true, 0);
    if (fit) out.push(fit);
  }
  if (out.length === 0) return { ...initial };
  return toCandidate(pickBest(out, fgW, fgH, bgW, bgH), fgW, fgH);
}
