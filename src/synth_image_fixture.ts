/**
 * Deterministic gray test pictures (for the spatial search's unit tests): uniform noise and
 * smooth value noise.
 * @module
 */
import { createGray, type GrayImage } from "./gray_image.ts";
import { mulberry32 } from "./synth_video_fixture.ts";

/** Uniform random 8-bit noise (seeded). */
export function noiseImage(w: number, h: number, seed: number): GrayImage {
  const r = mulberry32(seed);
  const img = createGray(w, h);
  for (let i = 0; i < img.data.length; i++) img.data[i] = Math.floor(r() * 256);
  return img;
}

/** Smooth value noise (smoothstep-interpolated random lattice with `cell` px cells, seeded). */
export function smoothNoiseImage(w: number, h: number, seed: number, cell: number): GrayImage {
  const r = mulberry32(seed);
  const gw = Math.ceil(w / cell) + 2, gh = Math.ceil(h / cell) + 2;
  const lat = new Float32Array(gw * gh).map(() => r());
  const img = createGray(w, h);
  const ease = (t: number) => t * t * (3 - 2 * t);
  for (let y = 0; y < h; y++) {
    const fy = y / cell, iy = Math.floor(fy), ty = ease(fy - iy);
    for (let x = 0; x < w; x++) {
      const fx = x / cell, ix = Math.floor(fx), tx = ease(fx - ix);
      const a = lat[iy * gw + ix], b = lat[iy * gw + ix + 1];
      const c = lat[(iy + 1) * gw + ix], d = lat[(iy + 1) * gw + ix + 1];
      const v = a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
      img.data[y * w + x] = Math.round(v * 255);
    }
  }
  return img;
}
