import assert from "node:assert/strict";
import { boxHighPass, createGray, cropGray, type GrayImage, resizeGray } from "./gray_image.ts";
import {
  contentDetail,
  contentStd,
  FLAT_CONTENT_STD,
  MAX_ALTERNATIVES,
  refineAcrossFrames,
  refineAspect,
  refineSpatial,
  searchSpatial,
  searchSpatialAsync,
  type SpatialCandidate,
  type SpatialResult,
  type SpatialSearchOptions,
} from "./spatial_search.ts";
import { CpuNccCorrelator } from "./ncc.ts";
import { GpuNccCorrelator } from "./gpu/ncc_gpu.ts";
import { gpuForTests, rng } from "./gpu/test_util.ts";

const gpu = await gpuForTests("spatial_search_test.ts");

// ---- synthetic scenes ------------------------------------------------------------------------

function hash(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ Math.imul(seed, 0x5bd1e995);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return ((h ^ (h >>> 15)) >>> 0) / 4294967296;
}

/** A continuous fractal value-noise scene: world units, values ~[0, 1]. */
type Scene = (u: number, v: number) => number;

function scene(seed: number, feature = 24): Scene {
  return (u, v) => {
    let s = 0, amp = 1, norm = 0, f = 1 / feature;
    for (let o = 0; o < 4; o++) {
      const x = u * f + o * 17.3, y = v * f - o * 9.1;
      const ix = Math.floor(x), iy = Math.floor(y);
      const fx = x - ix, fy = y - iy;
      const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
      const a = hash(ix, iy, seed + o), b = hash(ix + 1, iy, seed + o);
      const c = hash(ix, iy + 1, seed + o), d = hash(ix + 1, iy + 1, seed + o);
      s += amp * (a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy);
      norm += amp;
      amp *= 0.55;
      f *= 2;
    }
    return s / norm;
  };
}

/**
 * Renders `w x h` pixels of a scene: pixel (i, j) shows world [x0 + i*upp, x0 + (i+1)*upp),
 * mapped to luma with `gain`/`offset` plus uniform noise.
 */
function render(
  sc: Scene,
  w: number,
  h: number,
  x0: number,
  y0: number,
  upp: number,
  o: { gain?: number; offset?: number; noise?: number; seed?: number; upy?: number } = {},
): GrayImage {
  const img = createGray(w, h);
  const r = rng(o.seed ?? 99);
  const gain = o.gain ?? 255 * 1.6, offset = o.offset ?? -0.3 * 255, noise = o.noise ?? 0;
  const upy = o.upy ?? upp;
  // pixels larger than a world unit are area-sampled (2x2), others point-sampled
  const ss = Math.max(upp, upy) > 1 ? 2 : 1;
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) {
      let s = 0;
      if (ss === 1) s = sc(x0 + (i + 0.5) * upp, y0 + (j + 0.5) * upy);
      else {
        for (let a = 0; a < 2; a++) {
          for (let b = 0; b < 2; b++) {
            s += sc(x0 + (i + 0.25 + 0.5 * a) * upp, y0 + (j + 0.25 + 0.5 * b) * upy);
          }
        }
        s /= 4;
      }
      const v = s * gain + offset + (r() - 0.5) * 2 * noise;
      img.data[j * w + i] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return img;
}

/** JPEG-like damage: 8x8 blocks pulled towards their mean, then coarse quantisation. */
function blocky(img: GrayImage, amount = 0.5, q = 6): GrayImage {
  const out = createGray(img.width, img.height);
  for (let by = 0; by < img.height; by += 8) {
    for (let bx = 0; bx < img.width; bx += 8) {
      let s = 0, n = 0;
      for (let y = by; y < Math.min(img.height, by + 8); y++) {
        for (let x = bx; x < Math.min(img.width, bx + 8); x++) {
          s += img.data[y * img.width + x];
          n++;
        }
      }
      const m = s / n;
      for (let y = by; y < Math.min(img.height, by + 8); y++) {
        for (let x = bx; x < Math.min(img.width, bx + 8); x++) {
          const v = img.data[y * img.width + x];
          out.data[y * img.width + x] = Math.round((v + (m - v) * amount) / q) * q;
        }
      }
    }
  }
  return out;
}

