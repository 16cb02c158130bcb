import { assert, assertAlmostEquals, assertEquals } from "../tests/assert.ts";
import { boxHighPass, createGray, cropGray, type GrayImage } from "./gray_image.ts";
import { Pyramid } from "./spatial_pyramid.ts";
import { climb, type ClimbOptions, scoredPairs, Scorer } from "./spatial_scorer.ts";
import { noiseImage, smoothNoiseImage } from "./synth_image_fixture.ts";

const noise = noiseImage;
const smooth = smoothNoiseImage;

function flat(w: number, h: number, v: number): GrayImage {
  const img = createGray(w, h);
  img.data.fill(v);
  return img;
}

// fg = a 40x32 crop of bg at an even position (so that pyramid level 1 is an exact crop too)
const TX = 22, TY = 14, FW = 40, FH = 32;
const CONTENT = { x: 0, y: 0, width: FW, height: FH };

function scorerOn(bgs: GrayImage[], fgs: GrayImage[], informative = fgs.map(() => true)) {
  return new Scorer(
    fgs.map((f) => new Pyramid(f)),
    bgs.map((b) => new Pyramid(b)),
    CONTENT,
    informative,
  );
}

const crop = (img: GrayImage) => cropGray(img, { x: TX, y: TY, width: FW, height: FH });

Deno.test("Scorer exposes sizes and the deepest level shared by fg and bg", () => {
  const bg = noise(96, 80, 1);
  const sc = scorerOn([bg], [crop(bg)]);
  assertEquals([sc.fgW, sc.fgH, sc.bgW, sc.bgH], [40, 32, 96, 80]);
  assertEquals(sc.maxLevel, 2); // fg: 20x16, 10x8; bg could go to level 3
});

Deno.test("Scorer.scoreOne is 1 at the true placement of a crop and low elsewhere", () => {
  const bg = noise(96, 80, 2);
  const sc = scorerOn([bg], [crop(bg)]);
  const at = (xl: number, yl: number, level = 0, rowStep = 1) =>
    sc.scoreOne(0, 0, { xl, yl, fw: FW, fh: FH }, level, rowStep);
  assertAlmostEquals(at(TX, TY), 1, 1e-5);
  assertAlmostEquals(at(TX, TY, 0, 3), 1, 1e-5);
  let worst = -1;
  for (let dy = -4; dy <= 4; dy++) {
    for (let dx = -4; dx <= 4; dx++) if (dx || dy) worst = Math.max(worst, at(TX + dx, TY + dy));
  }
  assert(worst < 0.3, `an off placement scored ${worst}`);
  // level 1: the crop's even origin maps to (11, 7)
  assertAlmostEquals(at(TX / 2, TY / 2, 1), 1, 1e-5);
  assert(at(TX / 2 + 1, TY / 2, 1) < 0.5);
});

Deno.test("Scorer.scoreOne is -Infinity for placements reaching outside bg", () => {
  const bg = noise(96, 80, 3);
  const sc = scorerOn([bg], [crop(bg)]);
  const t = sc.template(0, FW, FH, 0)!;
  const at = (xl: number, yl: number) => sc.scoreOne(0, 0, { xl, yl, fw: FW, fh: FH }, 0, 1);
  // the scored interior spans [xl + offX, xl + offX + width)
  const maxX = 96 - t.offX - t.width, maxY = 80 - t.offY - t.height;
  assert(at(maxX, maxY) > -Infinity);
  assertEquals(at(maxX + 1, 0), -Infinity);
  assertEquals(at(0, maxY + 1), -Infinity);
  assert(at(-t.offX, 0) > -Infinity);
  assertEquals(at(-t.offX - 1, 0), -Infinity);
  // a footprint too small for a template
  assertEquals(sc.scoreOne(0, 0, { xl: 0, yl: 0, fw: 4, fh: 3 }, 0, 1), -Infinity);
});

