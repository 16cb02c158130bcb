import assert from "node:assert/strict";
import { rng } from "./gpu/test_util.ts";
import { createGray, cropGray, type GrayImage } from "./gray_image.ts";
import { integralImage, nccAt, nccMap, nccPeaks, NccPlan, windowInvStd } from "./ncc.ts";

/** Smoothed random texture. */
function texture(w: number, h: number, seed: number): GrayImage {
  const r = rng(seed);
  const raw = new Float32Array(w * h).map(() => r());
  const img = createGray(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0, n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = Math.min(w - 1, Math.max(0, x + dx)),
            yy = Math.min(h - 1, Math.max(0, y + dy));
          s += raw[yy * w + xx];
          n++;
        }
      }
      img.data[y * w + x] = Math.round((s / n) * 255);
    }
  }
  return img;
}

/** Straightforward Pearson correlation, for reference. */
function bruteNcc(img: GrayImage, t: GrayImage, x: number, y: number): number {
  const n = t.width * t.height;
  let ma = 0, mb = 0;
  for (let j = 0; j < t.height; j++) {
    for (let i = 0; i < t.width; i++) {
      ma += t.data[j * t.width + i];
      mb += img.data[(y + j) * img.width + x + i];
    }
  }
  ma /= n;
  mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let j = 0; j < t.height; j++) {
    for (let i = 0; i < t.width; i++) {
      const a = t.data[j * t.width + i] - ma, b = img.data[(y + j) * img.width + x + i] - mb;
      sab += a * b;
      saa += a * a;
      sbb += b * b;
    }
  }
  if (saa < 1e-9 || sbb < 1e-9) return 0;
  return sab / Math.sqrt(saa * sbb);
}

Deno.test("nccMap matches brute force everywhere and peaks at the true placement", () => {
  const img = texture(53, 37, 7);
  const tpl = cropGray(img, { x: 21, y: 9, width: 17, height: 11 });
  // brighten/contrast the template: NCC is affine invariant
  for (let i = 0; i < tpl.data.length; i++) tpl.data[i] = Math.min(255, tpl.data[i] * 0.6 + 40);
  const map = nccMap(img, tpl);
  assert.equal(map.width, 53 - 17 + 1);
  assert.equal(map.height, 37 - 11 + 1);
  let maxErr = 0;
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      maxErr = Math.max(maxErr, Math.abs(map.data[y * map.width + x] - bruteNcc(img, tpl, x, y)));
    }
  }
  assert.ok(maxErr < 1e-4, `max error ${maxErr}`);
  const peaks = nccPeaks(map, 3, 4);
  assert.equal(peaks[0].x, 21);
  assert.equal(peaks[0].y, 9);
  assert.ok(peaks[0].score > 0.99);
  for (let i = 1; i < peaks.length; i++) {
    assert.ok(peaks[i].score <= peaks[i - 1].score);
    assert.ok(Math.max(Math.abs(peaks[i].x - 21), Math.abs(peaks[i].y - 9)) >= 4);
  }
  assert.ok(Math.abs(nccAt(img, tpl, 21, 9) - peaks[0].score) < 1e-5);
  assert.ok(Math.abs(nccAt(img, tpl, 3, 20) - bruteNcc(img, tpl, 3, 20)) < 1e-6);
});

Deno.test("flat regions and flat templates score 0, never NaN", () => {
  const img = texture(40, 30, 3);
  for (let y = 0; y < 15; y++) for (let x = 0; x < 20; x++) img.data[y * 40 + x] = 77;
  const tpl = cropGray(img, { x: 22, y: 16, width: 8, height: 6 });
  const map = nccMap(img, tpl);
  for (const v of map.data) assert.ok(Number.isFinite(v) && v >= -1 && v <= 1);
  assert.equal(map.data[0], 0); // window fully inside the flat patch
  assert.equal(nccAt(img, tpl, 0, 0), 0);
  const flat = createGray(8, 6).data.fill(9);
  const m2 = nccMap(img, { width: 8, height: 6, data: flat });
  assert.ok(m2.data.every((v) => v === 0));
  assert.equal(nccMap(tpl, img).width, 0); // template larger than image
  assert.throws(() => nccAt(img, tpl, 35, 0));
});

Deno.test("packed correlation of two images equals separate maps", () => {
  const a = texture(64, 48, 11), b = texture(64, 48, 12);
  const tpl = cropGray(b, { x: 5, y: 30, width: 20, height: 12 });
  const plan = new NccPlan(64, 48);
  const t = plan.prepareTemplate(tpl.data, tpl.width, tpl.height);
  assert.ok(t);
  const prepared = plan.prepareImages(a.data, b.data, 64, 48);
  const outA = new Float32Array(45 * 37), outB = new Float32Array(45 * 37);
  const size = plan.correlate(prepared, t, outA, outB);
  assert.deepEqual(size, { width: 45, height: 37 });
  const ma = nccMap(a, tpl), mb = nccMap(b, tpl);
  for (let i = 0; i < outA.length; i++) {
    assert.ok(Math.abs(outA[i] - ma.data[i]) < 1e-4);
    assert.ok(Math.abs(outB[i] - mb.data[i]) < 1e-4);
  }
  assert.ok(Math.abs(outB[30 * 45 + 5] - 1) < 1e-4);
});

Deno.test("windowInvStd times raw correlation gives the NCC", () => {
  const img = texture(40, 30, 21);
  const tpl = cropGray(img, { x: 9, y: 4, width: 12, height: 10 });
  const plan = new NccPlan(40, 30);
  const t = plan.prepareTemplate(tpl.data, 12, 10);
  assert.ok(t);
  const prepared = plan.prepareImages(img.data, null, 40, 30);
  const c = plan.crossCorrelate(prepared, t);
  const inv = new Float32Array(29 * 21);
  assert.deepEqual(windowInvStd(integralImage(img.data, 40, 30), 12, 10, inv), {
    width: 29,
    height: 21,
  });
  for (const [x, y] of [[9, 4], [0, 0], [28, 20], [13, 7]]) {
    const v = c.re[y * c.stride + x] * inv[y * 29 + x] / Math.sqrt(t.sumSq);
    assert.ok(Math.abs(v - bruteNcc(img, tpl, x, y)) < 1e-4);
  }
});
