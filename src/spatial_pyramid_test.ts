import { assert, assertAlmostEquals, assertEquals } from "../tests/assert.ts";
import { boxHighPass, createGray, type GrayImage } from "./gray_image.ts";
import {
  bandRadius,
  clipRobust,
  EPS,
  type Level,
  Pyramid,
  renderTemplate,
} from "./spatial_pyramid.ts";
import { mulberry32 } from "./synth_video_fixture.ts";

/** Uniform random 8-bit noise. */
function noise(w: number, h: number, seed: number): GrayImage {
  const r = mulberry32(seed);
  const img = createGray(w, h);
  for (let i = 0; i < img.data.length; i++) img.data[i] = Math.floor(r() * 256);
  return img;
}

/** Exact area average of `lv` over the source box [x0, x1) x [y0, y1) (fractional edges). */
function boxMean(lv: Level, x0: number, x1: number, y0: number, y1: number): number {
  let s = 0, a = 0;
  for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
    const wy = Math.min(y1, y + 1) - Math.max(y0, y);
    for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
      const w = wy * (Math.min(x1, x + 1) - Math.max(x0, x));
      s += w * lv.data[y * lv.width + x];
      a += w;
    }
  }
  return s / a;
}

Deno.test("Pyramid: maxLevel is the deepest level with both sides >= 8 px", () => {
  assertEquals(new Pyramid(createGray(100, 40)).maxLevel, 2); // 50x20, 25x10, (12x5)
  assertEquals(new Pyramid(createGray(64, 64)).maxLevel, 3); // 32, 16, 8, (4)
  assertEquals(new Pyramid(createGray(15, 200)).maxLevel, 0); // 7 px would be too small
  assertEquals(new Pyramid(createGray(16, 16)).maxLevel, 1);
});

Deno.test("Pyramid.get builds levels lazily, halving sizes, and clamps to maxLevel", () => {
  const img = noise(100, 40, 1);
  const p = new Pyramid(img);
  assertEquals(p.levels.length, 1);
  assert(p.get(0).data === img.data, "level 0 is the image itself");
  const l2 = p.get(2);
  assertEquals(p.levels.length, 3);
  assertEquals([p.levels[1].width, p.levels[1].height], [50, 20]);
  assertEquals([l2.width, l2.height], [25, 10]);
  assert(p.get(7) === l2, "levels beyond maxLevel clamp to the deepest one");
  assertEquals(p.levels.length, 3);
});

Deno.test("Pyramid levels are exact 2x2 (4x4, ...) area averages of full-res pixels", () => {
  const img = noise(37, 29, 2); // odd sizes: the last row/column is dropped
  const p = new Pyramid(img);
  assertEquals(p.maxLevel, 1);
  const full = p.get(0);
  const l1 = p.get(1);
  assertEquals([l1.width, l1.height], [18, 14]);
  let worst = 0;
  for (let y = 0; y < l1.height; y++) {
    for (let x = 0; x < l1.width; x++) {
      const want = boxMean(full, 2 * x, 2 * x + 2, 2 * y, 2 * y + 2);
      worst = Math.max(worst, Math.abs(l1.data[y * l1.width + x] - want));
    }
  }
  assert(worst < 1e-4, `level 1 off by ${worst}`);
  const big = new Pyramid(noise(64, 48, 3));
  const l2 = big.get(2);
  assertEquals([l2.width, l2.height], [16, 12]);
  worst = 0;
  for (let y = 0; y < l2.height; y++) {
    for (let x = 0; x < l2.width; x++) {
      const want = boxMean(big.get(0), 4 * x, 4 * x + 4, 4 * y, 4 * y + 4);
      worst = Math.max(worst, Math.abs(l2.data[y * l2.width + x] - want));
    }
  }
  assert(worst < 1e-4, `level 2 off by ${worst}`);
});

Deno.test("Pyramid.atFactor returns the level itself at powers of two (within EPS)", () => {
  const p = new Pyramid(noise(100, 40, 4));
  assert(p.atFactor(1) === p.get(0));
  assert(p.atFactor(2) === p.get(1));
  assert(p.atFactor(4) === p.get(2));
  // floating-point noise around a power of two still picks the level
  assert(p.atFactor(2 - 1e-9) === p.get(1));
  assert(p.atFactor(4 * (1 + EPS / 10)) === p.get(2));
});

