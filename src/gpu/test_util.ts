/**
 * Helpers shared by the GPU parity tests (not a test file itself).
 * @module
 */
import { acquireGpu, type GpuContext, gpuUnavailableReason } from "./device.ts";

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `max |a − b| / max |b|` over `[0, n)` (absolute difference when `b` is all zero). */
export function relErr(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n = b.length,
  ao = 0,
  bo = 0,
): number {
  let m = 0, d = 0;
  for (let i = 0; i < n; i++) {
    m = Math.max(m, Math.abs(b[bo + i]));
    d = Math.max(d, Math.abs(a[ao + i] - b[bo + i]));
  }
  return m > 0 ? d / m : d;
}

/** Largest |a[i] − b[i]| of two integer arrays. */
export function maxIntDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * Thumbnails with smooth structure, noise, and a few special frames: flat (frame 1), nearly flat
 * (frame 2: one pixel off), full-range checkerboard (frame 3).
 */
export function makeThumbs(n: number, seed = 1): Uint8Array {
  const r = rng(seed);
  const t = new Uint8Array(n * 4096);
  for (let f = 0; f < n; f++) {
    const fx = 3 + 6 * r(), fy = 4 + 8 * r(), amp = 20 + 90 * r(), noise = 40 * r();
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const v = 128 + amp * Math.sin((x + f) / fx) * Math.cos(y / fy) + noise * (r() - 0.5);
        t[f * 4096 + y * 64 + x] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  if (n > 1) t.fill(77, 4096, 2 * 4096);
  if (n > 2) {
    t.fill(200, 2 * 4096, 3 * 4096);
    t[2 * 4096 + 64 * 30 + 17] = 201;
  }
  if (n > 3) {
    for (let i = 0; i < 4096; i++) t[3 * 4096 + i] = ((i & 63) + (i >> 6)) & 1 ? 255 : 0;
  }
  return t;
}

/**
 * The WebGPU context for a parity test file, or null — then it logs why and the tests are
 * registered as ignored. (Only a missing adapter skips; any other failure fails the tests.)
 */
export async function gpuForTests(file: string): Promise<GpuContext | null> {
  const ctx = await acquireGpu();
  if (!ctx) console.log(`${file}: WebGPU tests skipped: ${gpuUnavailableReason()}`);
  return ctx;
}
