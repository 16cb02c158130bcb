/**
 * Temporal alignment of a foreground clip onto a background clip of the same footage.
 *
 * Pipeline: coarse band ({@link coarseBand}: sub-sampled k-NN + robust monotone chain) → banded
 * similarities → banded phase DTW ({@link alignBanded}) → rate refinement from the path's drift
 * (re-solving on the cached similarities) → held flags, offset, confidence.
 * Time and memory are O(N·band) plus the small coarse problem; no N×M matrix is ever built.
 * @module
 */

import { coarseBand, framePeriod, median } from "./band.ts";
import {
  alignBanded,
  type BandDistance,
  bandSimilarities,
  bandSimilaritiesAsync,
  type BandSims,
  type DtwOptions,
} from "./dtw.ts";
import type { EmbeddingStore } from "./embedding_store.ts";
import { dotInt8 } from "./embedding_store.ts";
import type { NeighbourIndex } from "./knn.ts";

/** Inputs: embeddings and presentation timestamps (seconds) of both clips. */
export interface TemporalInput {
  /** Foreground embeddings, one per fg frame. */
  fg: EmbeddingStore;
  /** Presentation time of each fg frame (seconds, increasing, starting near 0). */
  fgTimes: Float64Array;
  /** Background embeddings, one per bg frame. */
  bg: EmbeddingStore;
  /** Presentation time of each bg frame (seconds, increasing). */
  bgTimes: Float64Array;
}

/** Output of {@link alignTemporal}. */
export interface TemporalResult {
  /** bg frame index for every fg frame (non-decreasing); frames outside bg hold its first/last. */
  map: Int32Array;
  /** Cosine similarity of each fg frame with its mapped bg frame. */
  scores: Float32Array;
  /** 0 = matched, 1 = fg before bg starts (holds bg frame 0), 2 = after bg ends (holds last). */
  held: Uint8Array;
  /** Seconds: bg time ≈ rate·fg time + offset (median over matched frames; rate ≈ 1). */
  offset: number;
  /** bg seconds per fg second (≈ 1 for same-speed footage). */
  rate: number;
  /**
   * Overall confidence in [0, 1], comparable across runs: median over matched frames of
   * (score − s₀)/(1 − s₀), where s₀ is the frame's median similarity to unrelated (random) bg
   * frames. Unrelated inputs give ≈ 0–0.3, well-matched footage > 0.8; non-distinctive matches
   * (e.g. a single static shot) are penalised.
   */
  confidence: number;
  /** Mean band width in bg frames per fg frame. */
  bandWidth: number;
  /** fg sub-sampling stride of the coarse pass. */
  coarseStride: number;
  /** bg sub-sampling stride of the coarse pass. */
  coarseBgStride: number;
  /** Neighbour search used by the coarse pass (`"exact"` or the index's kind). */
  neighbourSearch: "exact" | string;
  /** fg frame indices where the coarse chain breaks (cuts in the edit, dropped segments). */
  breaks: number[];
  /** Band cells (cosines) evaluated by the fine pass. */
  cells: number;
}

/** Options of {@link alignTemporal}. */
export interface TemporalOptions {
  /** Minimum band half-width in bg frames (default: derived from the coarse stride). */
  band?: number;
  /** Neighbour index factory for the coarse pass (default: exact search). */
  neighbourIndex?: () => NeighbourIndex;
  /** Fine DTW tuning (rate is estimated; other fields as in {@link DtwOptions}). */
  dtw?: Omit<DtwOptions, "rate">;
}

/** Validates timestamps: finite and non-decreasing. */
function checkTimes(name: string, t: Float64Array, n: number): void {
  if (t.length !== n) throw new RangeError(`${name} has ${t.length} entries for ${n} frames`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(t[i]) || (i > 0 && t[i] < t[i - 1])) {
      throw new RangeError(`${name} must be finite and non-decreasing (index ${i})`);
    }
  }
}

