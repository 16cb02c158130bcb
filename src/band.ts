/**
 * Coarse temporal pass: finds where in the background each foreground frame roughly lies.
 *
 * 1. Sub-samples fg and bg embeddings ({@link coarseSampling}): with exact search the coarse problem
 *    is capped at 512 × 2048 samples (quadratic cost); with a sub-linear index (HNSW, see
 *    src/hnsw_index.ts) every 16th fg and bg frame is used (linear cost), which keeps the band
 *    narrow on long inputs (its margin is proportional to the bg stride) and locates breaks to
 *    within a few frames.
 * 2. k-NN candidates per fg sample via a pluggable {@link NeighbourIndex} (exact by default).
 * 3. Fits a monotone chain through the candidates (weighted longest-increasing-chain DP): links
 *    that follow the steady rate cost little; "breaks" (cuts, dropped or inserted segments) cost
 *    a constant, so isolated outliers are never worth following.
 * 4. Estimates the rate (bg seconds per fg second) from the chain (Theil–Sen within unbroken
 *    segments) and re-fits once when it differs from 1.
 * 5. Converts the chain into a per-fg-frame band (bg seconds and bg frame indices) with a margin,
 *    widening across breaks and keeping both edges monotone non-decreasing.
 * @module
 */

import type { EmbeddingStore } from "./embedding_store.ts";
import { dotInt8 } from "./embedding_store.ts";
import { ExactIndex, type NeighbourIndex, searchBatch } from "./knn.ts";
import { checkBreaks } from "./chain_check.ts";
import { steadyRate } from "./chain_rate.ts";

/** Options of {@link coarseBand}. */
export interface BandOptions {
  /** Factory of the neighbour index used for the candidates (default: exact). */
  neighbourIndex?: () => NeighbourIndex;
  /** Candidates per fg sample (default 8). */
  k?: number;
  /** Upper bound on fg samples (default: {@link coarseSampling} for the index used). */
  maxFgSamples?: number;
  /** Upper bound on bg samples (default: {@link coarseSampling} for the index used). */
  maxBgSamples?: number;
  /** Minimum band half-width in bg frames (default: derived from the bg stride). */
  margin?: number;
  /**
   * Most band cells in all (default {@link MAX_BAND_CELLS}): the fine pass's memory and time are
   * proportional to them. A wider band (ambiguous, e.g. periodic, footage that yields a stray
   * chain point) is narrowed around the chain's predicted path.
   */
  maxCells?: number;
}

/** Default cap on the fine pass's band cells (4 M: ~20–36 bytes each in the DTW, ~150 MB). */
export const MAX_BAND_CELLS = 4_000_000;

/** One point of the fitted chain (frame indices in the full-rate sequences). */
export interface ChainPoint {
  /** fg frame index. */
  fg: number;
  /** bg frame index. */
  bg: number;
  /** Cosine similarity of the pair. */
  score: number;
  /** True when the link from the previous chain point is a break (not steady-rate). */
  breakBefore: boolean;
}

/** Output of the coarse pass. */
export interface Band {
  /** First bg frame index of the band, per fg frame (clamped to the bg range, non-decreasing). */
  lo: Int32Array;
  /** Last bg frame index of the band, per fg frame (clamped, non-decreasing, ≥ lo). */
  hi: Int32Array;
  /** Band start in bg seconds per fg frame (not clamped: may lie before bg's first frame). */
  loTime: Float64Array;
  /** Band end in bg seconds per fg frame (not clamped: may lie after bg's last frame). */
  hiTime: Float64Array;
  /** 0 = may overlap bg, 1 = whole band before bg's first frame, 2 = after bg's last frame. */
  outside: Uint8Array;
  /** Median of `bgTime − rate·fgTime` over the chain (seconds). */
  offset: number;
  /** Estimated bg seconds per fg second. */
  rate: number;
  /** Fitted chain, in fg order. */
  chain: ChainPoint[];
  /** fg frame indices where the chain breaks (cuts, dropped or inserted segments). */
  breaks: number[];
  /** fg sampling stride of the coarse problem. */
  fgStride: number;
  /** bg sampling stride of the coarse problem. */
  bgStride: number;
  /** Band half-width margin in bg frames. */
  margin: number;
  /** `kind` of the neighbour index used. */
  neighbourSearch: string;
  /** Typical similarity of unrelated frame pairs (median over random pairs). */
  baseline: number;
}

