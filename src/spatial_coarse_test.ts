import { assert, assertAlmostEquals, assertEquals } from "../tests/assert.ts";
import { boxHighPass, createGray, cropGray, type GrayImage } from "./gray_image.ts";
import { CpuNccCorrelator } from "./ncc.ts";
import { Pyramid } from "./spatial_pyramid.ts";
import {
  chooseFactors,
  type Coarse,
  coarseAsync,
  coarseSteps,
  coarseSync,
  fftArea,
  type GridScale,
  settings,
} from "./spatial_coarse.ts";
import { noiseImage, smoothNoiseImage } from "./synth_image_fixture.ts";

const noise = noiseImage;
const smooth = smoothNoiseImage;

const isPow2 = (n: number) => n >= 1 && Number.isInteger(n) && (n & (n - 1)) === 0;

function best(cs: Coarse[]): Coarse {
  assert(cs.length > 0, "no coarse candidates");
  return cs.reduce((a, b) => (b.cand.score > a.cand.score ? b : a));
}

// ---- settings, fftArea, chooseFactors ---------------------------------------------------------

Deno.test("settings: five precision levels, rounded and clamped to 0-4", () => {
  assertEquals([0, 1, 2, 3, 4].map((p) => settings(p).minSide), [20, 24, 28, 36, 44]);
  assertEquals([0, 1, 2, 3, 4].map((p) => settings(p).maxFft), [256, 256, 256, 512, 512]);
  assertEquals([0, 1, 2, 3, 4].map((p) => settings(p).rowStep), [4, 3, 3, 2, 1]);
  assertEquals(settings(-3), settings(0));
  assertEquals(settings(9), settings(4));
  assertEquals(settings(1.4), settings(1));
  assertEquals(settings(1.6), settings(2));
  assertEquals(settings(2.5), settings(3));
  assertEquals(settings(NaN), settings(2));
  // finer precision: denser scale grid, more candidates, never fewer rows
  for (let p = 1; p <= 4; p++) {
    const a = settings(p - 1), b = settings(p);
    assert(b.ratio < a.ratio && b.keep > a.keep && b.peaks >= a.peaks, `precision ${p}`);
    assert(b.fullRes >= a.fullRes && b.rowStep <= a.rowStep && b.ladderReach >= a.ladderReach);
  }
});

Deno.test("fftArea rounds the bg seen at factor d up to powers of two", () => {
  assertEquals(fftArea(640, 360, 1), { w: 1024, h: 512 });
  assertEquals(fftArea(640, 360, 2.5), { w: 256, h: 256 });
  assertEquals(fftArea(64, 64, 1), { w: 64, h: 64 });
  // a factor that maps a side onto exactly 2^m is not pushed to 2^(m+1) by rounding noise
  assertEquals(fftArea(640, 360, 360 / 128), { w: 256, h: 128 });
  assertEquals(fftArea(1920, 1080, 1080 / 256), { w: 512, h: 256 });
  for (let d = 1; d < 40; d *= 1.037) {
    const f = fftArea(1000, 700, d);
    const sw = Math.floor(1000 / d + 1e-6), sh = Math.floor(700 / d + 1e-6);
    assert(isPow2(f.w) && f.w >= sw && f.w / 2 < sw, `w at ${d}: ${f.w} for ${sw}`);
    assert(isPow2(f.h) && f.h >= sh && f.h / 2 < sh, `h at ${d}: ${f.h} for ${sh}`);
  }
});