/** Median similarity of fg frame `i` to `count` pseudo-random bg frames. */
function unrelatedLevel(
  fg: EmbeddingStore,
  i: number,
  fgInv: number,
  bg: EmbeddingStore,
  bgInv: Float32Array,
  count: number,
): number {
  const dim = fg.dim;
  const s: number[] = [];
  let h = (Math.imul(i + 1, 2654435761) >>> 0) || 1;
  for (let r = 0; r < count; r++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    h >>>= 0;
    const j = h % bg.count;
    if (bgInv[j] > 0) s.push(dotInt8(fg.data, i * dim, bg.data, j * dim, dim) * fgInv * bgInv[j]);
  }
  return s.length ? median(s) : 0;
}

/**
 * Robust drift of the path's phase c = τ − rate·t (seconds per second): Theil–Sen over pairs of
 * well-matched frames 1–20 s apart, ignoring pairs across phase jumps (drops, edits) of more than
 * 0.6 frame. Zero when the phase is steady; NaN when there is too little evidence.
 */
function phaseSlope(
  fgTimes: Float64Array,
  target: Float64Array,
  scores: Float32Array,
  rate: number,
  floor: number,
  bgPeriod: number,
): number {
  const idx: number[] = [];
  const n = fgTimes.length;
  const step = Math.max(1, Math.floor(n / 400));
  for (let i = 0; i < n; i += step) if (scores[i] > floor) idx.push(i);
  const slopes: number[] = [];
  for (let a = 0; a < idx.length; a++) {
    for (let b = a + 1; b < idx.length; b += 3) {
      const dt = fgTimes[idx[b]] - fgTimes[idx[a]];
      if (dt < 1) continue;
      if (dt > 20) break;
      const dc = (target[idx[b]] - rate * fgTimes[idx[b]]) -
        (target[idx[a]] - rate * fgTimes[idx[a]]);
      if (Math.abs(dc) <= 0.6 * bgPeriod) slopes.push(dc / dt);
    }
  }
  return slopes.length >= 20 ? median(slopes) : NaN;
}

/**
 * Finds, for every fg frame, the bg frame showing the same moment: one global, monotone,
 * drift-free alignment tolerant of different/variable frame rates, trimmed ends, dropped or
 * duplicated frames, cuts, fades and static stretches.
 */
export function alignTemporal(
  input: TemporalInput,
  opts: TemporalOptions = {},
): TemporalResult {
  const s = setupTemporal(input, opts);
  const { fg, bg, bgTimes } = input;
  const sims = bandSimilarities(
    fg,
    bg,
    bgTimes,
    s.band.loTime,
    s.band.hiTime,
    0,
    fg.count,
    s.fgInv,
    s.bgInv,
  );
  return finishTemporal(input, opts, s, sims);
}

/** Options of {@link alignTemporalAsync}. */
export interface TemporalAsyncOptions extends TemporalOptions {
  /**
   * Computes the fine pass's band dot products (default: on the CPU, as {@link alignTemporal}),
   * e.g. `GpuDtwDistance` on WebGPU. The caller owns it (and destroys it).
   */
  distance?: BandDistance;
}

/**
 * {@link alignTemporal} with the fine pass's band similarities computed by `opts.distance`. The
 * similarities are bit-identical to {@link alignTemporal}'s (exact integer dots, cosines formed
 * on the host), so the result is identical.
 */
export async function alignTemporalAsync(
  input: TemporalInput,
  opts: TemporalAsyncOptions = {},
): Promise<TemporalResult> {
  if (!opts.distance) return alignTemporal(input, opts);
  const s = setupTemporal(input, opts);
  const { fg, bg, bgTimes } = input;
  const sims = await bandSimilaritiesAsync(
    fg,
    bg,
    bgTimes,
    s.band.loTime,
    s.band.hiTime,
    opts.distance,
    0,
    fg.count,
    s.fgInv,
    s.bgInv,
  );
  return finishTemporal(input, opts, s, sims);
}

/** State of an alignment between the coarse band and the fine pass. */
interface TemporalSetup {
  band: ReturnType<typeof coarseBand>;
  fgInv: Float32Array;
  bgInv: Float32Array;
}

