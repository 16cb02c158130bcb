import { assert, assertAlmostEquals, assertEquals } from "../tests/assert.ts";
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

/** A free (non-fixed) candidate; override anything. */
function cand(o: Partial<Cand> & { x: number; y: number }): Cand {
  return { fw: 100, fh: 100, score: 0.5, fixed: false, pairs: [0], start: 0, ...o };
}

const FG = 100;
const FULL = { x: 0, y: 0, width: FG, height: FG };

Deno.test("candScale is the geometric mean of the axis scales", () => {
  assertAlmostEquals(candScale({ fw: 80, fh: 45 }, 160, 90), 0.5, 1e-12);
  assertAlmostEquals(candScale({ fw: 100, fh: 90 }, 50, 90), Math.SQRT2, 1e-12);
  assertAlmostEquals(candScale({ fw: 160, fh: 90 }, 160, 90), 1, 1e-12);
});

Deno.test("toCandidate converts sizes to per-axis and mean scales", () => {
  const c = cand({ x: 12, y: -3, fw: 200, fh: 50, score: 0.75, pairs: [2, 1] });
  assertEquals(toCandidate(c, 100, 100), {
    x: 12,
    y: -3,
    scale: 1,
    scaleX: 2,
    scaleY: 0.5,
    width: 200,
    height: 50,
    score: 0.75,
  });
});

Deno.test("centreDistance measures between content centres in bg pixels", () => {
  const a = cand({ x: 0, y: 0 });
  assertEquals(centreDistance(a, a, FULL, FG, FG), 0);
  assertAlmostEquals(centreDistance(a, cand({ x: 3, y: 4 }), FULL, FG, FG), 5, 1e-12);
  // a half-size footprint at the same origin: centre (25, 25) instead of (50, 50)
  const half = cand({ x: 0, y: 0, fw: 50, fh: 50 });
  assertAlmostEquals(centreDistance(a, half, FULL, FG, FG), Math.hypot(25, 25), 1e-12);
  // off-centre content [60, 100) x [0, 50): centres (80, 25) and (40, 12.5)
  const content = { x: 60, y: 0, width: 40, height: 50 };
  const b = cand({ x: 0, y: 0, fw: 50, fh: 50 });
  assertAlmostEquals(centreDistance(a, b, content, FG, FG), Math.hypot(40, 12.5), 1e-12);
  // scaling about the content centre keeps the distance 0
  const grown = cand({ x: 80 - 80 * 1.5, y: 25 - 25 * 1.5, fw: 150, fh: 150 });
  assertAlmostEquals(centreDistance(a, grown, content, FG, FG), 0, 1e-12);
});

Deno.test("clearlyDifferent: more than 8 px between centres or more than 3 % in scale", () => {
  const a = cand({ x: 0, y: 0 });
  const diff = (b: Cand, px?: number, rel?: number) =>
    clearlyDifferent(a, b, FULL, FG, FG, px, rel);
  assertEquals(diff(a), false);
  assertEquals(diff(cand({ x: 8, y: 0 })), false); // exactly 8 px
  assertEquals(diff(cand({ x: 0, y: -8 })), false);
  assertEquals(diff(cand({ x: 6, y: 6 })), true); // 8.49 px
  assertEquals(diff(cand({ x: -9, y: 0 })), true);
  // scale changes about the same centre (50, 50)
  assertEquals(diff(cand({ x: -1, y: -1, fw: 102, fh: 102 })), false); // +2 %
  assertEquals(diff(cand({ x: -2, y: -2, fw: 104, fh: 104 })), true); // +4 %
  assertEquals(diff(cand({ x: 2, y: 2, fw: 96, fh: 96 })), true); // -4 %
  // custom tolerances
  assertEquals(diff(cand({ x: -9, y: 0 }), 10), false);
  assertEquals(diff(cand({ x: -2, y: -2, fw: 104, fh: 104 }), 8, 0.05), false);
  assertEquals(diff(cand({ x: -1, y: -1, fw: 102, fh: 102 }), 8, 0.01), true);
});

Deno.test("isUnit is true only for fg's own size", () => {
  assertEquals(isUnit(cand({ x: 5, y: 5, fw: 100, fh: 100 }), 100, 100), true);
  assertEquals(isUnit(cand({ x: 5, y: 5, fw: 100, fh: 101 }), 100, 100), false);
  assertEquals(isUnit(cand({ x: 5, y: 5, fw: 100, fh: 100 }), 100, 90), false);
});