/** Sampling of the coarse problem. */
export interface CoarseSampling {
  /** Every `fgStride`-th fg frame is a query. */
  fgStride: number;
  /** Every `bgStride`-th bg frame is indexed. */
  bgStride: number;
}

/** Sample caps with exact search: its cost is quadratic (fg samples × bg samples). */
export const EXACT_SAMPLES = { fg: 512, bg: 2048 } as const;

/**
 * Sampling with a sub-linear index: strides of at least `stride` frames, so that the cost is
 * linear in the clip lengths, capped at `fg`/`bg` samples (memory; reached beyond 4.5 h at
 * 30 fps). The band's margin grows with the bg stride, so the stride trades HNSW build time
 * (≈ 0.15–1 ms per indexed sample, bench/neighbour_bench.ts) against fine-pass cells (≈ 3 × stride
 * per fg frame at ≈ 0.5 µs each): both linear, balanced near stride 16. Against the exact caps
 * this shrinks the band of a 60-min fg several-fold (table in the README).
 */
export const DENSE_SAMPLES = { fg: 16_384, bg: 32_768, stride: 16 } as const;

/**
 * Strides of the coarse problem for `N` fg and `M` bg frames. `sublinear`: the neighbour index
 * is a graph index (see {@link NeighbourIndex.sublinear}); it never samples sparser than exact
 * search would. Explicit `maxFgSamples`/`maxBgSamples` override the caps of either kind.
 */
