import { assert, assertEquals } from "../tests/assert.ts";
import { rng } from "./gpu/test_util.ts";
import { EMBED_H, EMBED_W, embedFrame } from "./embed.ts";
import { applyOverlayMask, maskPicture, maskShare, overlayMask } from "./overlay_mask.ts";

const W = EMBED_W, H = EMBED_H;

/** A textured 64×64 picture (smooth blobs plus fine detail) and a graded, noisy copy. */
function pair(seed: number, noise = 3): { fg: Uint8Array; bg: Uint8Array } {
  const r = rng(seed);
  const fx = [r(), r(), r()].map((v) => 0.1 + 0.4 * v), ph = [r(), r(), r()].map((v) => 6 * v);
  const fg = new Uint8Array(W * H), bg = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const v = 128 + 40 * Math.sin(fx[0] * x + ph[0]) * Math.cos(fx[1] * y + ph[1]) +
        30 * Math.sin(fx[2] * (x + y) + ph[2]) + 20 * (r() - 0.5);
      const i = y * W + x;
      fg[i] = Math.max(0, Math.min(255, v));
      // bg: another grade (gain and offset) and its own noise
      bg[i] = Math.max(0, Math.min(255, 0.8 * v + 30 + noise * (r() - 0.5) * 2));
    }
  }
  return { fg, bg };
}

function box(img: Uint8Array, x0: number, y0: number, w: number, h: number, v: number) {
  for (let y = y0; y < y0 + h; y++) img.fill(v, y * W + x0, y * W + x0 + w);
}

function cosine(a: Int8Array, b: Int8Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

Deno.test("overlayMask finds a logo that fg shows and bg lacks, and little else", () => {
  const { fg, bg } = pair(1);
  box(fg, 6, 6, 12, 8, 255); // a white logo: 2.3 % of the picture
  const mask = overlayMask(fg, bg, W, H);
  assert(mask !== null, "no mask");
  let inLogo = 0, outside = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const logo = x >= 6 && x < 18 && y >= 6 && y < 14;
      const near = x >= 2 && x < 22 && y >= 2 && y < 18;
      if (logo) inLogo += mask[y * W + x];
      else if (!near) outside += mask[y * W + x];
    }
  }
  assertEquals(inLogo, 12 * 8);
  assertEquals(outside, 0);
  assert(maskShare(mask) < 0.1, `share ${maskShare(mask)}`);
});

Deno.test("overlayMask leaves matching pictures alone (grade and noise only)", () => {
  for (const seed of [2, 3, 4]) {
    const { fg, bg } = pair(seed, 6);
    assertEquals(overlayMask(fg, bg, W, H), null);
  }
});

Deno.test("overlayMask refuses broad disagreement (another moment) and flat pictures", () => {
  assertEquals(overlayMask(pair(5).fg, pair(6).bg, W, H), null);
  assertEquals(overlayMask(new Uint8Array(W * H).fill(80), pair(7).bg, W, H), null);
});

Deno.test("applyOverlayMask restores the embeddings' agreement under a logo", () => {
  const { fg, bg } = pair(8);
  box(fg, 44, 4, 16, 10, 250);
  box(fg, 48, 7, 8, 4, 10);
  const dim = 512;
  const e = (img: Uint8Array) => {
    const out = new Int8Array(dim);
    embedFrame(img, out);
    return out;
  };
  const before = cosine(e(fg), e(bg));
  const mask = overlayMask(fg, bg, W, H);
  assert(mask !== null, "no mask");
  const f2 = fg.slice(), b2 = bg.slice();
  applyOverlayMask(f2, mask);
  applyOverlayMask(b2, mask);
  const after = cosine(e(f2), e(b2));
  assert(after > before + 0.1, `cosine ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  assert(after > 0.9, `cosine after ${after.toFixed(3)}`);
});

Deno.test("maskPicture fills the masked cells' pixels of a region with the region's mean", () => {
  // a 4×2 mask over the region x 10..18, y 4..8 of a 24×12 picture: cell (1, 0) set
  const img = { width: 24, height: 12, data: new Uint8Array(24 * 12) };
  for (let i = 0; i < img.data.length; i++) img.data[i] = i % 24 < 12 ? 40 : 200;
  const mask = new Uint8Array(8);
  mask[1] = 1;
  const out = maskPicture(img, mask, 4, 2, { x: 10, y: 4, width: 8, height: 4 });
  // the cell covers x 12..13, y 4..5; the region's other pixels: x 10..11 are 40, 12..17 are 200
  const others = (2 * 4 * 40 + (6 * 4 - 4) * 200) / (8 * 4 - 4);
  for (let y = 0; y < 12; y++) {
    for (let x = 0; x < 24; x++) {
      const inCell = x >= 12 && x < 14 && y >= 4 && y < 6;
      assertEquals(
        out.data[y * 24 + x],
        inCell ? Math.round(others) : img.data[y * 24 + x],
        `pixel ${x},${y}`,
      );
    }
  }
  assertEquals(img.data[4 * 24 + 12], 200, "input unchanged");
});