/** Black bars: the content image centred inside a `w x h` frame. */
function letterbox(content: GrayImage, w: number, h: number): GrayImage {
  const out = createGray(w, h).data.fill(2);
  const ox = (w - content.width) >> 1, oy = (h - content.height) >> 1;
  for (let y = 0; y < content.height; y++) {
    out.set(content.data.subarray(y * content.width, (y + 1) * content.width), (y + oy) * w + ox);
  }
  return { width: w, height: h, data: out };
}

function checkPlacement(
  r: SpatialResult,
  x: number,
  y: number,
  scale: number,
  tolPx: number,
  tolScale: number,
) {
  const b = r.best;
  const msg = JSON.stringify(b);
  assert.ok(Math.abs(b.x - x) <= tolPx, `x ${b.x} vs ${x}: ${msg}`);
  assert.ok(Math.abs(b.y - y) <= tolPx, `y ${b.y} vs ${y}: ${msg}`);
  assert.ok(Math.abs(b.scale / scale - 1) <= tolScale, `scale ${b.scale} vs ${scale}: ${msg}`);
  assert.ok(Number.isFinite(b.score) && b.score <= 1 && b.score >= -1);
  assert.equal(b.width, Math.round(fgWOf(b) * b.scaleX) || b.width);
}

function fgWOf(b: { width: number; scaleX: number }): number {
  return b.width / b.scaleX;
}

const BG_W = 320, BG_H = 180;

// ---- tests ---------------------------------------------------------------------------------

Deno.test("crop at 100 %: exact position, scale exactly 1, high confidence", () => {
  const s = scene(1);
  const bg = [0, 1, 2, 3].map((t) => render(s, BG_W, BG_H, 0, 0, 1, { noise: 3, seed: t }));
  const fg = [0, 1, 2].map((t) => render(s, 160, 90, 97, 41, 1, { noise: 3, seed: 10 + t }));
  const r = searchSpatial(fg, bg);
  checkPlacement(r, 97, 41, 1, 0, 0);
  assert.equal(r.best.width, 160);
  assert.equal(r.best.height, 90);
  assert.ok(r.confidence > 0.9, `confidence ${r.confidence}`);
  assert.equal(r.bestBgForFg.length, 3);
  if (r.runnerUp) assert.ok(r.runnerUp.score < r.best.score);
});

Deno.test("scaled crop (0.7x, 1.6x) is found within 2 px and 1 %", () => {
  const s = scene(2);
  const bg = [render(s, BG_W, BG_H, 0, 0, 1, { noise: 2 })];
  // fg 200x120 shown at 140x84 in bg: fg pixel = 0.7 bg pixels
  const fg = [render(s, 200, 120, 61, 53, 0.7, { noise: 2, seed: 3 })];
  checkPlacement(searchSpatial(fg, bg), 61, 53, 0.7, 2, 0.01);
  // fg 100x60 shown at 160x96 in bg (fg is lower resolution than bg)
  const fg2 = [render(s, 100, 60, 130, 70, 1.6, { noise: 2, seed: 4 })];
  const r2 = searchSpatial(fg2, bg);
  checkPlacement(r2, 130, 70, 1.6, 2, 0.01);
  assert.ok(r2.confidence > 0.6, `confidence ${r2.confidence}`);
});

Deno.test("100 % wins over nearby scales under grading and compression", () => {
  const s = scene(3);
  const bg = [0, 1].map((t) =>
    blocky(render(s, BG_W, BG_H, 0, 0, 1, { noise: 2, seed: t, gain: 180, offset: 40 }))
  );
  const fg = [0, 1, 2].map((t) => render(s, 240, 135, 40, 22, 1, { noise: 2, seed: 5 + t }));
  const r = searchSpatial(fg, bg);
  checkPlacement(r, 40, 22, 1, 0, 0);
  assert.equal(r.best.scale, 1);
  assert.ok(r.confidence > 0.8, `confidence ${r.confidence}`);
});