Deno.test("chooseFactors picks the cheapest FFT that keeps the content >= minSide", () => {
  const full = { x: 0, y: 0, width: 320, height: 180 };
  const g = (fw: number, fh: number): GridScale => ({ fw, fh, forced: false });
  // 50 % footprint (short side 180): d <= 9; 8 gives 80x45 -> a 128x64 FFT
  assertEquals(chooseFactors([g(320, 180)], 320, 180, 640, 360, full, 5, settings(0)), [8]);
  // a 10 % footprint (short side 18) cannot reach minSide 20: it gets 80 % of the finest
  // allowed (d = 2.5) short side, 5.76 px, so d <= 3.125: 2^1.5 gives a 256x128 FFT
  const small = chooseFactors([g(32, 18)], 320, 180, 640, 360, full, 5, settings(0));
  assertAlmostEquals(small[0], 2 ** 1.5, 1e-12);
  // several scales at once, in order
  const both = chooseFactors([g(32, 18), g(320, 180)], 320, 180, 640, 360, full, 5, settings(0));
  assertEquals(both, [small[0], 8]);
  // precision 3: minSide 36, FFTs up to 512: d <= 5, and 5 gives 128x72 -> 128x128
  assertEquals(chooseFactors([g(320, 180)], 320, 180, 640, 360, full, 5, settings(3)), [5]);
  // the content rect sets the short side: 80 px wide content needs d <= 4
  const narrow = { x: 100, y: 0, width: 80, height: 180 };
  assertEquals(chooseFactors([g(320, 180)], 320, 180, 640, 360, narrow, 5, settings(0)), [4]);
  // factors stay below 2^(maxLevel + 1): maxLevel 2 rules out 8
  const lv2 = chooseFactors([g(320, 180)], 320, 180, 640, 360, full, 2, settings(0));
  assertAlmostEquals(lv2[0], 2 ** 2.5, 1e-12);
});

Deno.test("chooseFactors respects maxFft and minSide over a range of scales", () => {
  const content = { x: 10, y: 5, width: 300, height: 170 };
  for (const p of [0, 2, 3, 4]) {
    const set = settings(p);
    const scales: GridScale[] = [];
    for (let s = 0.1; s <= 2; s *= 1.15) {
      scales.push({ fw: Math.round(320 * s), fh: Math.round(180 * s), forced: false });
    }
    const ds = chooseFactors(scales, 320, 180, 1280, 720, content, 6, set);
    assertEquals(ds.length, scales.length);
    const finest = 1280 / set.maxFft; // the smallest factor whose FFT fits
    ds.forEach((d, i) => {
      const f = fftArea(1280, 720, d);
      assert(Math.max(f.w, f.h) <= set.maxFft, `p${p} scale ${i}: FFT ${f.w}x${f.h}`);
      assert(d >= 1 && d <= 2 ** 6 * 1.999);
      const short = Math.min(
        (content.width * scales[i].fw) / 320,
        (content.height * scales[i].fh) / 180,
      );
      const need = Math.min(set.minSide, 0.8 * short / finest);
      assert(short / d >= need - 1e-6, `p${p} scale ${i}: ${short / d} px < ${need}`);
    });
  }
});

Deno.test("chooseFactors falls back to the smallest FFT when none fits maxFft", () => {
  // a 30 px fg has a shallow pyramid (maxLevel 1: factors <= ~4): a 3840x2160 bg cannot be seen
  // within a 256 FFT; the coarsest factor allowed (the smallest FFT) is taken, not d = 1
  const set = settings(0);
  const g: GridScale = { fw: 300, fh: 300, forced: false };
  const ds = chooseFactors(
    [g],
    30,
    30,
    3840,
    2160,
    { x: 0, y: 0, width: 30, height: 30 },
    1,
    set,
  );
  assertEquals(ds.length, 1);
  assert(ds[0] > 3.5 && ds[0] < 4, `factor ${ds[0]}`);
  const f = fftArea(3840, 2160, ds[0]);
  assertEquals([f.w, f.h], [1024, 1024]);
});

// ---- coarseSteps -------------------------------------------------------------------------------

const FULL64 = { x: 0, y: 0, width: 64, height: 48 };

Deno.test("coarseSteps asks for band-passed bg images and templates at the chosen factor", () => {
  const bg = noise(160, 120, 1);
  const fg = cropGray(bg, { x: 48, y: 36, width: 64, height: 48 });
  const bgPyr = [new Pyramid(bg)];
  const steps = coarseSteps(
    [new Pyramid(fg)],
    bgPyr,
    FULL64,
    [{ fw: 64, fh: 48, forced: true }],
    [true],
    settings(0),
  );
  const first = steps.next(undefined as never);
  assert(!first.done);
  const q = first.value;
  // short side 48 -> d = 2 (an 80x60 image in a 128x64 FFT); band-pass radius 1
  assertEquals([q.width, q.height, q.images.length, q.batches.length], [80, 60, 1, 1]);
  assertEquals([q.batches[0].width, q.batches[0].height], [30, 22]);
  assertEquals(q.batches[0].templates.length, 1);
  const lv = bgPyr[0].get(1);
  const want = new Float32Array(80 * 60);
  boxHighPass(lv.data, 80, 60, 1, want);
  assertEquals(q.images[0], want);
  // answering finishes it (one working resolution)
  const cpu = new CpuNccCorrelator();
  const last = steps.next(cpu.bestOverSync(q.images, q.width, q.height, q.batches));
  assert(last.done);
  assert(last.value.length >= 1 && last.value.length <= settings(0).peaks);
});