Deno.test("pickBest takes the top score when nothing is within the tie margin", () => {
  const top = cand({ x: 1, y: 1, fw: 120, fh: 120, score: 0.9 });
  const cands = [
    cand({ x: 0, y: 0, fw: 100, fh: 100, score: 0.89 }), // unit, but 0.01 behind
    top,
    cand({ x: 0, y: 0, fw: 400, fh: 300, score: 0.85 }), // fit, behind
  ];
  assert(pickBest(cands, 100, 100, 400, 300) === top);
});

Deno.test("pickBest prefers an exact 100 % candidate within the tie margin", () => {
  const top = cand({ x: 1, y: 1, fw: 101, fh: 101, score: 0.9 });
  const u1 = cand({ x: 0, y: 0, score: 0.8985 });
  const u2 = cand({ x: 9, y: 0, score: 0.8995 });
  const fit = cand({ x: 0, y: 0, fw: 400, fh: 300, score: 0.9 });
  // the best-scoring unit candidate among those within the margin
  assert(pickBest([top, u1, fit, u2], 100, 100, 400, 300) === u2);
  assert(pickBest([u1, top], 100, 100, 400, 300) === u1);
});

Deno.test("pickBest keeps 100 % for a noisy match that a slightly resampled size beats", () => {
  // resampling a grainy fg to 99.8 % smooths its noise, which alone raises the score
  const top = cand({ x: 1, y: 1, fw: 998, fh: 499, score: 0.9856 });
  const unit = cand({ x: 0, y: 0, fw: 1000, fh: 500, score: 0.977 });
  assert(pickBest([top, unit], 1000, 500, 1920, 1080) === unit);
  // a clean match keeps the narrow margin: 0.0086 behind loses
  const clean = cand({ x: 1, y: 1, fw: 998, fh: 499, score: 0.999 });
  const unitClean = cand({ x: 0, y: 0, fw: 1000, fh: 500, score: 0.9904 });
  assert(pickBest([clean, unitClean], 1000, 500, 1920, 1080) === clean);
  // and so does a top candidate of a clearly different size (scale 1.2)
  const far = cand({ x: 1, y: 1, fw: 1200, fh: 600, score: 0.9856 });
  assert(pickBest([far, unit], 1000, 500, 1920, 1080) === far);
});

Deno.test("pickBest then prefers the exact whole-bg fit at the origin", () => {
  const top = cand({ x: 1, y: 1, fw: 410, fh: 310, score: 0.9 });
  const fit = cand({ x: 0, y: 0, fw: 400, fh: 300, score: 0.899 });
  const shifted = cand({ x: 1, y: 0, fw: 400, fh: 300, score: 0.8995 });
  assert(pickBest([top, shifted, fit], 100, 100, 400, 300) === fit);
  // a bg-sized footprint not at the origin is no fit: the scale closest to 1 wins instead
  assert(pickBest([top, shifted], 100, 100, 400, 300) === shifted);
});

Deno.test("pickBest otherwise prefers the scale closest to 1 among near-ties", () => {
  const s12 = cand({ x: 0, y: 0, fw: 120, fh: 120, score: 0.95 });
  const s09 = cand({ x: 0, y: 0, fw: 90, fh: 90, score: 0.949 });
  const s105 = cand({ x: 0, y: 0, fw: 105, fh: 105, score: 0.9485 });
  const s1001 = cand({ x: 0, y: 0, fw: 100, fh: 101, score: 0.94 }); // too far behind
  assert(pickBest([s12, s09, s105, s1001], 100, 100, 400, 300) === s105);
  assert(pickBest([s12, s09], 100, 100, 400, 300) === s09);
  // scale distance is measured in log: 0.8 is closer to 1 than 1.3
  const s08 = cand({ x: 0, y: 0, fw: 80, fh: 80, score: 0.9495 });
  const s13 = cand({ x: 0, y: 0, fw: 130, fh: 130, score: 0.95 });
  assert(pickBest([s13, s08], 100, 100, 400, 300) === s08);
});