Deno.test("fg = whole bg at another resolution (0.5x and ~1.5x) gives x = y = 0", () => {
  const s = scene(4);
  const bg = [
    render(s, BG_W, BG_H, 0, 0, 1, { noise: 2 }),
    render(s, BG_W, BG_H, 0, 0, 1, { seed: 2 }),
  ];
  // fg 640x360: scale 0.5
  const fgBig = [render(s, 640, 360, 0, 0, 0.5, { noise: 2, seed: 7 })];
  const r1 = searchSpatial(fgBig, bg);
  assert.deepEqual([r1.best.x, r1.best.y, r1.best.width, r1.best.height], [0, 0, 320, 180]);
  assert.equal(r1.best.scale, 0.5);
  // fg 214x120: scaleX = 320/214 != scaleY = 1.5 (rounding)
  const fgSmall = [render(s, 214, 120, 0, 0, 320 / 214, { noise: 1, seed: 8, upy: 1.5 })];
  const r2 = searchSpatial(fgSmall, bg);
  assert.deepEqual([r2.best.x, r2.best.y, r2.best.width, r2.best.height], [0, 0, 320, 180]);
  assert.ok(Math.abs(r2.best.scaleX - 320 / 214) < 1e-12);
  assert.equal(r2.best.scaleY, 1.5);
  assert.ok(r2.confidence > 0.7, `confidence ${r2.confidence}`);
});

Deno.test("letterboxed fg: bars are ignored and may hang outside bg", () => {
  const s = scene(5);
  const bg = [render(s, BG_W, BG_H, 0, 0, 1, { noise: 2 })];
  // content 200x100 at bg (70, 6); the fg frame is 200x150 with 25 px bars: y = 6 - 25 < 0
  const fg = [0, 1, 2].map((t) =>
    letterbox(render(s, 200, 100, 70, 6, 1, { noise: 2, seed: 20 + t }), 200, 150)
  );
  const r = searchSpatial(fg, bg);
  checkPlacement(r, 70, -19, 1, 0, 0);
  assert.ok(r.confidence > 0.9);
  // with an explicit content rect and at 0.8x
  const fg2 = [letterbox(render(s, 250, 125, 40, 30, 0.8, { noise: 2, seed: 9 }), 250, 180)];
  const r2 = searchSpatial(fg2, bg, { content: { x: 0, y: 27, width: 250, height: 126 } });
  checkPlacement(r2, 40, 30 - 27 * 0.8, 0.8, 2, 0.01);
});

Deno.test("moving scene: fg samples fall between bg samples", () => {
  // a static scene with a translucent layer drifting over it
  const still = scene(6), layer = scene(60, 16);
  const at = (t: number): Scene => (u, v) => 0.6 * still(u, v) + 0.4 * layer(u - 6 * t, v - 2 * t);
  const bg = [0, 1, 2, 3, 4, 5, 6, 7].map((t) =>
    blocky(render(at(t), BG_W, BG_H, 0, 0, 1, { noise: 2, seed: t }), 0.3, 4)
  );
  const times = [1.3, 3.6, 6.2];
  const fg = times.map((t, i) => render(at(t), 180, 100, 55, 33, 1, { noise: 2, seed: 30 + i }));
  const r = searchSpatial(fg, bg);
  checkPlacement(r, 55, 33, 1, 1, 0.01);
  assert.deepEqual(r.bestBgForFg, [1, 4, 6]);
  assert.ok(r.confidence > 0.6, `confidence ${r.confidence}`);
});

Deno.test("unrelated inputs give a low confidence", () => {
  const bg = [0, 1, 2, 3].map((t) =>
    render(scene(7), BG_W, BG_H, t * 5, 0, 1, { noise: 2, seed: t })
  );
  const fg = [0, 1, 2].map((t) => render(scene(8), 192, 108, t * 3, 0, 1, { noise: 2, seed: t }));
  const r = searchSpatial(fg, bg);
  assert.ok(r.confidence < 0.3, `confidence ${r.confidence}`);
  const fgFull = [render(scene(9), BG_W, BG_H, 0, 0, 1)];
  assert.ok(searchSpatial(fgFull, bg).confidence < 0.3);
});

Deno.test("heavily downscaled and blocky bg, unscaledOnly and fixed scale", () => {
  const s = scene(10);
  // bg delivered at 1/2 resolution then upscaled back: blurry
  const small = render(s, BG_W / 2, BG_H / 2, 0, 0, 2, { noise: 1 });
  const bg = [blocky(resizeGray(small, BG_W, BG_H), 0.4, 5)];
  const fg = [render(s, 128, 96, 150, 50, 1, { noise: 2, seed: 3 })];
  const r = searchSpatial(fg, bg, { precision: 1 });
  checkPlacement(r, 150, 50, 1, 1, 0.005);
  const u = searchSpatial(fg, bg, { unscaledOnly: true, precision: 0 });
  checkPlacement(u, 150, 50, 1, 1, 0);
  const fixed = searchSpatial(fg, bg, { minScale: 1.25, maxScale: 1.25 });
  assert.equal(fixed.best.scale, 1.25);
  assert.ok(fixed.best.score < r.best.score);
  assert.throws(() => searchSpatial(fg, bg, { minScale: 2, maxScale: 2 }));
});

