/**
 * `vidkompy find`: where does one picture (an image, or a frame of a video) lie inside another?
 * Both are decoded to gray and handed to the spatial search (translation + uniform scale).
 * @module
 */
import { ExitCode, usageError, VidkompyError } from "./errors.ts";
import { grabGrayFrames } from "./frame_grab.ts";
import { type GrayImage, resizeGray } from "./gray_image.ts";
import { probeVideo } from "./probe.ts";
import { refineSpatial, searchSpatial, type SpatialCandidate } from "./spatial_search.ts";
import { loadStillGray, probeStill } from "./still.ts";
import type { Tools } from "./tools.ts";

/** Confidence below which `find` reports "not found" (exit 3 in the CLI). */
export const FIND_MIN_CONFIDENCE = 0.4;

/** Haystacks wider than this are searched at reduced size first, then refined at full size. */
const COARSE_WIDTH = 480;

/** One loaded input of {@link findImage}. */
export interface FindInput {
  /** File path. */
  path: string;
  /** "image" or "video". */
  kind: "image" | "video";
  /** Picture width. */
  width: number;
  /** Picture height. */
  height: number;
  /** The video frame used (null for an image). */
  frame: number | null;
}

/** Options of {@link findImage}. */
export interface FindOptions {
  /** ffmpeg/ffprobe. */
  tools: Tools;
  /** The picture to look for. */
  needle: string;
  /** The picture to look in. */
  haystack: string;
  /** 0-4 (default 2): trades speed for accuracy. */
  precision?: number;
  /** Only search 100 % scale. */
  unscaled?: boolean;
  /** Frame of a needle video (default: its middle frame). */
  needleFrame?: number;
  /** Frame of a haystack video (default: its middle frame). */
  haystackFrame?: number;
}

/** What {@link findImage} found. */
export interface FindResult {
  /** Needle's left edge in haystack pixels (may be negative: partly outside). */
  x: number;
  /** Needle's top edge in haystack pixels. */
  y: number;
  /** Needle's scale inside the haystack (footprint / needle size). */
  scale: number;
  /** Footprint width in haystack pixels. */
  width: number;
  /** Footprint height in haystack pixels. */
  height: number;
  /** Match confidence in [0, 1] (band-passed NCC); below 0.4 means not found. */
  confidence: number;
  /** True when confidence ≥ {@link FIND_MIN_CONFIDENCE}. */
  found: boolean;
  /** The needle input. */
  needle: FindInput;
  /** The haystack input. */
  haystack: FindInput;
  /** Seconds spent. */
  seconds: number;
}

/**
 * Loads an image (first picture) or one frame of a video (`frame`, default the middle one) as
 * gray. A frame index past the end is a usage error.
 */
export async function loadPicture(
  tools: Tools,
  file: string,
  role: string,
  frame?: number,
): Promise<{ image: GrayImage; input: FindInput }> {
  const still = await probeStill(tools.ffprobe, file, role);
  if (still.still) {
    if (frame !== undefined && frame !== 0) {
      throw usageError(`${role} '${file}' is a still image: it has only frame 0; drop the frame`);
    }
    const image = await loadStillGray(tools.ffmpeg, still, role);
    return {
      image,
      input: { path: file, kind: "image", width: image.width, height: image.height, frame: null },
    };
  }
  const info = await probeVideo(tools.ffprobe, file, role);
  const idx = frame ?? Math.floor((info.frameCount - 1) / 2);
  if (idx < 0 || idx >= info.frameCount) {
    throw usageError(
      `${role} '${file}' has ${info.frameCount} frames; frame ${idx} does not exist: check the frame number`,
    );
  }
  const [image] = await grabGrayFrames(info, [idx], { ffmpeg: tools.ffmpeg }, role);
  if (!image) {
    throw new VidkompyError(`${role} '${file}' gave no frame ${idx} when decoded; check the file`);
  }
  return {
    image,
    input: { path: file, kind: "video", width: info.width, height: info.height, frame: idx },
  };
}

/**
 * Finds where `needle` lies inside `haystack` at full haystack resolution. Large haystacks are
 * searched at ~480 px wide first, then refined at full size. Throws a {@link VidkompyError} with
 * exit code 3 when the needle cannot fit inside the haystack at any searched scale.
 */
export function locate(
  needle: GrayImage,
  hay: GrayImage,
  opts: { precision?: number; unscaled?: boolean } = {},
): { best: SpatialCandidate; confidence: number } {
  const searchOpts = { precision: opts.precision ?? 2, unscaledOnly: opts.unscaled ?? false };
  try {
    const f = hay.width / COARSE_WIDTH;
    if (f <= 1.05 || opts.unscaled) {
      const r = searchSpatial([needle], [hay], searchOpts);
      return { best: r.best, confidence: r.confidence };
    }
    const rw = (w: number) => Math.max(8, Math.round(w / f));
    const smallHay = resizeGray(hay, rw(hay.width), rw(hay.height));
    const smallNeedle = resizeGray(needle, rw(needle.width), rw(needle.height));
    const r = searchSpatial([smallNeedle], [smallHay], searchOpts);
    const bx = hay.width / smallHay.width, by = hay.height / smallHay.height;
    const width = Math.max(1, Math.round(r.best.width * bx));
    const height = Math.max(1, Math.round(r.best.height * by));
    const initial: SpatialCandidate = {
      x: Math.round(r.best.x * bx),
      y: Math.round(r.best.y * by),
      scale: Math.sqrt((width / needle.width) * (height / needle.height)),
      scaleX: width / needle.width,
      scaleY: height / needle.height,
      width,
      height,
      score: r.best.score,
    };
    const best = refineSpatial([{ fg: needle, bg: hay }], initial, { reach: Math.ceil(2 * f) });
    return { best, confidence: Math.max(0, Math.min(1, best.score)) };
  } catch (e) {
    if (e instanceof RangeError) {
      throw new VidkompyError(
        `the needle (${needle.width}x${needle.height}) cannot fit inside the haystack ` +
          `(${hay.width}x${hay.height}) at any searched scale (${e.message}); check the order: ` +
          "needle first, then haystack",
        ExitCode.NoAlignment,
      );
    }
    throw e;
  }
}

/** Finds `opts.needle` inside `opts.haystack` (images or video frames). */
export async function findImage(opts: FindOptions): Promise<FindResult> {
  const t0 = performance.now();
  const [n, h] = await Promise.all([
    loadPicture(opts.tools, opts.needle, "needle", opts.needleFrame),
    loadPicture(opts.tools, opts.haystack, "haystack", opts.haystackFrame),
  ]);
  const { best, confidence } = locate(n.image, h.image, opts);
  return {
    x: best.x,
    y: best.y,
    scale: best.scale,
    width: best.width,
    height: best.height,
    confidence,
    found: confidence >= FIND_MIN_CONFIDENCE,
    needle: n.input,
    haystack: h.input,
    seconds: (performance.now() - t0) / 1000,
  };
}
