import assert from "node:assert/strict";
import { consistentMoments, scanTemplates, scoreFrame } from "./time_scan.ts";
import type { GrayImage } from "./gray_image.ts";

const assertEquals = (a: unknown, b: unknown) => assert.deepEqual(a, b);
const assertAlmostEquals = (a: number, b: number, tol: number) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} is not within ${tol} of ${b}`);

/** A deterministic textured picture (xorshift noise, smoothed a little). */
function texture(width: number, height: number, seed: number): GrayImage {
  const data = new Uint8Array(width * height);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = (s >>> 0) % 256;
  }
  return { width, height, data };
}

function crop(img: GrayImage, x: number, y: number, w: number, h: number): GrayImage {
  const data = new Uint8Array(w * h);
  for (let r = 0; r < h; r++) {
    data.set(img.data.subarray((y + r) * img.width + x, (y + r) * img.width + x + w), r * w);
  }
  return { width: w, height: h, data };
}

Deno.test("scanTemplates + scoreFrame: the true placement scores 1, a shifted one near 0", () => {
  const bg = texture(64, 48, 7);
  const fg = crop(bg, 10, 8, 32, 24);
  const content = { x: 0, y: 0, width: 32, height: 24 };
  const t = scanTemplates([fg], content, { x: 10, y: 8, width: 32, height: 24 }, 64, 48)!;
  assertEquals([t.x, t.y, t.templates[0].width, t.templates[0].height], [10, 8, 32, 24]);
  assertAlmostEquals(scoreFrame(t, bg.data, 64)[0], 1, 1e-6);
  const off = scanTemplates([fg], content, { x: 20, y: 8, width: 32, height: 24 }, 64, 48)!;
  assert(Math.abs(scoreFrame(off, bg.data, 64)[0]) < 0.2);
});

Deno.test("scanTemplates: content clipped to the picture, half-size footprint resampled", () => {
  const fg = texture(40, 20, 3);
  // fg's content (letterboxed 2 rows top and bottom) at half size, hanging 4 px off the left
  const t = scanTemplates(
    [fg],
    { x: 0, y: 2, width: 40, height: 16 },
    { x: -4, y: 5, width: 20, height: 10 },
    30,
    30,
  )!;
  assertEquals([t.x, t.y, t.templates[0].width, t.templates[0].height], [0, 6, 16, 8]);
  // too small a footprint: nothing to scan
  assertEquals(
    scanTemplates(
      [fg],
      { x: 0, y: 0, width: 40, height: 20 },
      {
        x: 0,
        y: 0,
        width: 8,
        height: 4,
      },
      30,
      30,
    ),
    null,
  );
});

Deno.test("consistentMoments: the offset the samples agree on beats single chance peaks", () => {
  // 4 fg samples at 1, 3, 5, 7 s; bg at 10 fps for 20 s; the truth is bg = fg + 6.2 s
  const bgTimes = Array.from({ length: 200 }, (_, j) => j / 10);
  const fgTimes = [1, 3, 5, 7];
  const scores = fgTimes.map((t, k) => {
    const a = new Float32Array(200).fill(0.1);
    a[Math.round((t + 6.2) * 10)] = 0.7; // true moments: moderate
    a[(41 * (k + 1) + 17) % 200] = 0.95; // chance matches: high but scattered
    return a;
  });
  const m = consistentMoments(scores, fgTimes, bgTimes, 0.15)!;
  assertEquals(m.moments, [72, 92, 112, 132]);
  assertAlmostEquals(m.offset, 6.2, 1e-9);
  assertAlmostEquals(m.score, 0.7, 1e-6);
});

Deno.test("consistentMoments: a 1 % clock difference is tolerated; samples outside bg count 0", () => {
  const bgTimes = Array.from({ length: 300 }, (_, j) => j / 25);
  // bg runs 1 % faster: bg = 1.01 * fg + 2
  const fgTimes = [0, 4, 8];
  const truth = fgTimes.map((t) => Math.round((1.01 * t + 2) * 25));
  const scores = fgTimes.map((_, k) => {
    const a = new Float32Array(300).fill(0);
    a[truth[k]] = 0.9;
    return a;
  });
  const m = consistentMoments(scores, fgTimes, bgTimes, 0.06)!;
  assertEquals(m.moments, truth);
  // a sample whose moment would lie after bg's end counts 0 and has no moment
  const late = consistentMoments(
    [scores[0], scores[1], new Float32Array(300)],
    [0, 4, 30],
    bgTimes,
    0.06,
  )!;
  assertEquals(late.moments.slice(0, 2), truth.slice(0, 2));
  assertEquals(late.moments[2], -1);
  assertAlmostEquals(late.score, 0.6, 1e-6);
  assertEquals(consistentMoments([], [], bgTimes, 0.1), null);
});
