/**
 * Banded, asymmetric DTW of fg frames onto bg frames, on typed arrays, in O(N·band) time and memory.
 *
 * Every fg frame i gets exactly one bg frame j(i); j is non-decreasing; bg frames may repeat or be
 * skipped. Cost per fg frame = (1 − cosine(fg_i, bg_j)) plus a timestamp-based step penalty.
 *
 * The step penalty is computed on a continuous bg time τ(i) instead of the chosen frame's
 * timestamp: the DP state of fg frame i is τ(i) = rate·t_fg(i) + c(i), with the "phase" c(i) on a
 * grid of 1/Q bg frame, and j(i) = the bg frame nearest to τ(i). Keeping c constant is the
 * steady-rate path and costs nothing (for any fps ratio: 24→30 alternates frame steps 0/1 for
 * free, in the right places); changing it costs `switchCost + λ·|Δτ − rate·Δt_fg|·fgFps` (capped
 * at `switchCost + jumpCost` for long jumps, e.g. edits). A penalty on the frame timestamps alone
 * (|Δt_bg − Δt_fg|) cannot do this: it is invariant to reordering the 0/1 steps, so in static
 * stretches the path could bunch up by many frames at no cost. A backward change right after
 * another one (bg holding a frame across a gap of dropped frames) costs `holdRunCost` instead of
 * `switchCost`. Free start and free end in bg.
 *
 * Emission (per fg frame) refinements, all still O(band) per row:
 * - similarities below `simFloor` all cost the same (frames that match nothing carry no position);
 * - rows whose best similarity is clearly below the typical row's (deep fades, noise) are
 *   down-weighted, so their biased similarities cannot drag the phase;
 * - a single frame may show a ±1 neighbour of its phase's frame for `neighbourCost` (the first
 *   frame of a new shot after a cut, when the nearest moment in time is still the old shot).
 * The map is finally made non-decreasing (running maximum).
 *
 * States whose τ lies before bg's first or after its last frame map to that frame (clamped), so a
 * fg running past either end of bg keeps its phase and the caller can flag it from τ(i).
 * There is no fixed maximum step: skips are bounded by the band and priced as phase changes.
 *
 * Memory: similarities of the band cells (float32 per cell) and back-pointers (int16, or int32 for
 * very wide bands, per state; Q = 8 states per cell: ≈ 20 bytes per band cell), stored row by row
 * inside the band — never an N×M matrix.
 * @module
 */

import type { EmbeddingStore } from "./embedding_store.ts";
import { dotInt8 } from "./embedding_store.ts";
import { framePeriod, lowerBound } from "./band.ts";

/** Cosine similarities of every fg frame with the bg frames of its band (cached per row). */
export interface BandSims {
  /** First fg frame covered. */
  start: number;
  /** One past the last fg frame covered. */
  end: number;
  /** First cached bg frame per row (row r = fg frame start + r). */
  jLo: Int32Array;
  /** Last cached bg frame per row. */
  jHi: Int32Array;
  /** Offset of each row in `sims` (length rows + 1). */
  rowOffset: Float64Array;
  /** Cosines, row-major inside the band. */
  sims: Float32Array;
  /** Number of cosines computed (band cells). */
  cells: number;
}

/** Band rows (bg frame windows) of fg frames `[start, end)` with the layout of {@link BandSims}. */
function bandRows(
  bg: EmbeddingStore,
  bgTimes: Float64Array,
  loTime: Float64Array,
  hiTime: Float64Array,
  start: number,
  end: number,
): BandSims {
  const M = bg.count;
  const rows = Math.max(0, end - start);
  const jLo = new Int32Array(rows);
  const jHi = new Int32Array(rows);
  const rowOffset = new Float64Array(rows + 1);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const i = start + r;
    const a = Math.max(0, Math.min(M - 1, lowerBound(bgTimes, loTime[i]) - 1));
    const b = Math.max(a, Math.min(M - 1, lowerBound(bgTimes, hiTime[i]) + 1));
    jLo[r] = a;
    jHi[r] = b;
    rowOffset[r] = total;
    total += b - a + 1;
  }
  rowOffset[rows] = total;
  return { start, end, jLo, jHi, rowOffset, sims: new Float32Array(total), cells: total };
}

