import assert from "node:assert/strict";
import { rng } from "./gpu/test_util.ts";
import { createGray, type GrayImage } from "./gray_image.ts";
import { detectContentRect } from "./letterbox.ts";

/** A textured frame: smooth waves plus pixel noise, values in [lo, hi]. */
function frame(w: number, h: number, seed: number, lo = 30, hi = 220): GrayImage {
  const r = rng(seed);
  const img = createGray(w, h);
  const a = r() * 6, b = r() * 6;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 0.5 + 0.25 * Math.sin(x / 7 + a) * Math.cos(y / 5 + b) + 0.25 * (r() - 0.5);
      img.data[y * w + x] = Math.round(lo + (hi - lo) * v);
    }
  }
  return img;
}

/** Paints bars (value `v`, +-1 noise) of the given thicknesses. */
function bars(
  img: GrayImage,
  t: number,
  b: number,
  l: number,
  r: number,
  v = 0,
  seed = 1,
): GrayImage {
  const rand = rng(seed);
  const { width: w, height: h } = img;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y < t || y >= h - b || x < l || x >= w - r) {
        img.data[y * w + x] = Math.max(0, v + Math.round(rand() * 2 - 1));
      }
    }
  }
  return img;
}

Deno.test("no bars: the whole frame", () => {
  const fr = [frame(96, 54, 1), frame(96, 54, 2), frame(96, 54, 3)];
  assert.deepEqual(detectContentRect(fr), { x: 0, y: 0, width: 96, height: 54 });
});

Deno.test("letterbox and pillarbox bars are excluded", () => {
  const fr = [1, 2, 3, 4].map((s) => bars(frame(160, 90, s), 12, 13, 0, 0, 0, s));
  assert.deepEqual(detectContentRect(fr), { x: 0, y: 12, width: 160, height: 65 });
  const pil = [1, 2].map((s) => bars(frame(160, 90, s), 0, 0, 20, 18, 16, s));
  assert.deepEqual(detectContentRect(pil), { x: 20, y: 0, width: 122, height: 90 });
  const both = [5, 6].map((s) => bars(frame(160, 90, s), 4, 4, 6, 6, 235, s));
  assert.deepEqual(detectContentRect(both), { x: 6, y: 4, width: 148, height: 82 });
});

Deno.test("a dark but textured edge is not a bar", () => {
  const fr = [1, 2, 3].map((s) => {
    const img = frame(120, 80, s);
    const dark = frame(120, 80, s + 10, 0, 28);
    img.data.set(dark.data.subarray(0, 120 * 15)); // top 15 rows: dark texture
    return img;
  });
  assert.deepEqual(detectContentRect(fr), { x: 0, y: 0, width: 120, height: 80 });
});

Deno.test("bars must be >= 2 px, present in every frame, and of one colour", () => {
  const thin = [1, 2].map((s) => bars(frame(100, 60, s), 1, 0, 0, 0));
  assert.deepEqual(detectContentRect(thin), { x: 0, y: 0, width: 100, height: 60 });
  // a flat top band in only one frame is scene content, not a bar
  const once = [bars(frame(100, 60, 1), 10, 0, 0, 0), frame(100, 60, 2)];
  assert.deepEqual(detectContentRect(once), { x: 0, y: 0, width: 100, height: 60 });
  // flat band whose colour differs between frames (e.g. sky) is not a bar
  const sky = [bars(frame(100, 60, 1), 10, 0, 0, 0, 90), bars(frame(100, 60, 2), 10, 0, 0, 0, 140)];
  assert.deepEqual(detectContentRect(sky), { x: 0, y: 0, width: 100, height: 60 });
});

Deno.test("all-black samples do not crop everything away", () => {
  const black = [createGray(64, 36), createGray(64, 36)];
  assert.deepEqual(detectContentRect(black), { x: 0, y: 0, width: 64, height: 36 });
  assert.throws(() => detectContentRect([]));
});