Deno.test("Scorer.score averages over paired fg samples and rankPairs finds each pair", () => {
  const bgA = noise(96, 80, 4), bgB = noise(96, 80, 5);
  // fg sample 0 shows bg sample 1, fg sample 1 shows bg sample 0
  const sc = scorerOn([bgA, bgB], [crop(bgB), crop(bgA)]);
  const st = { xl: TX, yl: TY, fw: FW, fh: FH };
  assertAlmostEquals(sc.score([1, 0], st, 0, 1), 1, 1e-5);
  const wrong = sc.score([0, 1], st, 0, 1);
  assert(wrong < 0.3, `wrong pairing scored ${wrong}`);
  const mixed = sc.score([1, 1], st, 0, 1);
  assertAlmostEquals(mixed, (1 + sc.scoreOne(1, 1, st, 0, 1)) / 2, 1e-9);
  // unpaired samples are skipped; nothing paired scores 0
  assertAlmostEquals(sc.score([-1, 0], st, 0, 1), 1, 1e-5);
  assertEquals(sc.score([-1, -1], st, 0, 1), 0);
  // one invalid sample invalidates the mean
  assertEquals(sc.score([1, 0], { ...st, xl: 90 }, 0, 1), -Infinity);
  assertEquals(sc.rankPairs(st, 0, 1), [[1, 0], [0, 1]]);
  // ranking among a given subset only
  assertEquals(sc.rankPairs(st, 0, 1, [[0], [1, 0]]), [[0], [0, 1]]);
});

Deno.test("Scorer.rankPairs ranks bg samples for flat fg samples by mean luma", () => {
  const fg = flat(FW, FH, 110);
  const sc = scorerOn([flat(96, 80, 50), flat(96, 80, 120), flat(96, 80, 105)], [fg], [false]);
  const st = { xl: TX, yl: TY, fw: FW, fh: FH };
  assertEquals(sc.rankPairs(st, 0, 1), [[2, 1, 0]]);
  assertAlmostEquals(sc.meanUnder(0, 1, st, 0), 120, 1e-4);
  assert(Number.isNaN(sc.meanUnder(0, 1, { ...st, xl: 90 }, 0)));
});

Deno.test("Scorer.meanUnder averages raw bg luma under the template's interior", () => {
  const bg = noise(96, 80, 6);
  const sc = scorerOn([bg], [crop(bg)]);
  const st = { xl: 10, yl: 20, fw: FW, fh: FH };
  const t = sc.template(0, FW, FH, 0)!;
  let s = 0;
  for (let y = 0; y < t.height; y++) {
    for (let x = 0; x < t.width; x++) s += bg.data[(20 + t.offY + y) * 96 + 10 + t.offX + x];
  }
  assertAlmostEquals(sc.meanUnder(0, 0, st, 0), s / (t.width * t.height), 1e-3);
});

Deno.test("Scorer caches templates and band-passed bg images", () => {
  const bg = noise(96, 80, 7);
  const sc = scorerOn([bg], [crop(bg)]);
  const t = sc.template(0, FW, FH, 0);
  assert(t !== null && sc.template(0, FW, FH, 0) === t, "template cache hit");
  assert(sc.template(0, FW, FH, 1) !== t, "keyed by level");
  assertEquals(sc.template(0, 4, 3, 0), null);
  sc.clearCache();
  const t2 = sc.template(0, FW, FH, 0);
  assert(t2 !== t, "cleared");
  assertEquals(t2, t);
  const img = sc.bgImage(0, 1, 2);
  assert(sc.bgImage(0, 1, 2) === img, "bg cache hit");
  assert(sc.bgImage(0, 1, 1) !== img, "keyed by radius");
  const lv = sc.bg[0].get(1);
  const want = new Float32Array(lv.width * lv.height);
  boxHighPass(lv.data, lv.width, lv.height, 2, want);
  assertEquals([img.width, img.height], [48, 40]);
  assertEquals(img.data, want);
});

Deno.test("scoredPairs blanks uninformative fg samples", () => {
  assertEquals(scoredPairs([3, 1, 2], [true, false, true]), [3, -1, 2]);
  assertEquals(scoredPairs([0], [false]), [-1]);
});

const BASE: ClimbOptions = {
  radius: 1,
  delta: 0,
  rowStep: 1,
  maxMoves: 12,
  minScale: 0.5,
  maxScale: 2,
};

Deno.test("climb: the exhaustive square finds a placement within its radius", () => {
  const bg = noise(96, 80, 8);
  const sc = scorerOn([bg], [crop(bg)]);
  const start = { xl: TX + 3, yl: TY - 2, fw: FW, fh: FH };
  const r = climb(sc, [0], 0, start, { ...BASE, radius: 3, maxMoves: 0 });
  assertEquals(r.state, { xl: TX, yl: TY, fw: FW, fh: FH });
  assertAlmostEquals(r.score, 1, 1e-5);
  // white noise has a one-pixel peak: radius 1 and no moves cannot see it
  const blind = climb(sc, [0], 0, start, { ...BASE, radius: 1, maxMoves: 0 });
  assert(blind.score < 0.3, `blind climb scored ${blind.score}`);
});