Deno.test("pruneSame sorts by score (fixed first on ties) and drops invalid and 1-px duplicates", () => {
  const a = cand({ x: 10, y: 10, score: 0.7 });
  const aDup = cand({ x: 11, y: 9, score: 0.6 }); // same size, within 1 px of a
  const a2 = cand({ x: 12, y: 10, score: 0.65 }); // 2 px away: kept
  const aBig = cand({ x: 10, y: 10, fw: 101, score: 0.5 }); // other size: kept
  const tieFree = cand({ x: 50, y: 50, score: 0.8 });
  const tieFixed = cand({ x: 80, y: 80, score: 0.8, fixed: true });
  const bad = cand({ x: 0, y: 0, score: -Infinity });
  const out = pruneSame([aDup, a, bad, a2, tieFree, aBig, tieFixed]);
  assertEquals(out, [tieFixed, tieFree, a, a2, aBig]);
  // the better of two duplicates survives whatever the input order
  assertEquals(pruneSame([a, aDup]), [a]);
  assertEquals(pruneSame([bad]), []);
});

Deno.test("prune drops near-duplicates of a better candidate of the same kind", () => {
  const best = cand({ x: 0, y: 0, score: 0.9 });
  const near = cand({ x: 2, y: 2, score: 0.85 }); // 2.8 px: converges to best
  const farther = cand({ x: 4, y: 0, score: 0.84 }); // > 3 px: distinct at level 0
  const far12 = cand({ x: 12, y: 0, score: 0.83 });
  const fixedHere = cand({ x: 0, y: 3, score: 0.8, fixed: true }); // other kind: kept
  const all = [near, best, farther, far12, fixedHere];
  // (far12 is also the clearly different runner-up, so it comes second)
  assertEquals(prune(all, 10, 1, 0, FULL, FG, FG), [best, far12, farther, fixedHere]);
  // at level 3 (f = 8) the duplicate radius grows to 16 px
  assertEquals(prune(all, 10, 1, 3, FULL, FG, FG), [best, fixedHere]);
  assertEquals(prune([], 3, 1, 0, FULL, FG, FG), []);
});

Deno.test("prune keeps at most n free candidates within the margin of the best", () => {
  const cs = [0.9, 0.85, 0.8, 0.75, 0.7].map((score, i) => cand({ x: 40 * i, y: 0, score }));
  assertEquals(prune(cs, 3, 1, 0, FULL, FG, FG), cs.slice(0, 3));
  assertEquals(prune(cs, 10, 0.12, 0, FULL, FG, FG), cs.slice(0, 3));
  assertEquals(prune(cs, 10, 1, 0, FULL, FG, FG), cs);
  assertEquals(prune(cs, 1, 1, 0, FULL, FG, FG), cs.slice(0, 1));
});

Deno.test("prune always keeps the best clearly different runner-up", () => {
  const best = cand({ x: 0, y: 0, score: 0.9 });
  const close = cand({ x: 5, y: 0, score: 0.89 }); // distinct, but not clearly different
  const other = cand({ x: 40, y: 0, score: 0.5 }); // clearly different, below the margin
  assertEquals(prune([close, other, best], 2, 0.05, 0, FULL, FG, FG), [best, other]);
  assertEquals(prune([close, other, best], 3, 0.05, 0, FULL, FG, FG), [best, other, close]);
  assertEquals(prune([close, other, best], 1, 0.05, 0, FULL, FG, FG), [best]);
  // at level 2 "clearly different" needs > 16 px: 12 px is not enough
  const mid = cand({ x: 12, y: 0, score: 0.5 });
  assertEquals(prune([best, mid], 2, 0.05, 0, FULL, FG, FG), [best, mid]);
  assertEquals(prune([best, mid], 2, 0.05, 2, FULL, FG, FG), [best]);
});

Deno.test("prune keeps fixed-size candidates within 0.3 of the top score, after the free ones", () => {
  const free = cand({ x: 0, y: 0, score: 0.9 });
  const fixedOk = cand({ x: 50, y: 0, score: 0.65, fixed: true });
  const fixedLow = cand({ x: 80, y: 0, score: 0.55, fixed: true });
  const fixedTop = cand({ x: 20, y: 40, score: 0.97, fixed: true });
  assertEquals(prune([fixedOk, fixedLow, free], 1, 0.1, 0, FULL, FG, FG), [free, fixedOk]);
  // the 0.3 window and the margin count from the overall top, a fixed one here
  assertEquals(
    prune([fixedOk, fixedLow, free, fixedTop], 3, 0.1, 0, FULL, FG, FG),
    [free, fixedTop],
  );
  // only fixed candidates: no free ones are invented
  assertEquals(prune([fixedLow, fixedOk], 3, 0.1, 0, FULL, FG, FG), [fixedOk, fixedLow]);
});