Deno.test("refineSpatial recovers a slightly wrong placement on time-matched pairs", () => {
  const s = scene(11);
  const pairs = [0, 1, 2].map((t) => ({
    bg: render(s, BG_W, BG_H, t * 10, 0, 1, { noise: 2, seed: t }),
    fg: render(s, 150, 100, 80 + t * 10, 40, 1, { noise: 2, seed: 40 + t }),
  }));
  const r = refineSpatial(pairs, {
    x: 82,
    y: 39,
    scale: 1.01,
    scaleX: 1.01,
    scaleY: 1.01,
    width: 152,
    height: 101,
    score: 0,
  });
  assert.deepEqual([r.x, r.y, r.width, r.height, r.scale], [80, 40, 150, 100, 1]);
  assert.ok(r.score > 0.9);
  // a rougher start (6 px and 5 % off) is recovered coarse-to-fine
  const far = refineSpatial(pairs, {
    x: 74,
    y: 44,
    scale: 1.05,
    scaleX: 1.05,
    scaleY: 1.05,
    width: 158,
    height: 105,
    score: 0,
  });
  assert.deepEqual([far.x, far.y, far.width, far.height], [80, 40, 150, 100]);
  assert.ok(Math.abs(far.score - r.score) < 1e-9);
});

/** A 150×100 placement at 100 % with its top-left at (x, y) (a start for the refinements). */
function unitAt(x: number, y: number): SpatialCandidate {
  return { x, y, scale: 1, scaleX: 1, scaleY: 1, width: 150, height: 100, score: 0 };
}

Deno.test("refineSpatial and refineAcrossFrames keep a fixed footprint size (--unscaled, --scale)", () => {
  // fg shows 1.04 scene units per pixel, bg 1: fg's true footprint is 156x104 at 80,40
  const s = scene(17);
  const bg = render(s, BG_W, BG_H, 0, 0, 1, { noise: 2, seed: 1 });
  const fg = render(s, 150, 100, 80, 40, 1.04, { noise: 2, seed: 2 });
  const start = unitAt(82, 42);
  const free = refineSpatial([{ fg, bg }], start);
  assert.deepEqual([free.width, free.height], [156, 104]);
  // with the size fixed, only the position moves: the 150x100 footprint centred on the truth
  const fixed = refineSpatial([{ fg, bg }], start, { fixedSize: true });
  assert.deepEqual([fixed.width, fixed.height, fixed.scale], [150, 100, 1]);
  assert.deepEqual([fixed.x, fixed.y], [83, 42]);
  assert.ok(fixed.score < free.score);
  const across = refineAcrossFrames(fg, [bg, bg], 0, start, { fixedSize: true });
  assert.deepEqual([across.best.width, across.best.height], [150, 100]);
  assert.deepEqual([across.best.x, across.best.y], [83, 42]);
});

Deno.test("refineAcrossFrames steps through neighbouring frames of a pan to the best one", () => {
  // a pan of 3 px per frame; frame 4 is the fg's own moment (its noise is fg's), the other
  // frames' noise grows with their distance from it, so the score rises towards frame 4
  const s = scene(13);
  const bg = [0, 1, 2, 3, 4, 5, 6, 7].map((t) =>
    render(s, BG_W, BG_H, t * 3, 0, 1, { noise: 2 + 10 * Math.abs(t - 4), seed: t })
  );
  const fg = cropGray(bg[4], { x: 80, y: 40, width: 150, height: 100 });
  // from frame 1 (where fg lies at x = 89), forwards; a rough start (3 px off)
  const fwd = refineAcrossFrames(fg, bg, 1, unitAt(86, 42));
  assert.equal(fwd.index, 4);
  assert.deepEqual([fwd.best.x, fwd.best.y, fwd.best.width, fwd.best.height], [80, 40, 150, 100]);
  assert.ok(fwd.best.score > 0.99);
  // from frame 7 (x = 71): forwards cannot improve, so it steps backwards
  const back = refineAcrossFrames(fg, bg, 7, unitAt(71, 40));
  assert.equal(back.index, 4);
  assert.deepEqual([back.best.x, back.best.y], [80, 40]);
  // the same placement as refining on frame 4 alone
  const alone = refineSpatial([{ fg, bg: bg[4] }], unitAt(80, 40));
  assert.ok(Math.abs(alone.score - back.best.score) < 1e-9);
  // a start index outside the run is clamped; no frames: the initial placement
  assert.equal(refineAcrossFrames(fg, bg, 99, unitAt(71, 40)).index, 4);
  assert.deepEqual(refineAcrossFrames(fg, [], 0, unitAt(5, 6)), { best: unitAt(5, 6), index: 0 });
});