Deno.test("climb: greedy moves walk up a smooth score to the true placement", () => {
  const bg = smooth(96, 80, 9, 7);
  const sc = scorerOn([bg], [crop(bg)]);
  for (const [dx, dy] of [[4, 3], [-5, 2], [3, -5]]) {
    const start = { xl: TX + dx, yl: TY + dy, fw: FW, fh: FH };
    const r = climb(sc, [0], 0, start, { ...BASE, radius: 0 });
    assertEquals(r.state, { xl: TX, yl: TY, fw: FW, fh: FH }, `from (${dx}, ${dy})`);
    assertAlmostEquals(r.score, 1, 1e-5);
  }
  // at pyramid level 1, in level pixels
  const r1 = climb(sc, [0], 1, { xl: TX / 2 + 2, yl: TY / 2 - 2, fw: FW, fh: FH }, BASE);
  assertEquals(r1.state, { xl: TX / 2, yl: TY / 2, fw: FW, fh: FH });
  assertAlmostEquals(r1.score, 1, 1e-5);
  // too few moves stop short
  const short = climb(sc, [0], 0, { xl: TX + 5, yl: TY, fw: FW, fh: FH }, {
    ...BASE,
    radius: 0,
    maxMoves: 2,
  });
  assertEquals(short.state.xl, TX + 3);
});

Deno.test("climb: the pixel ladder steps the footprint size back to fg's own", () => {
  const bg = noise(96, 80, 10);
  const sc = scorerOn([bg], [crop(bg)]);
  // 41x33 centred on the true content centre (42, 30)
  const start = { xl: TX, yl: TY, fw: 41, fh: 33 };
  const r = climb(sc, [0], 0, start, {
    ...BASE,
    delta: 1.05 / 41,
    pixelLadder: true,
    ladderReach: 4,
  });
  assertEquals(r.state, { xl: TX, yl: TY, fw: FW, fh: FH });
  assertAlmostEquals(r.score, 1, 1e-5);
  // with delta 0 the size stays fixed
  const fixed = climb(sc, [0], 0, start, { ...BASE, delta: 0, pixelLadder: true });
  assertEquals([fixed.state.fw, fixed.state.fh], [41, 33]);
  assert(fixed.score < 0.9);
  // so it does when the scale bounds pin it
  const s0 = Math.sqrt((41 / 40) * (33 / 32));
  const pinned = climb(sc, [0], 0, start, {
    ...BASE,
    delta: 1.05 / 41,
    pixelLadder: true,
    minScale: s0,
    maxScale: s0,
  });
  assertEquals([pinned.state.fw, pinned.state.fh], [41, 33]);
});

Deno.test("climb: relative scale steps find a larger footprint (fg shrunk 2x)", () => {
  // fg = bg region [20, 100) x [12, 76) halved: the true footprint is 80x64 at (20, 12)
  const bg = smooth(128, 96, 11, 6);
  const region = cropGray(bg, { x: 20, y: 12, width: 80, height: 64 });
  const half = new Pyramid(region).get(1);
  const fg = createGray(40, 32);
  for (let i = 0; i < fg.data.length; i++) fg.data[i] = Math.round(half.data[i]);
  const sc = new Scorer([new Pyramid(fg)], [new Pyramid(bg)], CONTENT, [true]);
  // start 5 % too small, centred
  const start = { xl: 22, yl: 14, fw: 76, fh: 61 };
  const r = climb(sc, [0], 0, start, { ...BASE, radius: 2, delta: 0.01, maxScale: 3 });
  assertEquals(r.state, { xl: 20, yl: 12, fw: 80, fh: 64 });
  assert(r.score > 0.98, `score ${r.score}`);
  // and the maxScale bound holds it back
  const capped = climb(sc, [0], 0, start, { ...BASE, radius: 2, delta: 0.01, maxScale: 1.95 });
  assert(Math.sqrt((capped.state.fw / 40) * (capped.state.fh / 32)) <= 1.95 * (1 + 1e-6));
  assert(capped.score < r.score);
});

Deno.test("climb returns the start and -Infinity when nothing is valid", () => {
  const bg = noise(96, 80, 12);
  const sc = scorerOn([bg], [crop(bg)]);
  const start = { xl: 200, yl: 5, fw: FW, fh: FH };
  const r = climb(sc, [0], 0, start, { ...BASE, delta: 0.05 });
  assertEquals(r.state, start);
  assertEquals(r.score, -Infinity);
});