Deno.test("coarseSync finds the exact placement of a crop at an even position", () => {
  const bg = noise(160, 120, 2);
  const fg = cropGray(bg, { x: 48, y: 36, width: 64, height: 48 });
  const out = coarseSync(
    coarseSteps(
      [new Pyramid(fg)],
      [new Pyramid(bg)],
      FULL64,
      [{ fw: 64, fh: 48, forced: true }],
      [true],
      settings(0),
    ),
  );
  const b = best(out);
  assert(out[0] === b, "peaks come best first");
  assertEquals(b.d, 2);
  assertEquals(b.forced, true);
  assertAlmostEquals(b.cand.score, 1, 1e-4);
  assertEquals({ ...b.cand, score: 0 }, {
    x: 48,
    y: 36,
    fw: 64,
    fh: 48,
    score: 0,
    fixed: true,
    pairs: [0],
    start: 0,
  });
  // the second peak is noise
  if (out.length > 1) assert(out[1].cand.score < 0.5, `runner-up ${out[1].cand.score}`);
});

Deno.test("coarseSync lands within one working pixel of an odd crop position", () => {
  const bg = smooth(160, 120, 3, 6);
  const fg = cropGray(bg, { x: 47, y: 37, width: 64, height: 48 });
  const b = best(
    coarseSync(
      coarseSteps(
        [new Pyramid(fg)],
        [new Pyramid(bg)],
        FULL64,
        [{ fw: 64, fh: 48, forced: false }],
        [true],
        settings(0),
      ),
    ),
  );
  assertEquals(b.d, 2);
  assertEquals(b.cand.fixed, false);
  assert(Math.abs(b.cand.x - 47) <= 1 && Math.abs(b.cand.y - 37) <= 1, JSON.stringify(b.cand));
  // half a working pixel off: a clear but imperfect match
  assert(b.cand.score > 0.7, `score ${b.cand.score}`);
});

Deno.test("coarseSync picks the right scale for a 2x shrunk fg", () => {
  // fg = bg region [42, 138) x [36, 108) halved to 48x36: true footprint 96x72 at (42, 36).
  // At its working factor 3 both sides are bg averaged the same way on the same grid
  // (42 / 3 and 36 / 3 are whole, 42 / 2 and 36 / 2 align with bg's pyramid level 1), so
  // only fg's rounding to bytes keeps the match from being exact.
  const bg = smooth(192, 144, 4, 5);
  const half = new Pyramid(cropGray(bg, { x: 42, y: 36, width: 96, height: 72 })).get(1);
  const fg = createGray(48, 36);
  for (let i = 0; i < fg.data.length; i++) fg.data[i] = Math.round(half.data[i]);
  const content = { x: 0, y: 0, width: 48, height: 36 };
  const scales: GridScale[] = [1, 1.5, 2, 2.5].map((s) => ({
    fw: 48 * s,
    fh: 36 * s,
    forced: false,
  }));
  const out = coarseSync(
    coarseSteps([new Pyramid(fg)], [new Pyramid(bg)], content, scales, [true], settings(0)),
  );
  const b = best(out);
  assertEquals([b.d, b.cand.x, b.cand.y, b.cand.fw, b.cand.fh], [3, 42, 36, 96, 72]);
  assertAlmostEquals(b.cand.score, 1, 2e-3);
  // every candidate of another scale scores far lower
  for (const c of out) if (c.cand.fw !== 96) assert(c.cand.score < 0.5, JSON.stringify(c.cand));
  // each scale's factor is chooseFactors' (maxLevel 2: fg 48x36 -> 24x18 -> 12x9)
  const ds = chooseFactors(scales, 48, 36, 192, 144, content, 2, settings(0));
  assertEquals(ds, [1.5, 2.25, 3, 4.5]);
  for (const c of out) assertEquals(c.d, ds[scales.findIndex((g) => g.fw === c.cand.fw)]);
});