Deno.test("refineAcrossFrames reaches the true frame when part of the picture moves", () => {
  // a faint still layer plus a detailed layer moving 6 px per frame (a face moving in front of
  // a dark wall): on frame 3 the best placement follows the moving layer (6 px off, ~0.90);
  // from there a climb at full resolution finds no slope towards the true frame 4's placement
  // (the stepping stopped there before its probe looked on a coarser level)
  const still = scene(21, 10), moving = scene(22, 10);
  const bg = [0, 1, 2, 3, 4, 5, 6].map((t) =>
    render((u, v) => 0.25 * still(u, v) + 0.75 * moving(u - 6 * t, v), BG_W, BG_H, 0, 0, 1, {
      noise: 2,
      seed: t,
    })
  );
  const fg = cropGray(bg[4], { x: 80, y: 40, width: 150, height: 100 });
  const onThree = refineSpatial([{ fg, bg: bg[3] }], unitAt(80, 40));
  assert.ok(onThree.score < 0.97, `frame 3 scored ${onThree.score}`);
  const r = refineAcrossFrames(fg, bg, 3, onThree);
  assert.equal(r.index, 4);
  assert.deepEqual([r.best.x, r.best.y, r.best.width, r.best.height], [80, 40, 150, 100]);
  assert.ok(r.best.score > 0.99);
});

Deno.test("refineAspect fits a footprint whose width and height scale differently", () => {
  // fg 150x100 shows 1.5 scene units per pixel across and 1.51 down (a rescaled fg whose height
  // was rounded): its true footprint is 225x151 at 80,20; one scale fits neither edge pair
  const s = scene(31, 40);
  const bg = render(s, BG_W, BG_H, 0, 0, 1, { noise: 1, seed: 1 });
  const fg = render(s, 150, 100, 80, 20, 1.5, { noise: 1, seed: 2, upy: 1.51 });
  // one scale at the geometric mean, 1.505: 226x150
  const coupled = refineSpatial([{ fg, bg }], {
    x: 80,
    y: 20,
    scale: 1.505,
    scaleX: 226 / 150,
    scaleY: 1.5,
    width: 226,
    height: 150,
    score: 0,
  }, { fixedSize: true });
  const a = refineAspect([{ fg, bg }], coupled);
  assert.deepEqual([a.x, a.y, a.width, a.height], [80, 20, 225, 151]);
  assert.ok(a.score > coupled.score + 0.001, `${a.score} vs ${coupled.score}`);
  assert.ok(Math.abs(a.scaleX - 1.5) < 1e-9 && Math.abs(a.scaleY - 1.51) < 1e-9);
  // a 100 % footprint is kept as it is
  const unit = cropGray(bg, { x: 80, y: 40, width: 150, height: 100 });
  assert.deepEqual(refineAspect([{ fg: unit, bg }], unitAt(80, 40)), unitAt(80, 40));
});

Deno.test("small fg at a small scale, and letterboxed fg whose content is the whole bg", () => {
  const s = scene(12, 12);
  const bg = [render(s, BG_W, BG_H, 0, 0, 1, { noise: 2 })];
  // 96x64 fg shown at 48x32 (0.5x) at (201, 117)
  const tiny = [render(s, 96, 64, 201, 117, 0.5, { noise: 2, seed: 5 })];
  checkPlacement(searchSpatial(tiny, bg), 201, 117, 0.5, 2, 0.01);
  // fg 640x480 with bars; its 640x360 content is the whole bg at 2x
  const lb = [letterbox(render(s, 640, 360, 0, 0, 0.5, { noise: 2, seed: 6 }), 640, 480)];
  const r = searchSpatial(lb, bg);
  checkPlacement(r, 0, -30, 0.5, 1, 0.005);
  assert.ok(r.confidence > 0.8, `confidence ${r.confidence}`);
});

