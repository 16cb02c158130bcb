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
  /** Decode forward from the start in one run, never seek (for tests and comparisons). */
  sequential?: boolean;
  /** What starting another decoder costs, in decoded frames (default 24; tests lower it). */
  spawnCost?: number;
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
 * Moves each of a sparse, ascending list of frame indices to the nearest keyframe when one lies
 * within half the list's spacing (default: its median gap), if the spacing is at least half a
 * group of pictures: such frames decode after a seek without decoding most of a group first.
 * The result is ascending and unique.
 */
export function nearKeyframes(indices: number[], info: VideoInfo, spacing?: number): number[] {
  const keys = info.keyframes;
  if (!keys || keys.length === 0 || indices.length === 0) return indices;
  let gap = spacing;
  if (gap === undefined) {
    const gaps = indices.slice(1).map((v, k) => v - indices[k]).sort((a, b) => a - b);
    gap = gaps.length ? gaps[gaps.length >> 1] : 0;
  }
  // keyframes closer together than the samples already make every seek cheap
  const gops = keys.slice(1).map((v, k) => v - keys[k]).sort((a, b) => a - b);
  const gop = gops.length ? gops[gops.length >> 1] : info.frameCount ?? 0;
  if (gap < gop / 2) return indices;
  const tol = Math.floor(gap / 2);
  const out: number[] = [];
  for (const i of indices) {
    const before = keyBefore(keys, i);
    let k = i;
    let lo = 0, hi = keys.length - 1, after = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid] >= i) {
        after = keys[mid];
        hi = mid - 1;
      } else lo = mid + 1;
    }
    const dB = i - before, dA = after >= 0 ? after - i : Infinity;
    if (Math.min(dB, dA) <= tol) k = dB <= dA ? before : after;
    if (out.length === 0 || out[out.length - 1] < k) out.push(k);
  }
  return out;
}

/** Starting one more ffmpeg process costs about this many decoded frames. */
const SPAWN_COST = 24;

/** One ffmpeg run of a grab: start at frame `start` (seeking there), output `indices`. */
export interface GrabSegment {
  /** First frame decoded after the seek (0 = from the start, no seek). */
  start: number;
  /** Wanted frame indices (ascending, all ≥ start). */
  indices: number[];
}

/** The keyframe at or before `idx` (binary search), or 0. */
function keyBefore(keys: Int32Array, idx: number): number {
  let lo = 0, hi = keys.length - 1, best = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] <= idx) {
      best = keys[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/**
 * Splits a sorted list of wanted frames into decoder runs: a run goes on decoding forward while
 * that is cheaper than seeking (a seek decodes from the keyframe before the wanted frame, plus
 * the cost of another process). Without keyframe information everything is one run from 0.
 */
export function planGrab(
  uniq: number[],
  keyframes?: Int32Array,
  spawnCost = SPAWN_COST,
): GrabSegment[] {
  if (uniq.length === 0) return [];
  if (!keyframes || keyframes.length === 0) return [{ start: 0, indices: [...uniq] }];
  const segs: GrabSegment[] = [];
  let cur: GrabSegment | null = null;
  let pos = 0;
  for (const idx of uniq) {
    const goOn = idx - pos;
    const seek = idx - keyBefore(keyframes, idx) + spawnCost;
    if (!cur || seek < goOn) {
      cur = { start: cur || seek < goOn ? idx : 0, indices: [] };
      segs.push(cur);
    }
    cur.indices.push(idx);
    pos = idx + 1;
  }
  return segs;
}

/**
 * ffmpeg's input `-ss` that starts decoding exactly at frame `start` of `info`: halfway between
 * it and the frame before (robust to rounded timestamps), or, when `start` is a keyframe, its
 * own time — ffmpeg seeks to the last keyframe at or before `-ss`, so halfway would decode the
 * whole group before it.
 */
export function seekTimeOf(info: VideoInfo, start: number): number {
  if (start <= 0) return 0;
  const t = info.frameTimes;
  if (start >= t.length) return Math.max(0, t[t.length - 1] - info.startTime);
  const keys = info.keyframes;
  const at = keys && keys.length > 0 && keyBefore(keys, start) === start ? t[start] : -1;
  const target = at >= 0 ? at : (t[start - 1] + t[start]) / 2;
  return Math.max(0, target - info.startTime);
}

/**
 * Decodes the frames at `indices` (any order, duplicates allowed) as 8-bit luma images and
 * returns them in the order asked. Nearby frames come from one forward decode, distant ones from
 * seeks (see {@link planGrab}); at most two ffmpeg processes run at a time.
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
  const segs = opts.sequential
    ? [{ start: 0, indices: uniq }]
    : planGrab(uniq, info.keyframes, opts.spawnCost);
  const got = new Map<number, GrayImage>();
  const runSegment = async (seg: GrabSegment) => {
    const reader = FrameReader.open({
      ffmpeg: opts.ffmpeg,
      info,
      format: "gray",
      width,
      height,
      crop: opts.crop,
      select: seg.indices.map((i) => i - seg.start),
      seek: seekTimeOf(info, seg.start),
      frames: seg.indices.length,
      scaler: "area",
    }, role);
    try {
      for (const idx of seg.indices) {
        const f = await reader.read();
        if (!f) break;
        got.set(idx, { width, height, data: f.slice() });
      }
    } finally {
      await reader.close();
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < segs.length) await runSegment(segs[next++]);
  };
  await Promise.all([worker(), worker()]);
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