/**
 * Computes the cosines of fg frames `[start, end)` with the bg frames whose timestamps lie in the
 * per-fg-frame window `[loTime[i], hiTime[i]]` (seconds; padded by one frame each side, clamped to
 * bg). `fgInv` / `bgInv` are the stores' `invNorms()` (computed when omitted).
 */
export function bandSimilarities(
  fg: EmbeddingStore,
  bg: EmbeddingStore,
  bgTimes: Float64Array,
  loTime: Float64Array,
  hiTime: Float64Array,
  start = 0,
  end = fg.count,
  fgInv: Float32Array = fg.invNorms(),
  bgInv: Float32Array = bg.invNorms(),
): BandSims {
  const band = bandRows(bg, bgTimes, loTime, hiTime, start, end);
  const { jLo, jHi, rowOffset, sims } = band;
  const dim = fg.dim;
  const fd = fg.data, bd = bg.data;
  for (let r = 0; r < end - start; r++) {
    const i = start + r;
    const fi = fgInv[i];
    const o = rowOffset[r] - jLo[r];
    if (fi === 0) continue;
    for (let j = jLo[r]; j <= jHi[r]; j++) {
      sims[o + j] = dotInt8(fd, i * dim, bd, j * dim, dim) * fi * bgInv[j];
    }
  }
  return band;
}

/**
 * Int8 dot products of DTW band cells, injectable: {@link CpuBandDistance} (`dotInt8`) or
 * `GpuDtwDistance` (src/gpu/distance_gpu.ts, `batch_distance.wgsl`); `createBandDistance` in
 * src/backend.ts picks one per `--backend`.
 */
export interface BandDistance {
  /** Which implementation runs ("cpu" or "webgpu"). */
  readonly kind: string;
  /**
   * For every row r, the dot products of fg vector `start + r` with bg vectors
   * `jLo[r] .. jHi[r]`, row after row into `out` (exact integers as float32: |dot| < 2^24, which
   * holds for dim ≤ 1024). Rows with `skip[r]` true may be left untouched.
   */
  bandDots(
    fg: EmbeddingStore,
    bg: EmbeddingStore,
    start: number,
    jLo: Int32Array,
    jHi: Int32Array,
    out: Float32Array,
    skip?: Uint8Array,
  ): Promise<void>;
  /** Releases resources. */
  destroy(): void;
}

/** {@link BandDistance} on the CPU (`dotInt8`, synchronous; the promise is already settled). */
export class CpuBandDistance implements BandDistance {
  /** Always "cpu". */
  readonly kind = "cpu";

  /** See {@link BandDistance.bandDots}. */
  bandDots(
    fg: EmbeddingStore,
    bg: EmbeddingStore,
    start: number,
    jLo: Int32Array,
    jHi: Int32Array,
    out: Float32Array,
    skip?: Uint8Array,
  ): Promise<void> {
    const dim = fg.dim, fd = fg.data, bd = bg.data;
    let o = 0;
    for (let r = 0; r < jLo.length; r++) {
      const w = Math.max(0, jHi[r] - jLo[r] + 1);
      if (!skip?.[r]) {
        const a = (start + r) * dim;
        for (let x = 0; x < w; x++) out[o + x] = dotInt8(fd, a, bd, (jLo[r] + x) * dim, dim);
      }
      o += w;
    }
    return Promise.resolve();
  }

  /** Nothing to release. */
  destroy(): void {}
}

/**
 * {@link bandSimilarities} with the dot products computed by `distance` (e.g. on WebGPU); the
 * cosines are then formed on the host exactly as {@link bandSimilarities} forms them, so the
 * result is bit-identical.
 */