Deno.test("Pyramid.atFactor resamples between levels by exact area averaging", () => {
  const p = new Pyramid(noise(100, 40, 5));
  const l1 = p.get(1);
  const a = p.atFactor(3); // level 1 (50x20) shrunk by 1.5
  assertEquals([a.width, a.height], [33, 13]);
  let worst = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const want = boxMean(l1, 1.5 * x, 1.5 * x + 1.5, 1.5 * y, 1.5 * y + 1.5);
      worst = Math.max(worst, Math.abs(a.data[y * a.width + x] - want));
    }
  }
  assert(worst < 1e-3, `atFactor(3) off by ${worst}`);
  // beyond the deepest level (2: 25x10) it shrinks that level further
  const b = p.atFactor(8);
  assertEquals([b.width, b.height], [12, 5]);
  const l2 = p.get(2);
  assertAlmostEquals(b.data[0], boxMean(l2, 0, 2, 0, 2), 1e-3);
  assertAlmostEquals(b.data[5 * 12 - 1], boxMean(l2, 22, 24, 8, 10), 1e-3);
  // a constant image stays constant at any factor
  const flat = createGray(90, 60);
  flat.data.fill(77);
  const c = new Pyramid(flat).atFactor(2.7);
  assertEquals([c.width, c.height], [33, 22]);
  for (const v of c.data) assertAlmostEquals(v, 77, 1e-3);
});

Deno.test("bandRadius is ~1/16 of the short side, on a sqrt(2) ladder, never below 1", () => {
  const table: [number, number][] = [
    [1, 1],
    [16, 1],
    [24, 1],
    [27, 2],
    [32, 2],
    [45, 3],
    [64, 4],
    [90, 6],
    [128, 8],
    [181, 11],
    [256, 16],
    [1000, 64],
  ];
  for (const [s, r] of table) assertEquals(bandRadius(s), r, `bandRadius(${s})`);
  let prev = 0;
  for (let s = 0; s <= 4096; s += 0.5) {
    const r = bandRadius(s);
    assert(r >= prev, `not monotonic at ${s}: ${prev} -> ${r}`);
    assert(r >= 1 && Number.isInteger(r));
    // within a quarter octave of short/16 (rounded)
    if (s >= 32) assert(r >= (s / 16) / 1.2 - 0.5 && r <= (s / 16) * 1.2 + 0.5, `${s} -> ${r}`);
    prev = r;
  }
});

Deno.test("renderTemplate at 1:1 is the band-passed content interior, mean removed", () => {
  const img = noise(64, 48, 6);
  const p = new Pyramid(img);
  const t = renderTemplate(p, { x: 0, y: 0, width: 64, height: 48 }, 64, 48, 1, 2);
  assert(t !== null);
  assertEquals([t.width, t.height, t.offX, t.offY, t.r], [60, 44, 2, 2, 2]);
  let sum = 0;
  for (const v of img.data) sum += v;
  assertAlmostEquals(t.rawMean, sum / img.data.length, 1e-3);
  const hp = new Float32Array(64 * 48);
  boxHighPass(img.data, 64, 48, 2, hp);
  let m = 0;
  for (let y = 0; y < 44; y++) for (let x = 0; x < 60; x++) m += hp[(y + 2) * 64 + x + 2];
  m /= 60 * 44;
  assertAlmostEquals(t.mean, m, 1e-3);
  let worst = 0, q = 0, s = 0;
  for (let y = 0; y < 44; y++) {
    for (let x = 0; x < 60; x++) {
      const v = t.data[y * 60 + x];
      worst = Math.max(worst, Math.abs(v - (hp[(y + 2) * 64 + x + 2] - m)));
      q += v * v;
      s += v;
    }
  }
  assert(worst < 1e-3, `template off by ${worst}`);
  assertAlmostEquals(s, 0, 1e-2);
  assertAlmostEquals(t.sumSq, q, q * 1e-5);
});

