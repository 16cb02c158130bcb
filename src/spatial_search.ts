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
import { type GrayImage, type Rect } from "./gray_image.ts";
import { detectContentRect } from "./letterbox.ts";
import type { NccBest, NccCorrelator } from "./ncc.ts";
import { EPS, Pyramid } from "./spatial_pyramid.ts";
import { climb, type LevelState, scoredPairs, Scorer } from "./spatial_scorer.ts";
import {
  type Cand,
  candScale,
  centreDistance,
  clearlyDifferent,
  isUnit,
  pickBest,
  prune,
  pruneSame,
  toCandidate,
} from "./spatial_candidates.ts";
import {
  type Coarse,
  coarseAsync,
  type CoarseRequest,
  coarseSteps,
  coarseSync,
  type GridScale,
  type Settings,
  settings,
} from "./spatial_coarse.ts";

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
  /**
   * Clip fg's band-passed templates at this many robust standard deviations (see
   * `renderTemplate`), so that an overlay's very strong edges cannot outweigh the picture.
   * Default: no clipping.
   */
  clip?: number;
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
  /**
   * Keep the initial footprint size (only the position is refined): for a scale the user fixed
   * (`--unscaled`, `--scale`), which the refinement must not trade for a better score (an
   * overlay in fg, such as burnt-in subtitles, can favour a slightly smaller footprint).
   */
  fixedSize?: boolean;
  /** fg's templates clipped as in {@link SpatialSearchOptions.clip}. */
  clip?: number;
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

/** Below this standard deviation (luma levels) a frame's content is flat: nothing to match. */
export const FLAT_CONTENT_STD = 1.5;

