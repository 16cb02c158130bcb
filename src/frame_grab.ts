/**
 * Grabbing a few gray frames from a video (for spatial search and verification).
 * @module
 */
import { type CropRect, FrameReader } from "./decode.ts";
import type { GrayImage } from "./gray_image.ts";
import type { VideoInfo } from "./probe.ts";

/** Options of {@link grabGrayFrames}. */
export interface GrabOptions {
  /** ffmpeg executable. */
  ffmpeg: string;
  /** Output width (default: display width, or the crop's). */
  width?: number;
  /** Output height. */
  height?: number;
  /** Region to keep. */
  crop?: CropRect;
}

/** Evenly spread frame indices: `count` of them within [lo, hi] fractions of `n` frames. */
export function spreadIndices(n: number, count: number, lo = 0.05, hi = 0.95): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    const f = count === 1 ? 0.5 : lo + (hi - lo) * (k / (count - 1));
    const idx = Math.min(n - 1, Math.max(0, Math.round(f * (n - 1))));
    if (out.length === 0 || out[out.length - 1] !== idx) out.push(idx);
  }
  return out;
}

/**
 * Decodes the frames at `indices` (any order, duplicates allowed) as 8-bit luma images in one
 * ffmpeg pass and returns them in the order asked.
 */
export async function grabGrayFrames(
  info: VideoInfo,
  indices: number[],
  opts: GrabOptions,
  role = "input",
): Promise<GrayImage[]> {
  const uniq = [...new Set(indices)].sort((a, b) => a - b);
  const width = opts.width ?? opts.crop?.width ?? info.width;
  const height = opts.height ?? opts.crop?.height ?? info.height;
  // ffmpeg's expression parser fails on very long select expressions: beyond a few dozen
  // frames, decode them all and keep the wanted ones here.
  const useSelect = uniq.length <= 40;
  const reader = FrameReader.open({
    ffmpeg: opts.ffmpeg,
    info,
    format: "gray",
    width,
    height,
    crop: opts.crop,
    select: useSelect ? uniq : undefined,
    scaler: "area",
  }, role);
  const got = new Map<number, GrayImage>();
  try {
    if (useSelect) {
      for (const idx of uniq) {
        const f = await reader.read();
        if (!f) break;
        got.set(idx, { width, height, data: f.slice() });
      }
    } else {
      const wanted = new Set(uniq);
      const last = uniq[uniq.length - 1];
      for (let n = 0; n <= last; n++) {
        const f = await reader.read();
        if (!f) break;
        if (wanted.has(n)) got.set(n, { width, height, data: f.slice() });
      }
    }
  } finally {
    await reader.close();
  }
  if (got.size === 0) return [];
  // frames past the real end (probe over-counted) fall back to the last one decoded
  let lastImg: GrayImage | undefined;
  const out: GrayImage[] = [];
  for (const idx of uniq) {
    const g = got.get(idx);
    if (g) lastImg = g;
    else if (lastImg) got.set(idx, lastImg);
  }
  for (const idx of indices) {
    const g = got.get(idx) ?? lastImg;
    if (g) out.push(g);
  }
  return out;
}