Deno.test("renderTemplate at half size reads pyramid level 1; default radius from its size", () => {
  const img = noise(64, 48, 7);
  const p = new Pyramid(img);
  const t = renderTemplate(p, { x: 0, y: 0, width: 64, height: 48 }, 32, 24, 1);
  assert(t !== null);
  // 32x24 footprint, bandRadius(24) = 1
  assertEquals([t.width, t.height, t.offX, t.offY, t.r], [30, 22, 1, 1, 1]);
  const l1 = p.get(1);
  const hp = new Float32Array(32 * 24);
  boxHighPass(l1.data, 32, 24, 1, hp);
  let worst = 0;
  for (let y = 0; y < 22; y++) {
    for (let x = 0; x < 30; x++) {
      worst = Math.max(worst, Math.abs(t.data[y * 30 + x] + t.mean - hp[(y + 1) * 32 + x + 1]));
    }
  }
  assert(worst < 1e-3, `template off by ${worst}`);
  // the same footprint seen at working factor 2 gives a 16x12 template
  const u = renderTemplate(p, { x: 0, y: 0, width: 64, height: 48 }, 32, 24, 2, 1);
  assert(u !== null);
  assertEquals([u.width, u.height, u.offX, u.offY], [14, 10, 1, 1]);
});

Deno.test("renderTemplate keeps only footprint pixels fully inside the content", () => {
  const p = new Pyramid(noise(64, 48, 8));
  // content [7, 47) x [5, 35): at 1/2 scale [3.5, 23.5) x [2.5, 17.5) -> pixels 4..22, 3..16
  const t = renderTemplate(p, { x: 7, y: 5, width: 40, height: 30 }, 64, 48, 2, 1);
  assert(t !== null);
  assertEquals([t.width, t.height, t.offX, t.offY], [19 - 2, 14 - 2, 5, 4]);
  // an even content rect at 1:1 maps straight through
  const u = renderTemplate(p, { x: 8, y: 4, width: 40, height: 30 }, 64, 48, 1, 3);
  assert(u !== null);
  assertEquals([u.width, u.height, u.offX, u.offY], [34, 24, 11, 7]);
});

Deno.test("renderTemplate returns null when the band-passed interior is under 2 px", () => {
  const p = new Pyramid(noise(64, 48, 9));
  const content = { x: 0, y: 0, width: 64, height: 48 };
  // footprint 8x6 at factor 1, radius 2: interior 4x2 -> fine; radius 3 leaves 2x0
  const ok = renderTemplate(p, content, 8, 6, 1, 2);
  assert(ok !== null);
  assertEquals([ok.width, ok.height], [4, 2]);
  assertEquals(renderTemplate(p, content, 8, 6, 1, 3), null);
  assertEquals(renderTemplate(p, content, 6, 5, 1, 2), null);
  // the same footprint at factor 2 is 4x3: too small even for radius 1
  assertEquals(renderTemplate(p, content, 8, 6, 2), null);
});

Deno.test("clipRobust limits a few extreme values and leaves the rest", () => {
  // 96 values of ±1 around 10 (median absolute deviation 1) and 4 outliers at 10 ± 50
  const data = new Float32Array(100);
  for (let i = 0; i < 96; i++) data[i] = 10 + (i % 2 ? 1 : -1);
  data.set([60, 60, -40, -40], 96);
  const mean = clipRobust(data, 10, 2);
  const lim = 2 * 1.4826;
  for (let i = 0; i < 96; i++) assertEquals(data[i], 10 + (i % 2 ? 1 : -1));
  assertAlmostEquals(data[96], 10 + lim, 1e-5);
  assertAlmostEquals(data[98], 10 - lim, 1e-5);
  assertAlmostEquals(mean, 10, 1e-5);
});

Deno.test("renderTemplate with clip: a bright box no longer dominates the template", () => {
  const img = createGray(64, 48);
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 64; x++) {
      img.data[y * 64 + x] = 100 + 10 * Math.sin(x / 2) * Math.cos(y / 3);
    }
  }
  for (let y = 4; y < 12; y++) img.data.fill(255, y * 64 + 4, y * 64 + 20);
  const p = new Pyramid(img);
  const content = { x: 0, y: 0, width: 64, height: 48 };
  const share = (t: { data: Float32Array; width: number }) => {
    let box = 0, all = 0;
    t.data.forEach((v, i) => {
      const x = i % t.width, y = Math.floor(i / t.width);
      all += v * v;
      if (x < 24 && y < 16) box += v * v;
    });
    return box / all;
  };
  const plain = renderTemplate(p, content, 64, 48, 1, 2)!;
  const clipped = renderTemplate(p, content, 64, 48, 1, 2, 2)!;
  // the box covers 12.5 % of the picture
  assert(share(plain) > 0.8, `plain ${share(plain)}`);
  assert(share(clipped) < 0.4, `clipped ${share(clipped)}`);
});
