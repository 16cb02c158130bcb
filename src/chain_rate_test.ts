import assert from "node:assert/strict";
import { countStretches, phaseDeviation, steadyRate } from "./chain_rate.ts";
import { mulberry32 } from "./synth_video_fixture.ts";

/**
 * Chain points of fg frames `fgIdx` (fg at `fgFps`) against bg at `bgFps`, whose footage runs
 * `rate` times as fast in bg and loses `drops[k].frames` bg frames at fg frame `drops[k].at`; the
 * matched bg time is the bg frame nearest the true moment on a grid of `bgStride` frames.
 */
function chain(opts: {
  fgIdx: number[];
  fgFps: number;
  bgFps: number;
  rate: number;
  drops?: { at: number; frames: number }[];
  bgStride?: number;
  offset?: number;
}) {
  const fg: number[] = [], bg: number[] = [];
  const step = (opts.bgStride ?? 1) / opts.bgFps;
  for (const i of opts.fgIdx) {
    const t = i / opts.fgFps;
    let tau = (opts.offset ?? 0) + opts.rate * t;
    for (const d of opts.drops ?? []) if (i >= d.at) tau -= d.frames / opts.bgFps;
    fg.push(t);
    bg.push(Math.round(tau / step) * step);
  }
  return { fg, bg };
}

const range = (a: number, b: number, s = 1) => {
  const out: number[] = [];
  for (let i = a; i < b; i += s) out.push(i);
  return out;
};

Deno.test("chain rate: a short clip whose bg lost frames twice has rate 1, not the average", () => {
  // 180 frames, 3 and 4 bg frames lost: most pairs of points span a step
  const c = chain({
    fgIdx: range(0, 180),
    fgFps: 30,
    bgFps: 30,
    rate: 1,
    drops: [{ at: 50, frames: 3 }, { at: 120, frames: 4 }],
  });
  // the slope through the end points is 0.96
  const r = steadyRate(c.fg, c.bg, { width: 2 / 30, around: 0.96 });
  assert.ok(Math.abs(r.rate - 1) < 1e-3, `rate ${r.rate}`);
  assert.equal(r.stretches, 3);
});

Deno.test("chain rate: a real speed change with a cut, on a coarse quantised grid", () => {
  // 25 fps footage played at 24 fps in fg (rate 25/24 ≈ 1.0417), fg sampled every 7th frame,
  // bg matches on a 16-frame grid, one 40-frame cut
  const c = chain({
    fgIdx: range(0, 20000, 7),
    fgFps: 24,
    bgFps: 25,
    rate: 25 / 24,
    drops: [{ at: 9000, frames: -40 }],
    bgStride: 16,
    offset: 12,
  });
  const r = steadyRate(c.fg, c.bg, { width: 17 / 25, around: 1.04 });
  // drift over the 833 s chain below a frame
  assert.ok(Math.abs(r.rate - 25 / 24) * 833 < 1 / 25, `rate ${r.rate}`);
  assert.equal(r.stretches, 2);
});

Deno.test("chain rate: mismatched matches (outliers) do not move the rate", () => {
  const rnd = mulberry32(7);
  const c = chain({ fgIdx: range(0, 3000, 3), fgFps: 30, bgFps: 25, rate: 1.001 });
  // every 25th point matched a look-alike 2–10 s away
  for (let k = 0; k < c.bg.length; k += 25) c.bg[k] += (rnd() < 0.5 ? -1 : 1) * (2 + 8 * rnd());
  const r = steadyRate(c.fg, c.bg, { width: 2 / 25 });
  assert.ok(Math.abs(r.rate - 1.001) * 100 < 0.5 / 25, `rate ${r.rate}`);
});

Deno.test("chain rate: stretch cost, deviation and degenerate input", () => {
  const fg = [0, 1, 2, 3, 4, 5], bg = [0, 1, 2, 13, 14, 15];
  const starts: number[] = [];
  assert.equal(countStretches(fg, bg, 1, 0.1, starts), 2);
  assert.deepEqual(starts, [0, 3]);
  assert.equal(phaseDeviation(fg, bg, 1, starts), 0);
  // a lone point off the stretch costs half a stretch
  assert.equal(countStretches(fg, [0, 1, 5, 3, 4, 5], 1, 0.1), 1.5);
  assert.ok(Number.isNaN(steadyRate([0, 1], [0, 1], { width: 0.1 }).rate));
  assert.ok(Number.isNaN(steadyRate([1, 1, 1], [0, 1, 2], { width: 0.1 }).rate));
});