export async function bandSimilaritiesAsync(
  fg: EmbeddingStore,
  bg: EmbeddingStore,
  bgTimes: Float64Array,
  loTime: Float64Array,
  hiTime: Float64Array,
  distance: BandDistance,
  start = 0,
  end = fg.count,
  fgInv: Float32Array = fg.invNorms(),
  bgInv: Float32Array = bg.invNorms(),
): Promise<BandSims> {
  if (fg.dim !== bg.dim) throw new RangeError("fg and bg embeddings differ in dimension");
  const band = bandRows(bg, bgTimes, loTime, hiTime, start, end);
  const { jLo, jHi, rowOffset, sims } = band;
  const rows = end - start;
  if (rows <= 0) return band;
  const skip = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) skip[r] = fgInv[start + r] === 0 ? 1 : 0;
  await distance.bandDots(fg, bg, start, jLo, jHi, sims, skip);
  for (let r = 0; r < rows; r++) {
    const fi = fgInv[start + r];
    const o = rowOffset[r] - jLo[r];
    if (fi === 0) {
      sims.fill(0, rowOffset[r], rowOffset[r + 1]);
      continue;
    }
    // the dot is an exact integer in float32: the same double product as bandSimilarities
    for (let j = jLo[r]; j <= jHi[r]; j++) sims[o + j] = sims[o + j] * fi * bgInv[j];
  }
  return band;
}

/** Tuning of {@link alignBanded}. Costs are in units of (1 − cosine). */
export interface DtwOptions {
  /** bg seconds per fg second of the steady path (default 1). */
  rate?: number;
  /** Phase grid resolution: states per bg frame (default 8). */
  phaseSteps?: number;
  /** Constant cost of any phase change (default 0.04). */
  switchCost?: number;
  /**
   * Constant cost of a backward phase change (bg time advancing less than fg time, so bg shows
   * a frame again) right after another one, instead of `switchCost` (default 0.002). Where bg
   * lacks k frames (dropped), its last frame before the gap is held for k fg frames: k backward
   * steps in a row, which at k switches lost to a path off by one to three frames for the rest
   * of a short film clip (adjacent frames there differ by ~0.0005 in cosine). Measured on 24
   * pairs (2026-12-08): at 0.01 that film crop stayed 1 frame off, at 0 a near-black fg strayed
   * by 4 frames; noisy slow footage (a tree, crf 35) kept its 98.3 % at every value.
   */
  holdRunCost?: number;
  /** Cost per fg frame of phase change, λ in λ·|Δτ − rate·Δt_fg|·fgFps (default 0.003). */
  lambda?: number;
  /** Cap of the λ term, so long jumps (edits, gaps) cost a constant (default 0.05). */
  jumpCost?: number;
  /**
   * Similarities below this floor all cost the same (1 − floor): frames that match nothing
   * (black, noise) then carry no position information instead of pulling the path around
   * (default −1 = no floor).
   */
  simFloor?: number;
  /**
   * Cost of showing a neighbour (±1) of the phase's nearest bg frame for a single fg frame
   * without changing the phase (default 0.012). Lets the frame right after a cut take the first
   * frame of the new shot when the nearest bg frame in time is still the old shot.
   */
  neighbourCost?: number;
}

/** Result of {@link alignBanded}; arrays have one entry per fg frame in `[start, end)`. */
export interface DtwResult {
  /** bg frame per fg frame (non-decreasing, clamped to bg). */
  map: Int32Array;
  /** Continuous bg time τ(i) = rate·t_fg(i) + phase (may lie outside bg's time range). */
  target: Float64Array;
  /** Cosine of each fg frame with its bg frame. */
  scores: Float32Array;
  /** Total path cost. */
  cost: number;
  /** DP states evaluated. */
  states: number;
  /** Phase changes along the path: their count and the sum of the small ones (< 0.5 frame). */
  switches: number;
  /** Sum of sub-half-frame phase changes (seconds): a rate error shows up here. */
  drift: number;
}

