/**
 * Second opinion on the breaks of a coarse chain, from every frame rather than the sub-sampled
 * neighbour search. Footage that nearly repeats (a loop, a test pattern, a static shot seen twice)
 * lets the chain jump onto an impostor stretch of bg and back: two breaks around a detour that
 * the band then follows, leaving the true path outside it. Here each stretch between breaks is
 * scored along its own line and along its neighbours' lines (the best bg frame near each line,
 * at a few dozen fg frames of the stretch); a stretch that a neighbouring line explains as well
 * is dropped, so the chain bridges it on that line. A genuine cut or dropped segment keeps its
 * break: there, the neighbour's line shows other footage.
 * @module
 */
import { type ChainPoint, lowerBound } from "./band.ts";
import { dotInt8, type EmbeddingStore } from "./embedding_store.ts";

/** What {@link checkBreaks} needs besides the chain. */
export interface ChainCheckInput {
  /** fg embeddings. */
  fg: EmbeddingStore;
  /** bg embeddings. */
  bg: EmbeddingStore;
  /** fg timestamps (s). */
  fgTimes: Float64Array;
  /** bg timestamps (s). */
  bgTimes: Float64Array;
  /** bg seconds per fg second. */
  rate: number;
  /** How far (bg frames) around a line the best match is looked for. */
  radius: number;
  /** Similarity of unrelated frames (scores near it mean "no match"). */
  baseline: number;
}

/** fg frames scored per stretch and line. */
const SAMPLES = 48;

/**
 * Mean over fg frames spread over [i0, i1] of the best cosine similarity to a bg frame within
 * `radius` frames of the line through `anchor` at `rate`; where the line leaves bg a frame
 * scores `baseline`.
 */
export function lineScore(
  inp: ChainCheckInput,
  i0: number,
  i1: number,
  anchor: { fg: number; bg: number },
  norms: { fg: (i: number) => number; bg: (j: number) => number },
): number {
  const { fg, bg, fgTimes, bgTimes, rate, radius, baseline } = inp;
  const M = bgTimes.length, dim = fg.dim;
  const n = Math.min(SAMPLES, i1 - i0 + 1);
  const half = M > 1 ? 0.5 * (bgTimes[M - 1] - bgTimes[0]) / (M - 1) : 0;
  let sum = 0;
  for (let s = 0; s < n; s++) {
    const i = n === 1 ? i0 : Math.round(i0 + ((i1 - i0) * s) / (n - 1));
    const t = bgTimes[anchor.bg] + rate * (fgTimes[i] - fgTimes[anchor.fg]);
    if (t < bgTimes[0] - half || t > bgTimes[M - 1] + half) {
      sum += baseline;
      continue;
    }
    const j = Math.min(M - 1, lowerBound(bgTimes, t - half));
    const nf = norms.fg(i);
    let best = baseline;
    for (let k = Math.max(0, j - radius); k <= Math.min(M - 1, j + radius); k++) {
      const nb = norms.bg(k);
      if (nf === 0 || nb === 0) continue;
      const c = dotInt8(fg.data, i * dim, bg.data, k * dim, dim) / (nf * nb);
      if (c > best) best = c;
    }
    sum += best;
  }
  return sum / n;
}

/**
 * Drops the chain stretches (runs between breaks) that a neighbouring stretch's line explains at
 * least as well as their own, and clears break flags that no longer separate different lines.
 * Returns a new chain (the input is not changed).
 */
export function checkBreaks(chain: ChainPoint[], inp: ChainCheckInput): ChainPoint[] {
  if (!chain.some((p) => p.breakBefore)) return chain;
  const dim = inp.fg.dim;
  const cache = (store: EmbeddingStore) => {
    const memo = new Map<number, number>();
    return (i: number) => {
      let v = memo.get(i);
      if (v === undefined) {
        v = Math.sqrt(dotInt8(store.data, i * dim, store.data, i * dim, dim));
        memo.set(i, v);
      }
      return v;
    };
  };
  const norms = { fg: cache(inp.fg), bg: cache(inp.bg) };
  // "as well": within a small fraction of the range between unrelated and identical frames
  const tie = 0.02 * Math.max(0.01, 1 - inp.baseline);
  let segs: ChainPoint[][] = [];
  for (const p of chain) {
    if (segs.length === 0 || p.breakBefore) segs.push([]);
    segs[segs.length - 1].push({ ...p });
  }
  // scores stay valid while the stretches they concern are unchanged
  const memo = new Map<string, number>();
  const score = (i0: number, i1: number, anchor: ChainPoint) => {
    const key = `${i0} ${i1} ${anchor.fg} ${anchor.bg}`;
    let v = memo.get(key);
    if (v === undefined) {
      v = lineScore(inp, i0, i1, anchor, norms);
      memo.set(key, v);
    }
    return v;
  };
  const own = (seg: ChainPoint[]) => score(seg[0].fg, seg[seg.length - 1].fg, seg[0]);
  while (segs.length > 1) {
    let dropped = -1;
    for (let k = 0; k < segs.length && dropped < 0; k++) {
      const seg = segs[k];
      const i0 = seg[0].fg, i1 = seg[seg.length - 1].fg;
      const mine = own(seg);
      const prev = k > 0 ? segs[k - 1][segs[k - 1].length - 1] : null;
      const next = k + 1 < segs.length ? segs[k + 1][0] : null;
      for (const other of [prev, next]) {
        if (!other) continue;
        // the shorter stretch is the one that goes: never drop a long stretch for a short one
        const otherLen = other === prev ? segs[k - 1].length : segs[k + 1].length;
        if (otherLen < seg.length) continue;
        if (score(i0, i1, other) >= mine - tie) {
          dropped = k;
          break;
        }
      }
    }
    if (dropped < 0) break;
    segs = mergeSameLine(segs.filter((_, k) => k !== dropped), inp);
  }
  const out = segs.flat();
  if (out.length) out[0].breakBefore = false;
  return out;
}

/** Joins consecutive stretches that lie on one line (within `radius` + 1 bg frames). */
function mergeSameLine(segs: ChainPoint[][], inp: ChainCheckInput): ChainPoint[][] {
  const { fgTimes, bgTimes, rate } = inp;
  const M = bgTimes.length;
  const period = M > 1 ? (bgTimes[M - 1] - bgTimes[0]) / (M - 1) : 1 / 30;
  const tol = (inp.radius + 1) * period;
  const out: ChainPoint[][] = [];
  for (const seg of segs) {
    const last = out.length ? out[out.length - 1] : null;
    if (last) {
      const q = last[last.length - 1], p = seg[0];
      const dev = Math.abs(bgTimes[p.bg] - bgTimes[q.bg] - rate * (fgTimes[p.fg] - fgTimes[q.fg]));
      if (dev <= tol) {
        last.push({ ...p, breakBefore: false }, ...seg.slice(1));
        continue;
      }
    }
    out.push(seg.map((p, k) => (k === 0 ? { ...p, breakBefore: out.length > 0 } : p)));
  }
  return out;
}