/** Validation, the coarse band and the inverse norms. */
function setupTemporal(input: TemporalInput, opts: TemporalOptions): TemporalSetup {
  const { fg, bg, fgTimes, bgTimes } = input;
  const N = fg.count, M = bg.count;
  if (N === 0 || M === 0) throw new RangeError("alignTemporal needs at least one fg and bg frame");
  if (fg.dim !== bg.dim) throw new RangeError("fg and bg embeddings differ in dimension");
  checkTimes("fgTimes", fgTimes, N);
  checkTimes("bgTimes", bgTimes, M);
  const band = coarseBand(fg, fgTimes, bg, bgTimes, {
    neighbourIndex: opts.neighbourIndex,
    margin: opts.band,
  });
  return { band, fgInv: fg.invNorms(), bgInv: bg.invNorms() };
}

/** The DTW passes on the band similarities, held flags, offset and confidence. */
function finishTemporal(
  input: TemporalInput,
  opts: TemporalOptions,
  setup: TemporalSetup,
  sims: BandSims,
): TemporalResult {
  const { fg, bg, fgTimes, bgTimes } = input;
  const N = fg.count, M = bg.count;
  const { band, fgInv, bgInv } = setup;

  const bgPeriod = framePeriod(bgTimes);
  const phaseSteps = opts.dtw?.phaseSteps ?? 8;
  const simFloor = opts.dtw?.simFloor ?? band.baseline + 0.25 * (1 - band.baseline);
  let rate = band.rate;
  let res = alignBanded(sims, fgTimes, bgTimes, band.loTime, band.hiTime, {
    simFloor,
    ...opts.dtw,
    rate,
  });
  for (let iter = 0; iter < 2; iter++) {
    // A rate error makes the steady phase creep: re-solve with the corrected rate.
    const slope = phaseSlope(fgTimes, res.target, res.scores, rate, simFloor, bgPeriod);
    const span = fgTimes[N - 1] - fgTimes[0];
    if (!(Math.abs(slope) * span > 0.5 * bgPeriod / phaseSteps)) break;
    rate += slope;
    res = alignBanded(sims, fgTimes, bgTimes, band.loTime, band.hiTime, {
      simFloor,
      ...opts.dtw,
      rate,
    });
  }

  // Held frames: the leading run whose bg time τ lies before bg's first frame, and the trailing run
  // after its last frame (half a bg frame of tolerance).
  const held = new Uint8Array(N);
  const half = 0.5 * bgPeriod;
  for (let i = 0; i < N && res.target[i] < bgTimes[0] - half; i++) held[i] = 1;
  for (let i = N - 1; i >= 0 && held[i] === 0 && res.target[i] > bgTimes[M - 1] + half; i--) {
    held[i] = 2;
  }
  const map = res.map;
  const scores = res.scores;
  for (let i = 0; i < N; i++) {
    const j = held[i] === 1 ? 0 : held[i] === 2 ? M - 1 : map[i];
    if (j !== map[i]) {
      map[i] = j;
      scores[i] = fg.dot(i, bg, j) * fgInv[i] * bgInv[j];
    }
  }
  // Report 1 when the estimated rate is indistinguishable from it over the clip.
  const fit = Math.abs(rate - 1) * (fgTimes[N - 1] - fgTimes[0]) < 0.5 * bgPeriod ? 1 : rate;
  const offs: number[] = [];
  for (let i = 0; i < N; i++) {
    if (held[i] === 0) offs.push(bgTimes[map[i]] - fit * fgTimes[i]);
  }

  // Confidence: distinctiveness of the matches against unrelated bg frames.
  const z: number[] = [];
  const step = Math.max(1, Math.floor(N / 1500));
  for (let i = 0; i < N; i += step) {
    if (held[i] !== 0 || fgInv[i] === 0) continue;
    const s0 = unrelatedLevel(fg, i, fgInv[i], bg, bgInv, 9);
    z.push((scores[i] - s0) / Math.max(1e-6, 1 - s0));
  }
  const confidence = z.length ? Math.max(0, Math.min(1, median(z))) : 0;

  let widthSum = 0;
  for (let i = 0; i < N; i++) widthSum += band.hi[i] - band.lo[i] + 1;
  return {
    map,
    scores,
    held,
    offset: offs.length ? median(offs) : band.offset,
    rate: fit,
    confidence,
    bandWidth: widthSum / N,
    coarseStride: band.fgStride,
    coarseBgStride: band.bgStride,
    neighbourSearch: band.neighbourSearch,
    breaks: band.breaks,
    cells: sims.cells,
  };
}