/**
 * Nearest bg frame to τ = base + (k + x)·step for x in [0, width), clamped to [jLo, jHi]
 * (ties go to the earlier frame).
 */
function rowFrames(
  bgTimes: Float64Array,
  base: number,
  k: number,
  step: number,
  width: number,
  jLo: number,
  jHi: number,
  out: Int32Array,
): void {
  const M = bgTimes.length;
  const tau0 = base + k * step;
  let j = lowerBound(bgTimes, tau0);
  if (j >= M) j = M - 1;
  if (j > 0 && tau0 - bgTimes[j - 1] <= bgTimes[j] - tau0) j--;
  for (let x = 0; x < width; x++) {
    const tau = base + (k + x) * step;
    while (j + 1 < M && bgTimes[j + 1] - tau < tau - bgTimes[j]) j++;
    out[x] = j < jLo ? jLo : j > jHi ? jHi : j;
  }
}

/** Median over rows (sub-sampled) of the row's best similarity, at least `floor`. */
function typicalRowMax(band: BandSims, floor: number): number {
  const rows = band.end - band.start;
  const step = Math.max(1, Math.floor(rows / 512));
  const v: number[] = [];
  for (let r = 0; r < rows; r += step) {
    let mx = floor;
    for (let o = band.rowOffset[r]; o < band.rowOffset[r + 1]; o++) {
      if (band.sims[o] > mx) mx = band.sims[o];
    }
    v.push(mx);
  }
  v.sort((a, b) => a - b);
  return v.length ? v[v.length >> 1] : 1;
}

/**
 * Banded DTW over cached band similarities. `loTime` / `hiTime` (bg seconds per fg frame, the same
 * windows given to {@link bandSimilarities}) bound the states; the band edges should be
 * non-decreasing in i.
 */