Deno.test("gray image helpers: crop, resize both ways, band-pass", () => {
  const img = createGray(8, 6);
  for (let i = 0; i < img.data.length; i++) img.data[i] = i * 5;
  const c = cropGray(img, { x: 2, y: 1, width: 3, height: 2 });
  assert.deepEqual([...c.data], [50, 55, 60, 90, 95, 100]);
  assert.equal(cropGray(img, { x: 6, y: 4, width: 5, height: 5 }).width, 2);
  const half = resizeGray(img, 4, 3); // 2x2 area averages
  assert.equal(half.data[0], Math.round((0 + 5 + 40 + 45) / 4));
  const up = resizeGray(half, 8, 6);
  assert.equal(up.width, 8);
  assert.ok(Math.abs(up.data[27] - img.data[27]) <= 6);
  assert.deepEqual(resizeGray(img, 8, 6).data, img.data);
  const flat = new Float32Array(48).fill(7);
  const out = new Float32Array(48);
  boxHighPass(flat, 8, 6, 2, out);
  assert.ok(out.every((v) => Math.abs(v) < 1e-5));
});

// ---- correlators: CPU (src/fft.ts) vs WGSL ---------------------------------------------------

/** Synthetic search problems: crop, scaled crops, letterbox, fg = whole bg, moving scene. */
function searchCases(): [string, GrayImage[], GrayImage[], SpatialSearchOptions][] {
  const s1 = scene(1), s2 = scene(2), s4 = scene(4), s5 = scene(5);
  const bg2 = [render(s2, BG_W, BG_H, 0, 0, 1, { noise: 2 })];
  const still = scene(6), layer = scene(60, 16);
  const at = (t: number): Scene => (u, v) => 0.6 * still(u, v) + 0.4 * layer(u - 6 * t, v - 2 * t);
  return [
    [
      "crop 100 %",
      [0, 1, 2].map((t) => render(s1, 160, 90, 97, 41, 1, { noise: 3, seed: 10 + t })),
      [0, 1, 2, 3].map((t) => render(s1, BG_W, BG_H, 0, 0, 1, { noise: 3, seed: t })),
      {},
    ],
    ["scale 0.7", [render(s2, 200, 120, 61, 53, 0.7, { noise: 2, seed: 3 })], bg2, {}],
    ["scale 1.6", [render(s2, 100, 60, 130, 70, 1.6, { noise: 2, seed: 4 })], bg2, {}],
    [
      "fg = whole bg at 0.5x",
      [render(s4, 640, 360, 0, 0, 0.5, { noise: 2, seed: 7 })],
      [render(s4, BG_W, BG_H, 0, 0, 1, { noise: 2 }), render(s4, BG_W, BG_H, 0, 0, 1, { seed: 2 })],
      { precision: 1 },
    ],
    [
      "letterboxed",
      [0, 1, 2].map((t) =>
        letterbox(render(s5, 200, 100, 70, 6, 1, { noise: 2, seed: 20 + t }), 200, 150)
      ),
      [render(s5, BG_W, BG_H, 0, 0, 1, { noise: 2 })],
      {},
    ],
    [
      "moving scene, 3 fg × 8 bg",
      [1.3, 3.6, 6.2].map((t, i) => render(at(t), 180, 100, 55, 33, 1, { noise: 2, seed: 30 + i })),
      [0, 1, 2, 3, 4, 5, 6, 7].map((t) =>
        blocky(render(at(t), BG_W, BG_H, 0, 0, 1, { noise: 2, seed: t }), 0.3, 4)
      ),
      {},
    ],
  ];
}

function samePlacement(got: SpatialResult, want: SpatialResult, what: string): void {
  const place = (c: SpatialCandidate | null) =>
    c && [c.x, c.y, c.width, c.height, c.scale, c.scaleX, c.scaleY];
  assert.deepEqual(place(got.best), place(want.best), `${what}: best`);
  assert.ok(Math.abs(got.best.score - want.best.score) <= 1e-4, `${what}: score`);
  assert.ok(Math.abs(got.confidence - want.confidence) <= 1e-4, `${what}: confidence`);
  assert.deepEqual(got.bestBgForFg, want.bestBgForFg, `${what}: bg samples`);
  assert.deepEqual(place(got.runnerUp), place(want.runnerUp), `${what}: runner-up`);
}

