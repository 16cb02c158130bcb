import { assert, assertEquals } from "../tests/assert.ts";
import { createGray, cropGray, resampleRect, resizeGray, resizeGrayInto } from "./gray_image.ts";

function ramp(w: number, h: number) {
  const img = createGray(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) img.data[y * w + x] = x + 2 * y;
  }
  return img;
}

Deno.test("resampleRect shrinking a whole-pixel crop equals crop then resize", () => {
  const img = ramp(120, 80);
  const rect = { x: 10, y: 6, width: 64, height: 48 };
  for (const [w, h] of [[16, 12], [32, 32], [64, 48]]) {
    const want = resizeGray(cropGray(img, rect), w, h);
    const got = new Uint8Array(w * h);
    resampleRect(img, rect, w, h, got);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want.data[i]));
    assert(worst <= 1, `${w}x${h}: off by ${worst}`);
  }
});

Deno.test("resampleRect averages exactly over fractional rectangles", () => {
  // a horizontal ramp v = x: the mean over [a, b) of pixel values floor-sampled is analytic
  const img = createGray(50, 4);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 50; x++) img.data[y * 50 + x] = x * 5;
  const out = new Uint8Array(4);
  // 4 output pixels over [2.5, 12.5): each covers 2.5 source pixels
  resampleRect(img, { x: 2.5, y: 0, width: 10, height: 4 }, 4, 1, out);
  const mean = (a: number, b: number) => {
    let s = 0;
    for (let x = Math.floor(a); x < Math.ceil(b); x++) {
      s += (Math.min(b, x + 1) - Math.max(a, x)) * x * 5;
    }
    return s / (b - a);
  };
  assertEquals(
    [...out],
    [0, 1, 2, 3].map((k) => Math.floor(mean(2.5 + 2.5 * k, 5 + 2.5 * k) + 0.5)),
  );
});

Deno.test("a crop of a shrunk copy matches the crop of the original (thumbnail spools)", () => {
  const img = createGray(640, 360);
  for (let y = 0; y < 360; y++) {
    for (let x = 0; x < 640; x++) {
      img.data[y * 640 + x] = 128 + 100 * Math.sin(x / 23) * Math.cos(y / 17);
    }
  }
  const rect = { x: 101, y: 57, width: 400, height: 230 };
  const direct = new Uint8Array(64 * 64);
  resampleRect(img, rect, 64, 64, direct);
  const small = resizeGray(img, 320, 180);
  const via = new Uint8Array(64 * 64);
  resampleRect(small, { x: 50.5, y: 28.5, width: 200, height: 115 }, 64, 64, via);
  let worst = 0;
  for (let i = 0; i < via.length; i++) worst = Math.max(worst, Math.abs(via[i] - direct[i]));
  assert(worst <= 3, `off by ${worst}`);
});

Deno.test("resizeGrayInto writes resizeGray's pixels into a reused picture", () => {
  const img = ramp(120, 80);
  const out = createGray(48, 30);
  // twice into the same picture (scratch reused), then a growing size
  for (let r = 0; r < 2; r++) {
    out.data.fill(7);
    resizeGrayInto(img, out);
    assertEquals([...out.data], [...resizeGray(img, 48, 30).data]);
  }
  const big = createGray(150, 90);
  resizeGrayInto(img, big);
  assertEquals([...big.data], [...resizeGray(img, 150, 90).data]);
  // same size: a copy
  const same = createGray(120, 80);
  resizeGrayInto(img, same);
  assertEquals([...same.data], [...img.data]);
  // the shrink is an area average: a 2x2 block of the ramp
  const half = createGray(60, 40);
  resizeGrayInto(img, half);
  assertEquals(half.data[0], Math.floor((0 + 1 + 2 + 3) / 4 + 0.5));
});