/** Standard deviation of an image's content rectangle (sampled on a grid of ~20000 pixels). */
export function contentStd(img: GrayImage, c: Rect): number {
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

/**
 * Mean absolute difference between neighbouring pixels (right and below) inside `c`, sampled on
 * a grid of ~20000 points: how much detail (edges, texture) there is to match. Unlike the
 * standard deviation it ignores smooth gradients (a vignette in a dark frame).
 */
export function contentDetail(img: GrayImage, c: Rect): number {
  const step = Math.max(1, Math.floor(Math.sqrt((c.width * c.height) / 20000)));
  const w = img.width, d = img.data;
  let s = 0, n = 0;
  for (let y = c.y; y < c.y + c.height - 1; y += step) {
    for (let x = c.x, o = y * w + x; x < c.x + c.width - 1; x += step, o += step) {
      const v = d[o];
      s += Math.abs(d[o + 1] - v) + Math.abs(d[o + w] - v);
      n++;
    }
  }
  return n > 0 ? s / n : 0;
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
   * Runs the coarse stage's FFT NCC (default: a `CpuNccCorrelator` (src/ncc.ts), i.e. the same work as
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
  let informative = fgFrames.map((f) => contentStd(f, content) > FLAT_CONTENT_STD);
  if (!informative.some(Boolean)) informative = fgFrames.map(() => true);
  const sc = new Scorer(fgPyr, bgPyr, content, informative, opts.clip);
  // ---- coarse: FFT NCC per working resolution (run by the caller) ----
  const steps = coarseSteps(fgPyr, bgPyr, content, allScales, informative, set, opts.clip);
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
  const { sc, idx } = pairScorer(pairs, opts);
  return refineWith(sc, idx, initial, opts.reach ?? 16, opts.fixedSize) ?? { ...initial };
}

/**
 * A scorer over time-matched fg/bg pairs (sizes checked, content defaulting to the whole fg
 * frame) and the pair indices it scores on (flat fg frames left out).
 */
function pairScorer(
  pairs: { fg: GrayImage; bg: GrayImage }[],
  opts: Pick<RefineOptions, "content" | "clip">,
): { sc: Scorer; idx: number[] } {
  checkSizes(pairs.map((p) => p.fg), "fg");
  checkSizes(pairs.map((p) => p.bg), "bg");
  const fgFrames = pairs.map((p) => p.fg);
  const content = refineContent(fgFrames, opts.content);
  const informative = informativeOf(fgFrames, content);
  const sc = new Scorer(
    fgFrames.map((f) => new Pyramid(f)),
    pairs.map((p) => new Pyramid(p.bg)),
    content,
    informative,
    opts.clip,
  );
  return { sc, idx: scoredPairs(pairs.map((_, i) => i), informative) };
}

/**
 * Largest difference between a footprint's x and y scales that {@link refineAspect} tries (1.2 %):
 * the rounding of a rescaled fg's height or width to an even number (800x450 halved to 400x224
 * is 2.0 wide and 2.009 high).
 */
const ASPECT_MAX = 0.012;
/** Least score gain for which {@link refineAspect} keeps a footprint of its own x/y ratio. */
const ASPECT_GAIN = 0.001;

/**
 * A placement's footprint width and height adjusted independently, a pixel at a time, where one
 * scale cannot fit both (a rescaled fg whose size was rounded: 800x450 halved to 400x224 has a
 * true footprint of 800x450, and one scale gives 801x449, a pixel off at either edge). Keeps
 * `initial` unless the score on `pairs` rises by more than {@link ASPECT_GAIN}; a 100 % or
 * "fg = whole bg" footprint is kept as it is (no rounding there). Position is re-climbed at
 * full resolution for each size.
 */
export function refineAspect(
  pairs: { fg: GrayImage; bg: GrayImage }[],
  initial: SpatialCandidate,
  opts: Pick<RefineOptions, "content" | "clip"> & {
    /** Most pixels each side changes by (default: what {@link ASPECT_MAX} allows, + 1). */
    reach?: number;
  } = {},
): SpatialCandidate {
  if (pairs.length === 0) return { ...initial };
  const fgW = pairs[0].fg.width, fgH = pairs[0].fg.height;
  const bgW = pairs[0].bg.width, bgH = pairs[0].bg.height;
  const fw0 = initial.width, fh0 = initial.height;
  if ((fw0 === fgW && fh0 === fgH) || (fw0 === bgW && fh0 === bgH)) return { ...initial };
  const { sc, idx } = pairScorer(pairs, opts);
  const content = sc.content;
  const rows = (content.height * fh0) / fgH;
  const rowStep = Math.max(1, Math.min(2, Math.floor(rows / 120)));
  const at = (x: number, y: number, fw: number, fh: number) => {
    const r = climb(sc, idx, 0, { xl: x, yl: y, fw, fh }, {
      radius: 1,
      delta: 0,
      rowStep,
      maxMoves: 4,
      minScale: 0,
      maxScale: Infinity,
    });
    if (r.score === -Infinity) return null;
    const st = r.state;
    return { x: st.xl, y: st.yl, fw: st.fw, fh: st.fh, score: sc.score(idx, st, 0, 1) };
  };
  const start = at(initial.x, initial.y, fw0, fh0);
  if (!start) return { ...initial };
  let best = start;
  // one axis at a time, every size within reach (the content centre kept): the score is bumpy
  // in single pixels of size (the resampling's phase), so no walk that stops at a dip
  // rounding a rescaled size moves an edge by at most one fg pixel: up to 4 bg px (scale 4)
  const reach = opts.reach ??
    Math.min(4, Math.max(2, Math.ceil((ASPECT_MAX * Math.max(fw0, fh0)) / 2) + 1));
  const ccx = content.x + content.width / 2, ccy = content.y + content.height / 2;
  // every size within reach on one axis, then the other, then +-1 around the best once more
  for (let round = 0; round < 2; round++) {
    let moved = false;
    for (const axis of ["w", "h"] as const) {
      const from = best;
      const r0 = round === 0 ? reach : 1;
      const base = round === 0 ? (axis === "w" ? fw0 : fh0) : (axis === "w" ? from.fw : from.fh);
      for (let d = -r0; d <= r0; d++) {
        const fw = axis === "w" ? base + d : from.fw;
        const fh = axis === "h" ? base + d : from.fh;
        if (fw === from.fw && fh === from.fh) continue;
        if (fw < 1 || fh < 1 || Math.abs(Math.log((fw / fgW) / (fh / fgH))) > ASPECT_MAX) continue;
        const x = Math.round(from.x + (ccx * (from.fw - fw)) / fgW);
        const y = Math.round(from.y + (ccy * (from.fh - fh)) / fgH);
        const r = at(x, y, fw, fh);
        if (r && r.score > best.score) {
          best = r;
          moved = true;
        }
      }
    }
    if (!moved) break;
  }
  if (best.score <= start.score + ASPECT_GAIN) return { ...initial };
  return toCandidate({ ...best, fixed: true, pairs: idx, start: 0 }, fgW, fgH);
}

/** Options of {@link refineAcrossFrames}. */
export interface RefineAcrossOptions extends RefineOptions {
  /** Position error (bg px) each step to a neighbouring frame starts out covering (default 4). */
  stepReach?: number;
}

/**
 * One fg frame against a run of consecutive bg frames, when the best of them is only roughly
 * known: the placement is refined (as {@link refineSpatial}) on frame `start`, then on its
 * neighbours, stepping frame by frame from the current best (with a small reach, since the
 * placement moves little between frames) while the score improves, first forwards, then, if
 * that did not move, backwards. A neighbour whose score a few pixels around the current
 * placement (same size) is clearly below the current frame's ends the stepping in that
 * direction without the full refinement; a match on `start` scoring >= 0.999 ends it at once.
 * One scorer serves every frame, so fg's rendered templates are made once. Returns the best
 * placement and its frame's index in `bg`.
 */
export function refineAcrossFrames(
  fg: GrayImage,
  bg: GrayImage[],
  start: number,
  initial: SpatialCandidate,
  opts: RefineAcrossOptions = {},
): { best: SpatialCandidate; index: number } {
  if (bg.length === 0) return { best: { ...initial }, index: start };
  checkSizes(bg, "bg");
  const content = refineContent([fg], opts.content);
  const informative = informativeOf([fg], content);
  const sc = new Scorer(
    [new Pyramid(fg)],
    bg.map((b) => new Pyramid(b)),
    content,
    informative,
    opts.clip,
  );
  const s0 = Math.max(0, Math.min(bg.length - 1, start));
  const on = (b: number) => scoredPairs([b], informative);
  let index = s0;
  let best = refineWith(sc, on(s0), initial, opts.reach ?? 16, opts.fixedSize) ?? { ...initial };
  const step = opts.stepReach ?? 4;
  // a (nearly) perfect match: no neighbour can do better by more than the rounding of scores
  if (best.score >= NEAR_PERFECT) return { best, index };
  // the current frame's quick score, for the current placement (recomputed after each move)
  let ref = probeFrame(sc, on(index), best, 2 * step);
  for (const dir of [1, -1]) {
    let moved = false;
    for (let b = index + dir; b >= 0 && b < bg.length; b += dir) {
      // a frame that scores clearly worse around the placement is not refined
      const probe = probeFrame(sc, on(b), best, 2 * step);
      if (probe < ref - (PROBE_SLACK + 0.1 * (1 - ref))) break;
      const r = refineWith(sc, on(b), best, step, opts.fixedSize);
      if (!r || r.score <= best.score) break;
      best = r;
      index = b;
      moved = true;
      ref = probeFrame(sc, on(index), best, 2 * step);
    }
    if (moved) break;
  }
  return { best, index };
}

/**
 * How much lower than on the current frame (plus a tenth of the current frame's shortfall from
 * 1) a neighbouring frame's quick score (at half resolution, see `probeFrame`) may be and still
 * be refined. Over the accuracy bench and 15 more film and tree pairs (70 neighbours refined
 * regardless, 2026-12-08), every neighbour that refining moved to had a quick score at most
 * 0.0121 below the current frame's (0.0015 below for the frame a moving face crop needed); of
 * the others, 11 were within 0.02 and the rest 0.02-0.29 below. A wasted refinement costs
 * ~40 ms for a 320x180 footprint and ~0.4 s for a 960x540 one.
 */
const PROBE_SLACK = 0.02;

/**
 * A full-resolution score at which {@link refineAcrossFrames} does not step to neighbouring
 * frames: fg and bg are then the same pixels (e.g. fg is a stream copy of part of bg), and
 * nearly identical neighbours (a still stretch) would each be refined for a gain below 0.001.
 */
const NEAR_PERFECT = 0.999;

/**
 * A quick score of the placement `c` on bg frame pair `pairs`: the best score near `c` at the
 * same footprint size, climbed from a coarse pyramid level (covering `reachPx`) down to half
 * resolution only (-Infinity when the footprint fits no level). Half resolution still ranks
 * neighbouring frames like full resolution does, while the coarse start covers the motion
 * between them: at full resolution, a placement 4 px off a moving face scores on a flat floor,
 * and a climb from there finds no way up.
 */
function probeFrame(sc: Scorer, pairs: number[], c: SpatialCandidate, reachPx: number): number {
  const top = topLevel(sc, c.width, c.height, reachPx);
  const st = { x: c.x, y: c.y, fw: c.width, fh: c.height };
  return descend(sc, pairs, st, true, top, Math.min(1, top))?.score ?? -Infinity;
}

/** {@link refineSpatial}'s content rectangle: `content`, default the whole fg frame. */
function refineContent(fg: GrayImage[], content: Rect | undefined): Rect {
  return normaliseContent(content ?? { x: 0, y: 0, width: fg[0].width, height: fg[0].height }, fg);
}

/** Which fg frames show detail (all of them when none does). */
function informativeOf(fg: GrayImage[], content: Rect): boolean[] {
  const informative = fg.map((f) => contentStd(f, content) > FLAT_CONTENT_STD);
  return informative.some(Boolean) ? informative : fg.map(() => true);
}

/**
 * The pyramid level a coarse-to-fine refinement of a `fw`x`fh` footprint starts on: its +-2 px
 * cover `reachPx` (at least 2), with >= 32 px of content left.
 */
function topLevel(sc: Scorer, fw: number, fh: number, reachPx: number): number {
  const short = Math.min((sc.content.width * fw) / sc.fgW, (sc.content.height * fh) / sc.fgH);
  const reach = Math.max(2, reachPx);
  return Math.max(
    0,
    Math.min(sc.maxLevel, Math.floor(Math.log2(reach / 2)), Math.floor(Math.log2(short / 32))),
  );
}

/**
 * Hill climbing from pyramid level `from` down to level `to` (positions in full-resolution px;
 * a fixed footprint size when `fixed`): the placement and its score on the last level climbed,
 * or null when the footprint fits no level.
 */
function descend(
  sc: Scorer,
  idx: number[],
  c: { x: number; y: number; fw: number; fh: number },
  fixed: boolean,
  from: number,
  to: number,
): { x: number; y: number; fw: number; fh: number; score: number } | null {
  const { fgH, content } = sc;
  let cur = { ...c }, score = -Infinity;
  for (let lv = from; lv >= to; lv--) {
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
  return score === -Infinity ? null : { ...cur, score };
}

/**
 * {@link refineSpatial} on a scorer's pairs `idx` (with `fixedSize`, at the initial footprint
 * size only); null when no placement could be scored.
 */
function refineWith(
  sc: Scorer,
  idx: number[],
  initial: SpatialCandidate,
  reachPx: number,
  fixedSize = false,
): SpatialCandidate | null {
  const { fgW, fgH, bgW, bgH, content } = sc;
  const fw0 = Math.max(1, Math.round(initial.width || fgW * initial.scale));
  const fh0 = Math.max(1, Math.round(initial.height || fgH * initial.scale));
  const ccx = content.x + content.width / 2, ccy = content.y + content.height / 2;
  const top = topLevel(sc, fw0, fh0, reachPx);
  const run = (
    c: { x: number; y: number; fw: number; fh: number },
    fixed: boolean,
    from: number,
  ) => {
    const d = descend(sc, idx, c, fixed, from, 0);
    if (!d) return null;
    const exact = sc.score(idx, { xl: d.x, yl: d.y, fw: d.fw, fh: d.fh }, 0, 1);
    return { x: d.x, y: d.y, fw: d.fw, fh: d.fh, score: exact, fixed, pairs: idx, start: 0 };
  };
  const out: Cand[] = [];
  const free = run({ x: initial.x, y: initial.y, fw: fw0, fh: fh0 }, fixedSize, top);
  if (fixedSize) return free ? toCandidate(free, fgW, fgH) : null;
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
  if (out.length === 0) return null;
  return toCandidate(pickBest(out, fgW, fgH, bgW, bgH), fgW, fgH);
}