export function alignBanded(
  band: BandSims,
  fgTimes: Float64Array,
  bgTimes: Float64Array,
  loTime: Float64Array,
  hiTime: Float64Array,
  opts: DtwOptions = {},
): DtwResult {
  const rate = opts.rate ?? 1;
  const Q = opts.phaseSteps ?? 8;
  const kappa = opts.switchCost ?? 0.04;
  const kappaRun = opts.holdRunCost ?? 0.002;
  const lambda = opts.lambda ?? 0.003;
  const floor = opts.simFloor ?? -1;
  const mu = opts.neighbourCost ?? 0.012;
  const jumpCost = opts.jumpCost ?? 0.05;
  const rows = band.end - band.start;
  const empty: DtwResult = {
    map: new Int32Array(0),
    target: new Float64Array(0),
    scores: new Float32Array(0),
    cost: 0,
    states: 0,
    switches: 0,
    drift: 0,
  };
  if (rows <= 0) return empty;
  const bgPeriod = framePeriod(bgTimes);
  const delta = bgPeriod / Q;
  const fgFps = 1 / framePeriod(fgTimes);
  const lam = lambda * delta * fgFps; // cost per grid step of phase change

  // State ranges per row: phase k·delta covers [loTime, hiTime] in bg time.
  const k0 = new Float64Array(rows);
  const wid = new Int32Array(rows);
  let maxW = 1;
  let maxShift = 0;
  let totalStates = 0;
  for (let r = 0; r < rows; r++) {
    const i = band.start + r;
    const base = rate * fgTimes[i];
    const a = Math.floor((loTime[i] - base) / delta);
    const b = Math.max(a, Math.ceil((hiTime[i] - base) / delta));
    k0[r] = a;
    wid[r] = b - a + 1;
    if (wid[r] > maxW) maxW = wid[r];
    if (r > 0) maxShift = Math.max(maxShift, Math.abs(a - k0[r - 1]));
    totalStates += wid[r];
  }
  const rowStart = new Float64Array(rows + 1);
  for (let r = 0; r < rows; r++) rowStart[r + 1] = rowStart[r] + wid[r];
  const back: Int16Array | Int32Array = 2 * maxW + maxShift < 32000
    ? new Int16Array(totalStates)
    : new Int32Array(totalStates);

  let dPrev = new Float64Array(maxW);
  let dCur = new Float64Array(maxW);
  let jPrev = new Int32Array(maxW);
  let jCur = new Int32Array(maxW);
  const pmVal = new Float64Array(maxW);
  const pmArg = new Int32Array(maxW);
  const dq = new Int32Array(maxW);
  let maxFrames = 1;
  for (let r = 0; r < rows; r++) maxFrames = Math.max(maxFrames, band.jHi[r] - band.jLo[r] + 1);
  const raw = new Float64Array(maxFrames);
  const emis = new Float64Array(maxFrames);
  // Typical best similarity of a row: rows that match clearly worse (deep fades, noise) get a
  // smaller weight, so their biased similarities cannot pull the path.
  const typical = typicalRowMax(band, floor);
  /** Emission cost per cached bg frame of row r: weighted floored (1 − cos), or a ±1 neighbour + mu. */
  const emissions = (r: number): void => {
    const n = band.jHi[r] - band.jLo[r] + 1;
    const o = band.rowOffset[r];
    let mx = floor;
    for (let x = 0; x < n; x++) if (band.sims[o + x] > mx) mx = band.sims[o + x];
    const q = Math.min(1, (mx - floor) / Math.max(1e-6, typical - floor));
    const wgt = q * q;
    for (let x = 0; x < n; x++) {
      const sv = band.sims[o + x];
      raw[x] = wgt * (1 - (sv > floor ? sv : floor));
    }
    for (let x = 0; x < n; x++) {
      let e = raw[x];
      if (x > 0 && raw[x - 1] + mu < e) e = raw[x - 1] + mu;
      if (x + 1 < n && raw[x + 1] + mu < e) e = raw[x + 1] + mu;
      emis[x] = e;
    }
  };

  for (let r = 0; r < rows; r++) {
    const i = band.start + r;
    const w = wid[r];
    const ka = k0[r];
    rowFrames(bgTimes, rate * fgTimes[i], ka, delta, w, band.jLo[r], band.jHi[r], jCur);
    const jl = band.jLo[r];
    emissions(r);
    const bo = rowStart[r];
    if (r === 0) {
      for (let x = 0; x < w; x++) {
        dCur[x] = emis[jCur[x] - jl];
        back[bo + x] = 0;
      }
    } else {
      const wp = wid[r - 1];
      const kp = k0[r - 1];
      // prefix minima of the previous row (jump transitions)
      let m = Infinity, am = -1;
      for (let x = 0; x < wp; x++) {
        if (dPrev[x] < m) {
          m = dPrev[x];
          am = x;
        }
        pmVal[x] = m;
        pmArg[x] = am;
      }
      // forward L1 transform: f = min_{k' < k} dPrev(k') + lam·(k − k'), swept from min(ka, kp)
      let fVal = Infinity, fArg = -1;
      let kf = Math.min(ka, kp); // next k' to fold into f
      // backward window deque over k' in (k, K(k)] with value dPrev(k') + lam·k' plus the
      // switch cost: kappaRun where k' itself was reached by a backward step (a hold goes on)
      const pb = rowStart[r - 1];
      const backVal = (xp: number) =>
        dPrev[xp] + lam * xp + (r > 1 && back[pb + xp] > 0 ? kappaRun : kappa);
      let dqHead = 0, dqTail = 0;
      let nextIn = 0; // next prev-row index to push into the deque
      let K = -1; // largest prev index x' with jPrev[x'] <= jCur[x]
      let anyFinite = false;
      for (let x = 0; x < w; x++) {
        const k = ka + x;
        const jc = jCur[x];
        // fold prev states k' < k into the forward transform
        while (kf < k) {
          fVal += lam;
          const xp = kf - kp;
          if (xp >= 0 && xp < wp && dPrev[xp] + lam < fVal) {
            fVal = dPrev[xp] + lam;
            fArg = kf;
          }
          kf++;
        }
        while (K + 1 < wp && jPrev[K + 1] <= jc) K++;
        // backward window: k' in (k, kp + K]
        while (nextIn <= K) {
          const v = backVal(nextIn);
          while (dqTail > dqHead && backVal(dq[dqTail - 1]) >= v) dqTail--;
          dq[dqTail++] = nextIn++;
        }
        const xk = k - kp; // this state's index in the previous row
        while (dqTail > dqHead && dq[dqHead] <= xk) dqHead++;
        let best = Infinity, src = 0;
        if (xk >= 0 && xk < wp) {
          best = dPrev[xk];
          src = k;
        }
        if (kappa + fVal < best) {
          best = kappa + fVal;
          src = fArg;
        }
        if (dqTail > dqHead) {
          const xb = dq[dqHead];
          const v = backVal(xb) - lam * xk;
          if (v < best) {
            best = v;
            src = kp + xb;
          }
        }
        if (K >= 0) {
          const v = kappa + jumpCost + pmVal[K];
          if (v < best) {
            best = v;
            src = kp + pmArg[K];
          }
        }
        dCur[x] = best + emis[jc - jl];
        back[bo + x] = src - k;
        if (best < Infinity) anyFinite = true;
      }
      if (!anyFinite) {
        // Degenerate band (no monotone predecessor): restart from the previous row's best.
        for (let x = 0; x < w; x++) {
          dCur[x] = kappa + jumpCost + pmVal[wp - 1] + emis[jCur[x] - jl];
          back[bo + x] = kp + pmArg[wp - 1] - (ka + x);
        }
      }
    }
    const td = dPrev;
    dPrev = dCur;
    dCur = td;
    const tj = jPrev;
    jPrev = jCur;
    jCur = tj;
  }

  // Free end: best state of the last row; then follow back-pointers.
  const last = rows - 1;
  // ties (e.g. no information at all) go to the state nearest the band's centre
  const centre = (0.5 * (loTime[band.end - 1] + hiTime[band.end - 1]) -
        rate * fgTimes[band.end - 1]) / delta - k0[last];
  let bestX = 0;
  for (let x = 1; x < wid[last]; x++) {
    const d = dPrev[x] - dPrev[bestX];
    if (d < -1e-12 || (d <= 1e-12 && Math.abs(x - centre) < Math.abs(bestX - centre))) bestX = x;
  }
  const cost = dPrev[bestX];
  const ks = new Float64Array(rows);
  let k = k0[last] + bestX;
  for (let r = last; r >= 0; r--) {
    ks[r] = k;
    k += back[rowStart[r] + (k - k0[r])];
  }
  const map = new Int32Array(rows);
  const target = new Float64Array(rows);
  const scores = new Float32Array(rows);
  const one = new Int32Array(1);
  let switches = 0, drift = 0;
  for (let r = 0; r < rows; r++) {
    const i = band.start + r;
    const tau = rate * fgTimes[i] + ks[r] * delta;
    rowFrames(bgTimes, rate * fgTimes[i], ks[r], delta, 1, band.jLo[r], band.jHi[r], one);
    // the emission may have preferred a ±1 neighbour of the phase's frame
    emissions(r);
    const jl = band.jLo[r];
    let j = one[0];
    const x = j - jl;
    const n = band.jHi[r] - jl + 1;
    if (emis[x] < raw[x]) j = x > 0 && raw[x - 1] + mu === emis[x] ? j - 1 : x + 1 < n ? j + 1 : j;
    map[r] = r > 0 && j < map[r - 1] ? map[r - 1] : j;
    target[r] = tau;
    scores[r] = band.sims[band.rowOffset[r] - jl + Math.min(band.jHi[r], Math.max(jl, map[r]))];
    if (r > 0 && ks[r] !== ks[r - 1]) {
      switches++;
      const dc = (ks[r] - ks[r - 1]) * delta;
      if (Math.abs(dc) < 0.5 * bgPeriod) drift += dc;
    }
  }
  return { map, target, scores, cost, states: totalStates, switches, drift };
}