Deno.test("coarseSync reports the bg sample paired with each fg sample", () => {
  const bgs = [noise(160, 120, 5), noise(160, 120, 6), noise(160, 120, 7)];
  const at = { x: 48, y: 36, width: 64, height: 48 };
  const fgs = [cropGray(bgs[2], at), cropGray(bgs[1], at)];
  const run = (informative: boolean[]) =>
    best(
      coarseSync(
        coarseSteps(
          fgs.map((f) => new Pyramid(f)),
          bgs.map((b) => new Pyramid(b)),
          FULL64,
          [{ fw: 64, fh: 48, forced: false }],
          informative,
          settings(0),
        ),
      ),
    );
  const both = run([true, true]);
  assertEquals([both.cand.x, both.cand.y, both.cand.pairs], [48, 36, [2, 1]]);
  assertAlmostEquals(both.cand.score, 1, 1e-4);
  // an uninformative sample is not correlated: its pair defaults to 0
  const one = run([true, false]);
  assertEquals([one.cand.x, one.cand.y, one.cand.pairs], [48, 36, [2, 0]]);
  assertAlmostEquals(one.cand.score, 1, 1e-4);
});

Deno.test("coarseSync drops the worst fg sample from the consensus when there are >= 4", () => {
  const bgs = [noise(160, 120, 8), noise(160, 120, 9), noise(160, 120, 10)];
  const at = { x: 48, y: 36, width: 64, height: 48 };
  const stranger = noise(64, 48, 11); // matches nothing
  const run = (fgs: GrayImage[]) =>
    best(
      coarseSync(
        coarseSteps(
          fgs.map((f) => new Pyramid(f)),
          bgs.map((b) => new Pyramid(b)),
          FULL64,
          [{ fw: 64, fh: 48, forced: false }],
          fgs.map(() => true),
          settings(0),
        ),
      ),
    );
  const four = run([...bgs.map((b) => cropGray(b, at)), stranger]);
  assertEquals([four.cand.x, four.cand.y], [48, 36]);
  assertAlmostEquals(four.cand.score, 1, 1e-4); // the stranger is dropped
  const three = run([cropGray(bgs[0], at), cropGray(bgs[1], at), stranger]);
  assertEquals([three.cand.x, three.cand.y], [48, 36]);
  // kept: (1 + 1 + its best chance match) / 3
  assert(three.cand.score > 0.65 && three.cand.score < 0.75, `score ${three.cand.score}`);
});

Deno.test("coarseSteps skips scales whose template does not fit the working bg", () => {
  const bg = noise(160, 120, 12);
  const fg = cropGray(bg, { x: 48, y: 36, width: 64, height: 48 });
  const steps = coarseSteps(
    [new Pyramid(fg)],
    [new Pyramid(bg)],
    FULL64,
    [{ fw: 400, fh: 300, forced: false }],
    [true],
    settings(0),
  );
  const r = steps.next(undefined as never);
  assert(r.done, "no request for an oversized footprint");
  assertEquals(r.value, []);
  // a flat-only set of samples asks nothing either
  const none = coarseSteps(
    [new Pyramid(fg)],
    [new Pyramid(bg)],
    FULL64,
    [{ fw: 64, fh: 48, forced: false }],
    [false],
    settings(0),
  );
  assertEquals(coarseSync(none), []);
});

Deno.test("coarseAsync with the CPU correlator matches coarseSync", async () => {
  const bg = smooth(160, 120, 13, 6);
  const fg = cropGray(bg, { x: 30, y: 50, width: 64, height: 48 });
  const mk = () =>
    coarseSteps(
      [new Pyramid(fg)],
      [new Pyramid(bg)],
      FULL64,
      [{ fw: 58, fh: 43, forced: false }, { fw: 64, fh: 48, forced: true }, {
        fw: 80,
        fh: 60,
        forced: false,
      }],
      [true],
      settings(1),
    );
  const sync = coarseSync(mk());
  const cpu = new CpuNccCorrelator();
  const async = await coarseAsync(mk(), cpu);
  cpu.destroy();
  assertEquals(async, sync);
  const b = best(sync);
  assertEquals([b.cand.x, b.cand.y, b.cand.fw, b.cand.fh, b.forced], [30, 50, 64, 48, true]);
});