Deno.test("searchSpatialAsync with the CPU correlator (or none) equals searchSpatial", async () => {
  const cpu = new CpuNccCorrelator();
  for (const [name, fg, bg, opts] of searchCases().slice(0, 3)) {
    const want = searchSpatial(fg, bg, opts);
    assert.deepEqual(await searchSpatialAsync(fg, bg, { ...opts, correlator: cpu }), want, name);
    assert.deepEqual(await searchSpatialAsync(fg, bg, opts), want, name);
  }
});

Deno.test({
  name: "searchSpatialAsync with the WGSL correlator gives searchSpatial's placements",
  ignore: gpu === null,
  async fn() {
    const g = (await GpuNccCorrelator.create({ context: gpu! }))!;
    try {
      for (const [name, fg, bg, opts] of searchCases()) {
        const want = searchSpatial(fg, bg, opts);
        const got = await searchSpatialAsync(fg, bg, { ...opts, correlator: g });
        assert.ok(g.lastRoundTrips >= 1, `${name}: ran on the GPU`);
        samePlacement(got, want, name);
      }
    } finally {
      g.destroy();
    }
  },
});

Deno.test("alternatives: a second copy of fg in bg is listed, clearly different, best first", () => {
  const s = scene(5);
  const bg = render(s, BG_W, BG_H, 0, 0, 1, { noise: 2 });
  const fg = render(s, 96, 64, 40, 30, 1, { noise: 2, seed: 7 });
  // a noisier copy of the same part of the scene elsewhere in bg
  const copy = render(s, 96, 64, 40, 30, 1, { noise: 40, seed: 3 });
  for (let y = 0; y < 64; y++) {
    bg.data.set(copy.data.subarray(y * 96, (y + 1) * 96), (100 + y) * BG_W + 200);
  }
  const r = searchSpatial([fg], [bg]);
  checkPlacement(r, 40, 30, 1, 0, 0);
  assert.ok(r.alternatives.length >= 1 && r.alternatives.length <= MAX_ALTERNATIVES);
  const other = r.alternatives.find((a) =>
    Math.abs(a.candidate.x - 200) <= 1 && Math.abs(a.candidate.y - 100) <= 1
  );
  assert.ok(other, JSON.stringify(r.alternatives.map((a) => a.candidate)));
  assert.ok(other.candidate.score <= r.best.score);
  for (let i = 1; i < r.alternatives.length; i++) {
    assert.ok(r.alternatives[i].candidate.score <= r.alternatives[i - 1].candidate.score);
  }
  for (const a of r.alternatives) {
    assert.equal(a.bestBgForFg.length, 1);
    const far = Math.abs(a.candidate.x - r.best.x) > 8 || Math.abs(a.candidate.y - r.best.y) > 8 ||
      Math.abs(a.candidate.scale / r.best.scale - 1) > 0.03;
    assert.ok(far, `alternative too close to the best: ${JSON.stringify(a.candidate)}`);
  }
});

Deno.test("contentDetail measures edges, not smooth gradients; contentStd measures spread", () => {
  const w = 200, h = 120, all = { x: 0, y: 0, width: w, height: h };
  const flat = createGray(w, h);
  flat.data.fill(40);
  assert.equal(contentDetail(flat, all), 0);
  assert.equal(contentStd(flat, all), 0);
  assert.ok(contentStd(flat, all) <= FLAT_CONTENT_STD);
  // a smooth left-to-right ramp 0..199: a large spread, ~1 level per pixel step
  const ramp = createGray(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ramp.data[y * w + x] = x;
  assert.ok(contentStd(ramp, all) > 50);
  assert.ok(Math.abs(contentDetail(ramp, all) - 1) < 0.05, `${contentDetail(ramp, all)}`);
  // a 1-px checkerboard of 0/100: every neighbour differs by 100 in both directions
  const checker = createGray(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) checker.data[y * w + x] = (x + y) % 2 ? 100 : 0;
  }
  assert.ok(Math.abs(contentDetail(checker, all) - 200) < 1e-9);
  // only the rectangle counts: detail on the left half, flat on the right
  const half = createGray(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) half.data[y * w + x] = x < 100 ? ((x + y) % 2 ? 100 : 0) : 50;
  }
  assert.equal(contentDetail(half, { x: 110, y: 0, width: 90, height: h }), 0);
  assert.ok(contentDetail(half, { x: 0, y: 0, width: 90, height: h }) > 150);
});
