/**
 * The playback rate of a chain of matched (fg time, bg time) points whose phase
 * c = bg − rate·fg is piecewise constant: steady stretches separated by steps where bg lost
 * frames, a segment was cut out, or the edit jumps.
 *
 * Pairwise-slope estimators fail on short chains with steps: when most pairs of points span a
 * step, the slopes that span it outvote the true one. Here the rate is the one that explains the
 * chain with the fewest steady stretches (a minimum-description criterion): at the true rate
 * the phase only moves at the steps; at a wrong rate it creeps everywhere and the chain needs a
 * new stretch every `width / |error|` seconds. The count is exact for each rate (a greedy cover is
 * optimal for contiguous stretches of bounded spread), evaluated on a grid fine enough that the
 * drift between grid rates over the chain is half the width; then the least absolute deviation
 * fit over the stretches (each with its own phase) averages the sampling quantisation out.
 * @module
 */

/** Options of {@link steadyRate}. */
export interface SteadyRateOptions {
  /** Timing slack of a stretch: the most its phases may spread (seconds), ≥ the points' jitter. */
  width: number;
  /** Rates to consider around (besides 1): e.g. a pairwise-slope estimate. */
  around?: number;
  /** Relative range searched around `around` and 1 (default 0.07 = ±7 %). */
  range?: number;
  /** Most grid rates evaluated (default 4000; the grid coarsens beyond). */
  maxRates?: number;
}

/** Result of {@link steadyRate}. */
export interface SteadyRate {
  /** bg seconds per fg second. */
  rate: number;
  /** Cost of the chain at that rate ({@link countStretches}: 1 = one steady stretch). */
  stretches: number;
  /** Index of the first point of each stretch. */
  starts: number[];
}

/**
 * Cost of explaining points (fg[i], bg[i]) (in fg order) at `rate` as steady stretches whose
 * phases bg − rate·fg spread at most `width`: the number of stretches of a greedy cover, plus
 * half a stretch per outlier (a lone point off the stretch that the next point continues, or a
 * lone last point). `starts` receives each stretch's first index.
 */
export function countStretches(
  fg: ArrayLike<number>,
  bg: ArrayLike<number>,
  rate: number,
  width: number,
  starts?: number[],
): number {
  const n = fg.length;
  let count = 0, outliers = 0, lo = Infinity, hi = -Infinity;
  // rounding must not split phases that are exactly `width` apart
  const limit = width * (1 + 1e-9);
  const fits = (c: number) => Math.max(hi, c) - Math.min(lo, c) <= limit;
  for (let i = 0; i < n; i++) {
    const c = bg[i] - rate * fg[i];
    if (count > 0 && fits(c)) {
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    } else if (count > 0 && (i === n - 1 || fits(bg[i + 1] - rate * fg[i + 1]))) {
      outliers++;
    } else {
      count++;
      lo = hi = c;
      starts?.push(i);
    }
  }
  return count + 0.5 * outliers;
}

/** Sum over stretches of the phases' absolute deviations from their stretch's median. */
export function phaseDeviation(
  fg: ArrayLike<number>,
  bg: ArrayLike<number>,
  rate: number,
  starts: number[],
): number {
  let sum = 0;
  for (let s = 0; s < starts.length; s++) {
    const a = starts[s], b = s + 1 < starts.length ? starts[s + 1] : fg.length;
    const c = new Float64Array(b - a);
    for (let i = a; i < b; i++) c[i - a] = bg[i] - rate * fg[i];
    c.sort();
    const m = c[c.length >> 1];
    for (let i = 0; i < c.length; i++) sum += Math.abs(c[i] - m);
  }
  return sum;
}

/**
 * The rate that explains chain points (fg[i], bg[i]) (seconds, in fg order) with the fewest
 * steady stretches, refined by a least-absolute-deviation fit over them. Searches ±`range` around
 * 1 and around `opts.around`. NaN for fewer than 3 points or no time span.
 */
export function steadyRate(
  fg: ArrayLike<number>,
  bg: ArrayLike<number>,
  opts: SteadyRateOptions,
): SteadyRate {
  const n = fg.length;
  const none = { rate: NaN, stretches: 0, starts: [] };
  if (n < 3) return none;
  const span = fg[n - 1] - fg[0];
  if (!(span > 0) || !(opts.width > 0)) return none;
  const range = opts.range ?? 0.07;
  const centres = [1];
  if (opts.around !== undefined && Number.isFinite(opts.around) && opts.around > 0) {
    centres.push(opts.around);
  }
  const lo = Math.min(...centres) / (1 + range), hi = Math.max(...centres) * (1 + range);
  // adjacent grid rates drift apart by half the width over the chain
  let step = opts.width / (2 * span);
  const maxRates = opts.maxRates ?? 4000;
  // search both windows (around 1 and around the estimate) when they are far apart
  const windows = centres.length === 2 && hi - lo > 4 * range * Math.max(...centres)
    ? centres.map((c) => [c / (1 + range), c * (1 + range)])
    : [[lo, hi]];
  const total = windows.reduce((t, [a, b]) => t + (b - a), 0);
  step = Math.max(step, total / maxRates);
  const rates: number[] = [], counts: number[] = [];
  for (const [a, b] of windows) {
    for (let r = a; r <= b + 0.5 * step; r += step) {
      rates.push(r);
      counts.push(countStretches(fg, bg, r, opts.width));
    }
  }
  // The count finds the basin (to within a drift of about `width` over the chain, where one
  // outlier or a point in mid-step can tip it); inside it, with up to one more stretch, the
  // least absolute deviation of the phases from their stretch's median decides: a wrong rate
  // tilts every stretch.
  const fewest = Math.min(...counts);
  let rate = NaN, bestDev = Infinity, starts: number[] = [];
  for (let k = 0; k < rates.length; k++) {
    if (counts[k] > fewest + 1) continue;
    const st: number[] = [];
    countStretches(fg, bg, rates[k], opts.width, st);
    const dev = phaseDeviation(fg, bg, rates[k], st);
    if (dev < bestDev) {
      bestDev = dev;
      rate = rates[k];
      starts = st;
    }
  }
  // With the stretches fixed, the deviation is convex in the rate (the least absolute deviation
  // of a line fit, each stretch with its own phase): a ternary search around the grid's best
  // rate gives the rate to well below the grid step, averaging the points' quantisation out.
  let a = rate - 2 * step, b = rate + 2 * step;
  for (let it = 0; it < 60 && b - a > 1e-9 * rate; it++) {
    const m1 = a + (b - a) / 3, m2 = b - (b - a) / 3;
    if (phaseDeviation(fg, bg, m1, starts) <= phaseDeviation(fg, bg, m2, starts)) b = m2;
    else a = m1;
  }
  const refined = 0.5 * (a + b);
  if (phaseDeviation(fg, bg, refined, starts) <= bestDev) rate = refined;
  const final: number[] = [];
  const stretches = countStretches(fg, bg, rate, opts.width, final);
  return { rate, stretches, starts: final };
}