export function coarseSampling(
  N: number,
  M: number,
  sublinear: boolean,
  opts: Pick<BandOptions, "maxFgSamples" | "maxBgSamples"> = {},
): CoarseSampling {
  const stride = (n: number, exactCap: number, denseCap: number, cap?: number): number => {
    if (cap !== undefined) return Math.max(1, Math.ceil(n / cap));
    const exact = Math.max(1, Math.ceil(n / exactCap));
    if (!sublinear) return exact;
    return Math.min(exact, Math.max(DENSE_SAMPLES.stride, Math.ceil(n / denseCap)));
  };
  const bgStride = stride(M, EXACT_SAMPLES.bg, DENSE_SAMPLES.bg, opts.maxBgSamples);
  let fgStride = stride(N, EXACT_SAMPLES.fg, DENSE_SAMPLES.fg, opts.maxFgSamples);
  // Strides with a common factor sample fg at the same phase of bg's grid every time: at equal
  // frame rates the true matches of all queries may then lie halfway between indexed bg frames,
  // which on fast-changing footage look less alike than impostors elsewhere. Coprime strides
  // cycle through the phases, so every bgStride-th query has an indexed frame within half a
  // frame of its moment.
  if (opts.maxFgSamples === undefined && fgStride > 1 && gcd(fgStride, bgStride) > 1) {
    // the nearest coprime stride (the denser one if that stays within 10 % of the sample cap)
    const cap = 1.1 * (sublinear ? DENSE_SAMPLES.fg : EXACT_SAMPLES.fg);
    let down = fgStride - 1;
    while (down > 1 && gcd(down, bgStride) > 1) down--;
    let up = fgStride + 1;
    while (gcd(up, bgStride) > 1) up++;
    fgStride = Math.ceil(N / down) <= cap && fgStride - down <= up - fgStride ? down : up;
  }
  return { fgStride, bgStride };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Median frame period of a timestamp array (falls back to 1/30 s). */
export function framePeriod(times: Float64Array): number {
  const n = times.length;
  if (n < 2) return 1 / 30;
  const step = Math.max(1, Math.floor((n - 1) / 2000));
  const d: number[] = [];
  for (let i = step; i < n; i += step) d.push((times[i] - times[i - step]) / step);
  d.sort((a, b) => a - b);
  const p = d[d.length >> 1];
  return p > 0 ? p : 1 / 30;
}

/** Median of a numeric array (NaN when empty); sorts a copy. */
export function median(values: ArrayLike<number>): number {
  const a = Array.from(values).sort((x, y) => x - y);
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : 0.5 * (a[m - 1] + a[m]);
}

/**
 * Robust mode: the median of the densest `fraction` of the values (shortest window covering
 * that fraction once sorted). Tolerates up to ~1 − fraction of contaminated values as long as they
 * are spread out. NaN when empty.
 */
export function denseMode(values: number[], fraction = 0.3): number {
  const a = values.slice().sort((x, y) => x - y);
  if (a.length === 0) return NaN;
  const h = Math.max(1, Math.ceil(fraction * a.length));
  let best = 0, width = Infinity;
  for (let i = 0; i + h <= a.length; i++) {
    const w = a[i + h - 1] - a[i];
    if (w < width) {
      width = w;
      best = i;
    }
  }
  return a[best + (h >> 1)];
}

/** Index of the first element of sorted `times` that is ≥ `t` (times.length if none). */
export function lowerBound(times: Float64Array, t: number): number {
  let lo = 0, hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Fenwick tree of prefix maxima (with argmax) over positions 0..n-1. */
class PrefixMax {
  private readonly val: Float64Array;
  private readonly arg: Int32Array;
  constructor(n: number) {
    this.val = new Float64Array(n + 1).fill(-Infinity);
    this.arg = new Int32Array(n + 1).fill(-1);
  }
  update(pos: number, v: number, id: number): void {
    for (let i = pos + 1; i < this.val.length; i += i & -i) {
      if (v > this.val[i]) {
        this.val[i] = v;
        this.arg[i] = id;
      }
    }
  }
  /** Max over positions 0..pos; returns [value, id]. */
  query(pos: number): [number, number] {
    let best = -Infinity, id = -1;
    for (let i = Math.min(pos + 1, this.val.length - 1); i > 0; i -= i & -i) {
      if (this.val[i] > best) {
        best = this.val[i];
        id = this.arg[i];
      }
    }
    return [best, id];
  }
}

interface Candidates {
  /** fg frame index per point. */
  fg: Int32Array;
  /** bg frame index per point. */
  bg: Int32Array;
  /** bg sample index per point (for the prefix-max tree). */
  bgSample: Int32Array;
  /** Cosine per point. */
  score: Float32Array;
  /** Chain weight per point (> 0). */
  weight: Float64Array;
  /** Points of fg sample a: [start[a], start[a+1]). */
  start: Int32Array;
}

const LINK_WINDOW = 6;
const LINK_COST = 0.1;
const BREAK_COST = 0.5;
const MIN_WEIGHT = 0.2;

/**
 * Turns k-NN results into weighted chain candidates. With `distinctiveOnly`, fg samples whose
 * match is ambiguous (a candidate far from the best one in bg time scores almost as well, e.g.
 * inside a static shot) contribute no points: the chain bridges them at the steady rate instead.
 */
function candidates(
  ids: Int32Array,
  scores: Float32Array,
  k: number,
  nF: number,
  sF: number,
  sB: number,
  M: number,
  bgTimes: Float64Array,
  baseline: number,
  tol: number,
  distinctiveOnly: boolean,
): Candidates {
  const fgA: number[] = [], bgA: number[] = [], bsA: number[] = [], scA: number[] = [];
  const wA: number[] = [];
  const start = new Int32Array(nF + 1);
  const far = Math.max(tol, 0.5);
  const lastSample = Math.ceil(M / sB) - 1;
  for (let a = 0; a < nF; a++) {
    start[a] = fgA.length;
    const o = a * k;
    if (ids[o] < 0) continue;
    if (distinctiveOnly) {
      const s1 = scores[o];
      const eps = 0.1 * (1 - s1) + 0.001;
      const t1 = bgTimes[Math.min(M - 1, ids[o] * sB)];
      let ambiguous = false;
      for (let r = 1; r < k && ids[o + r] >= 0; r++) {
        const t = bgTimes[Math.min(M - 1, ids[o + r] * sB)];
        if (Math.abs(t - t1) > far && scores[o + r] >= s1 - eps) ambiguous = true;
      }
      if (ambiguous) continue;
    }
    for (let r = 0; r < k; r++) {
      const id = ids[o + r];
      if (id < 0) break;
      // The first/last bg sample also attracts every fg frame beyond bg's ends: no position info.
      if (id === 0 || id === lastSample) continue;
      const s = scores[o + r];
      const w = (s - baseline) / (1 - baseline) - MIN_WEIGHT;
      if (!(w > 0)) continue;
      fgA.push(a * sF);
      bgA.push(Math.min(M - 1, id * sB));
      bsA.push(id);
      scA.push(s);
      wA.push(w);
    }
  }
  start[nF] = fgA.length;
  return {
    fg: Int32Array.from(fgA),
    bg: Int32Array.from(bgA),
    bgSample: Int32Array.from(bsA),
    score: Float32Array.from(scA),
    weight: Float64Array.from(wA),
    start,
  };
}

/** Runs the chain DP for a given rate; returns the chain as point ids in fg order. */
function fitChain(
  c: Candidates,
  fgTimes: Float64Array,
  bgTimes: Float64Array,
  nBgSamples: number,
  rate: number,
  tol: number,
): { ids: number[]; breaks: boolean[] } {
  const P = c.fg.length;
  const score = new Float64Array(P);
  const prev = new Int32Array(P).fill(-1);
  const isBreak = new Uint8Array(P);
  const tree = new PrefixMax(nBgSamples);
  const nS = c.start.length - 1;
  for (let a = 0; a < nS; a++) {
    for (let p = c.start[a]; p < c.start[a + 1]; p++) {
      const tfp = fgTimes[c.fg[p]], tbp = bgTimes[c.bg[p]];
      let best = 0, from = -1, brk = 0;
      const [bv, bid] = tree.query(c.bgSample[p]);
      if (bv - BREAK_COST > best) {
        best = bv - BREAK_COST;
        from = bid;
        brk = 1;
      }
      const q0 = c.start[Math.max(0, a - LINK_WINDOW)];
      for (let q = q0; q < c.start[a]; q++) {
        const dtb = tbp - bgTimes[c.bg[q]];
        if (dtb < -tol) continue;
        const dev = Math.abs(dtb - rate * (tfp - fgTimes[c.fg[q]]));
        if (dev > tol) continue;
        const v = score[q] - LINK_COST * (dev / tol);
        if (v > best) {
          best = v;
          from = q;
          brk = 0;
        }
      }
      score[p] = c.weight[p] + best;
      prev[p] = from;
      isBreak[p] = brk;
    }
    for (let p = c.start[a]; p < c.start[a + 1]; p++) tree.update(c.bgSample[p], score[p], p);
  }
  let end = -1, endScore = -Infinity;
  for (let p = 0; p < P; p++) {
    if (score[p] > endScore) {
      endScore = score[p];
      end = p;
    }
  }
  const ids: number[] = [];
  const breaks: boolean[] = [];
  for (let p = end; p >= 0; p = prev[p]) {
    ids.push(p);
    breaks.push(isBreak[p] === 1 && prev[p] >= 0);
  }
  ids.reverse();
  breaks.reverse();
  // A "break" that in fact follows the steady rate (a gap bridged over ambiguous samples) is
  // relabelled as a continuous link.
  for (let s = 1; s < ids.length; s++) {
    if (!breaks[s]) continue;
    const p = ids[s], q = ids[s - 1];
    const dev = Math.abs(
      bgTimes[c.bg[p]] - bgTimes[c.bg[q]] - rate * (fgTimes[c.fg[p]] - fgTimes[c.fg[q]]),
    );
    if (dev <= tol) breaks[s] = false;
  }
  return { ids, breaks };
}

/**
 * Rate (bg seconds per fg second) from the chain: Theil–Sen over pairs of chain points inside
 * unbroken segments, separated by between max(minSpan, 10 %) and max(2·minSpan, 25 %) of the
 * segment: long enough that frame quantisation and single dropped frames barely matter, short
 * enough that a step (a segment missing from bg, bridged by the chain) only affects a minority of
 * pairs; the robust mode ({@link denseMode}) of the slopes ignores that minority. The mode is
 * then a starting point for {@link steadyRate}: the rate that explains the whole chain with the
 * fewest steady stretches of phase spread ≤ `width` seconds (right also where most pairs span a
 * step, as in short clips with dropped frames), refined by least squares. Snapped to 1 when the
 * implied drift over the chain is under 2 bg frames (indistinguishable from same-speed footage).
 * NaN if there is too little data.
 */
function chainRate(
  c: Candidates,
  ids: number[],
  breaks: boolean[],
  fgTimes: Float64Array,
  bgTimes: Float64Array,
  minSpan: number,
  bgPeriod: number,
  width: number,
): number {
  const slopes: number[] = [];
  let segStart = 0;
  let longest = 0;
  for (let s = 1; s <= ids.length; s++) {
    if (s < ids.length && !breaks[s]) continue;
    const seg = ids.slice(segStart, s);
    segStart = s;
    if (seg.length < 2) continue;
    const segSpan = fgTimes[c.fg[seg[seg.length - 1]]] - fgTimes[c.fg[seg[0]]];
    longest = Math.max(longest, segSpan);
    const need = Math.max(minSpan, 0.1 * segSpan);
    const cap = Math.max(2 * minSpan, 0.25 * segSpan);
    const stride = Math.max(1, Math.floor(seg.length / 200));
    for (let x = 0; x < seg.length; x += stride) {
      for (let y = x + stride; y < seg.length; y += stride) {
        const dtf = fgTimes[c.fg[seg[y]]] - fgTimes[c.fg[seg[x]]];
        if (dtf < need) continue;
        if (dtf > cap) break;
        slopes.push((bgTimes[c.bg[seg[y]]] - bgTimes[c.bg[seg[x]]]) / dtf);
      }
    }
  }
  // The mode is only a starting point: where most pairs span a step (short chains with dropped
  // frames) it is off; the rate that needs the fewest steady stretches is not.
  const mode = slopes.length >= 3 ? denseMode(slopes) : undefined;
  const fgT = Float64Array.from(ids, (p) => fgTimes[c.fg[p]]);
  const bgT = Float64Array.from(ids, (p) => bgTimes[c.bg[p]]);
  const r = steadyRate(fgT, bgT, { width, around: mode }).rate;
  if (!Number.isFinite(r)) return NaN;
  return Math.abs(r - 1) * longest < 2 * bgPeriod ? 1 : r;
}

/**
 * Coarse alignment of fg against bg: returns a per-fg-frame band of bg frames that contains the
 * true match (given steady-ish footage), plus offset, rate and breaks. Time and memory are
 * O(N + M + samples); with exact search the k-NN over the (capped) samples is quadratic, with a
 * sub-linear index it is ~linear in the samples.
 */
export function coarseBand(
  fg: EmbeddingStore,
  fgTimes: Float64Array,
  bg: EmbeddingStore,
  bgTimes: Float64Array,
  opts: BandOptions = {},
): Band {
  const N = fg.count, M = bg.count;
  if (N === 0 || M === 0) throw new RangeError("coarseBand needs non-empty fg and bg");
  if (fgTimes.length !== N || bgTimes.length !== M) {
    throw new RangeError("timestamp arrays must match the embedding counts");
  }
  const dim = fg.dim;
  const k = opts.k ?? 8;
  const index: NeighbourIndex = (opts.neighbourIndex ?? (() => new ExactIndex(dim)))();
  const { fgStride: sF, bgStride: sB } = coarseSampling(N, M, index.sublinear === true, opts);
  const nF = Math.ceil(N / sF), nB = Math.ceil(M / sB);
  const bgPeriod = framePeriod(bgTimes);
  const fgPeriod = framePeriod(fgTimes);

  for (let b = 0; b < nB; b++) index.add(bg.data, b * sB * dim);
  const queries = new Int8Array(nF * dim);
  for (let a = 0; a < nF; a++) {
    queries.set(fg.data.subarray(a * sF * dim, (a * sF + 1) * dim), a * dim);
  }
  const nn = searchBatch(index, queries, dim, k);

  // Similarity of unrelated pairs: fg samples against pseudo-random bg frames.
  const bgInv = new Float32Array(M);
  const rnd: number[] = [];
  let seed = 12345;
  for (let a = 0; a < nF; a++) {
    const qo = a * dim;
    const qq = dotInt8(queries, qo, queries, qo, dim);
    if (qq === 0) continue;
    for (let r = 0; r < 4; r++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const j = seed % M;
      if (bgInv[j] === 0) {
        const bb = dotInt8(bg.data, j * dim, bg.data, j * dim, dim);
        bgInv[j] = bb > 0 ? 1 / Math.sqrt(bb) : -1;
      }
      if (bgInv[j] > 0) {
        rnd.push(dotInt8(queries, qo, bg.data, j * dim, dim) * bgInv[j] / Math.sqrt(qq));
      }
    }
  }
  const baseline = rnd.length ? Math.min(0.98, median(rnd)) : 0;

  const tol = (1.5 * sB + 2) * bgPeriod + 0.05 * sF * fgPeriod;
  const cand = candidates(nn.indices, nn.scores, nn.k, nF, sF, sB, M, bgTimes, baseline, tol, true);
  const all = cand.fg.length >= 2
    ? cand
    : candidates(nn.indices, nn.scores, nn.k, nF, sF, sB, M, bgTimes, baseline, tol, false);

  const minSpan = Math.max(2, 10 * sF * fgPeriod);
  // phase spread of a steady stretch of chain points: each lies up to half a bg stride (plus
  // half a frame where the frame grids differ) off its true moment
  const width = (sB + 1) * bgPeriod;
  let rate = 1;
  let fit = fitChain(all, fgTimes, bgTimes, nB, rate, tol);
  const est = chainRate(all, fit.ids, fit.breaks, fgTimes, bgTimes, minSpan, bgPeriod, width);
  if (Number.isFinite(est) && est > 0.25 && est < 4) {
    if (Math.abs(est - 1) > 0.01) {
      rate = est;
      fit = fitChain(all, fgTimes, bgTimes, nB, rate, tol);
      const est2 = chainRate(all, fit.ids, fit.breaks, fgTimes, bgTimes, minSpan, bgPeriod, width);
      if (Number.isFinite(est2) && est2 > 0.25 && est2 < 4) rate = est2;
    } else {
      rate = est;
    }
  }

  let chain: ChainPoint[] = fit.ids.map((p, s) => ({
    fg: all.fg[p],
    bg: all.bg[p],
    score: all.score[p],
    breakBefore: fit.breaks[s],
  }));
  // fg frames beyond either end of bg match bg's first/last frames: such points at the ends of
  // the chain carry no position; extrapolating from interior points is more accurate.
  const edge = 2 * tol;
  let a0 = 0, a1 = chain.length;
  while (a1 - a0 > 1 && bgTimes[chain[a0].bg] < bgTimes[0] + edge) a0++;
  while (a1 - a0 > 1 && bgTimes[chain[a1 - 1].bg] > bgTimes[M - 1] - edge) a1--;
  chain = chain.slice(a0, a1);
  if (chain.length) chain[0].breakBefore = false;
  const marginFrames = Math.max(opts.margin ?? 0, Math.ceil(1.5 * sB) + 3);
  // breaks re-checked on every frame: detours onto look-alike stretches of bg are dropped
  chain = checkBreaks(chain, { fg, bg, fgTimes, bgTimes, rate, radius: marginFrames, baseline });
  const band = bandFromChain(
    chain,
    fgTimes,
    bgTimes,
    rate,
    marginFrames * bgPeriod,
    fgPeriod,
    opts.maxCells ?? MAX_BAND_CELLS,
  );
  const offs = chain.map((p) => bgTimes[p.bg] - rate * fgTimes[p.fg]);
  return {
    ...band,
    offset: offs.length ? median(offs) : 0,
    rate,
    chain,
    breaks: chain.filter((p) => p.breakBefore).map((p) => p.fg),
    fgStride: sF,
    bgStride: sB,
    margin: marginFrames,
    neighbourSearch: index.kind,
    baseline,
  };
}

/**
 * Per-fg-frame band from a chain: between consecutive chain points the band spans both points'
 * steady-rate extrapolations (and, across a break, both points' bg times); outside the chain it
 * extrapolates at `rate`. Adds `margin` seconds each side and makes both edges non-decreasing.
 */
export function bandFromChain(
  chain: ChainPoint[],
  fgTimes: Float64Array,
  bgTimes: Float64Array,
  rate: number,
  margin: number,
  fgPeriod: number,
  maxCells = Infinity,
): Pick<Band, "lo" | "hi" | "loTime" | "hiTime" | "outside"> {
  const N = fgTimes.length, M = bgTimes.length;
  const loTime = new Float64Array(N);
  const hiTime = new Float64Array(N);
  // the chain's predicted bg time per fg frame (from the nearer chain point)
  const center = new Float64Array(N);
  if (chain.length === 0) {
    // No evidence at all: the band is the whole bg.
    loTime.fill(bgTimes[0] - margin);
    hiTime.fill(bgTimes[M - 1] + margin);
  } else {
    let c = 0; // chain[c] is the first chain point with fg index > i
    for (let i = 0; i < N; i++) {
      while (c < chain.length && chain[c].fg <= i) c++;
      const t = fgTimes[i];
      const q = c > 0 ? chain[c - 1] : undefined;
      const p = c < chain.length ? chain[c] : undefined;
      let lo = Infinity, hi = -Infinity;
      if (q) {
        const a = bgTimes[q.bg] + rate * (t - fgTimes[q.fg]);
        lo = Math.min(lo, a);
        hi = Math.max(hi, a);
      }
      if (p) {
        const b = bgTimes[p.bg] - rate * (fgTimes[p.fg] - t);
        lo = Math.min(lo, b);
        hi = Math.max(hi, b);
      }
      if (q && p && p.breakBefore) {
        lo = Math.min(lo, bgTimes[q.bg]);
        hi = Math.max(hi, bgTimes[p.bg]);
      }
      loTime[i] = lo - margin;
      hiTime[i] = hi + margin;
      const nearQ = q && (!p || i - q.fg <= p.fg - i);
      center[i] = nearQ
        ? bgTimes[q!.bg] + rate * (t - fgTimes[q!.fg])
        : bgTimes[p!.bg] - rate * (fgTimes[p!.fg] - t);
    }
  }
  const bgPeriodEst = M > 1 ? (bgTimes[M - 1] - bgTimes[0]) / (M - 1) : fgPeriod;
  let width = 0;
  for (let i = 0; i < N; i++) {
    width += Math.min(M, (hiTime[i] - loTime[i]) / bgPeriodEst + 1);
  }
  if (chain.length > 0 && width > maxCells) {
    // too wide in all: keep ±w frames around the chain's path (at least the margin)
    const w = Math.max(margin, Math.floor(maxCells / (2 * N)) * bgPeriodEst);
    for (let i = 0; i < N; i++) {
      loTime[i] = Math.max(loTime[i], center[i] - w);
      hiTime[i] = Math.max(loTime[i], Math.min(hiTime[i], center[i] + w));
    }
  }
  for (let i = N - 2; i >= 0; i--) if (loTime[i] > loTime[i + 1]) loTime[i] = loTime[i + 1];
  for (let i = 1; i < N; i++) if (hiTime[i] < hiTime[i - 1]) hiTime[i] = hiTime[i - 1];
  const lo = new Int32Array(N);
  const hi = new Int32Array(N);
  const outside = new Uint8Array(N);
  const half = 0.5 * (M > 1 ? (bgTimes[M - 1] - bgTimes[0]) / (M - 1) : fgPeriod);
  for (let i = 0; i < N; i++) {
    lo[i] = Math.min(M - 1, lowerBound(bgTimes, loTime[i] - half));
    hi[i] = Math.max(lo[i], Math.min(M - 1, lowerBound(bgTimes, hiTime[i] + half) - 1));
    if (hiTime[i] < bgTimes[0] - half) outside[i] = 1;
    else if (loTime[i] > bgTimes[M - 1] + half) outside[i] = 2;
  }
  return { lo, hi, loTime, hiTime, outside };
}
