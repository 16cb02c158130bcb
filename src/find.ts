/**
 * `vidkompy find`: where does one picture (an image, or a frame of a video) lie inside another?
 * Both are decoded to gray and handed to the spatial search (translation + uniform scale).
 *
 * A single needle is harder for the spatial search than `comp`'s fg: there is no consensus over
 * several frames to suppress chance peaks, and the search's coarse stage ranks the peaks of all
 * scales together, where small footprints (few pixels) reach high correlations by chance and
 * crowd the true scale out. So `find` (1) matches the whole needle (no letterbox detection:
 * flat areas at a picture's sides are content, not bars), (2) does not search footprints under
 * {@link MIN_FOOTPRINT} px, and (3) searches the scale range in half-octave bands, each with its
 * own candidate budget, then keeps the placement with the best full-resolution score.
 * @module
 */
import { ExitCode, usageError, VidkompyError } from "./errors.ts";
import { grabGrayFrames } from "./frame_grab.ts";
import { fullRect, type GrayImage, resizeGray } from "./gray_image.ts";
import { probeVideo } from "./probe.ts";
import { refineSpatial, searchSpatial, type SpatialCandidate } from "./spatial_search.ts";
import { loadStillGray, probeStill } from "./still.ts";
import type { Tools } from "./tools.ts";

/** Confidence below which `find` reports "not found" (exit 3 in the CLI). */
export const FIND_MIN_CONFIDENCE = 0.4;

/** Haystacks wider than this are searched at reduced size first, then refined at full size. */
const COARSE_WIDTH = 480;

/** Smallest scale searched (as `comp`'s search). */
export const FIND_MIN_SCALE = 0.25;
/** Largest scale searched. */
export const FIND_MAX_SCALE = 2;
/**
 * Footprints whose short side is under this many haystack pixels are not searched (unless the
 * needle itself is that small, then scales from 1 up): too few pixels to tell a match from
 * chance.
 */
export const MIN_FOOTPRINT = 24;
/** Candidates (best first) refined at full size after a search at reduced size. */
const FULL_SIZE_REFINES = 4;
/** Scores this close count as tied: the scale closer to 100 % wins. */
const TIE = 0.002;

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
 * The scale ranges {@link locate} searches for a needle of `needleW` x `needleH`: from
 * {@link FIND_MIN_SCALE} (raised so the footprint keeps {@link MIN_FOOTPRINT} px on its short
 * side) to {@link FIND_MAX_SCALE}, in half-octave bands (edges at powers of √2), each searched
 * on its own. `[1, 1]` alone when `unscaled`.
 */
export function findScaleBands(
  needleW: number,
  needleH: number,
  unscaled: boolean,
): { min: number; max: number }[] {
  if (unscaled) return [{ min: 1, max: 1 }];
  const lo = Math.max(FIND_MIN_SCALE, Math.min(1, MIN_FOOTPRINT / Math.min(needleW, needleH)));
  const bands: { min: number; max: number }[] = [];
  let min = lo;
  for (let k = -4; k <= 2; k++) {
    const edge = Math.SQRT2 ** k;
    if (edge <= min * 1.05) continue;
    bands.push({ min, max: Math.min(edge, FIND_MAX_SCALE) });
    min = edge;
    if (edge >= FIND_MAX_SCALE) break;
  }
  return bands;
}

/** The better of two placements: higher score; within {@link TIE}, the scale closer to 1. */
function better(a: SpatialCandidate, b: SpatialCandidate): SpatialCandidate {
  if (Math.abs(a.score - b.score) > TIE) return a.score > b.score ? a : b;
  return Math.abs(Math.log(b.scale)) < Math.abs(Math.log(a.scale)) ? b : a;
}

/**
 * Finds where `needle` lies inside `hay` at full haystack resolution: the whole needle is
 * matched, scale band by scale band ({@link findScaleBands}), and the placement with the best
 * full-resolution score wins. Haystacks wider than ~480 px are searched at reduced size first,
 * then the best few candidates are refined at full size. Throws a {@link VidkompyError} with
 * exit code 3 when the needle cannot fit inside the haystack at any searched scale.
 */
export function locate(
  needle: GrayImage,
  hay: GrayImage,
  opts: { precision?: number; unscaled?: boolean } = {},
): { best: SpatialCandidate; confidence: number } {
  const precision = opts.precision ?? 2;
  const unscaled = opts.unscaled ?? false;
  const f = hay.width / COARSE_WIDTH;
  const reduced = f > 1.05 && !unscaled;
  const rw = (w: number) => Math.max(8, Math.round(w / f));
  const n = reduced ? resizeGray(needle, rw(needle.width), rw(needle.height)) : needle;
  const h = reduced ? resizeGray(hay, rw(hay.width), rw(hay.height)) : hay;
  const found: SpatialCandidate[] = [];
  let why: RangeError | null = null;
  for (const band of findScaleBands(needle.width, needle.height, unscaled)) {
    try {
      const r = searchSpatial([n], [h], {
        precision,
        minScale: band.min,
        maxScale: band.max,
        unscaledOnly: unscaled,
        content: fullRect(n),
      });
      found.push(r.best);
      if (r.runnerUp) found.push(r.runnerUp);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      why = e; // the needle does not fit at this band's scales
    }
  }
  if (found.length === 0) {
    throw new VidkompyError(
      `the needle (${needle.width}x${needle.height}) cannot fit inside the haystack ` +
        `(${hay.width}x${hay.height}) at any searched scale (${why?.message ?? "no placement"}); ` +
        "check the order: needle first, then haystack",
      ExitCode.NoAlignment,
    );
  }
  let best: SpatialCandidate;
  if (!reduced) {
    best = found.reduce(better);
  } else {
    // back to full size: the best few (by their reduced-size score), refined there
    const bx = hay.width / h.width, by = hay.height / h.height;
    const top: SpatialCandidate[] = [];
    for (const c of found.sort((a, b) => b.score - a.score)) {
      // bands share their edge scales: the same placement may come from two of them
      const same = top.some((t) =>
        Math.abs(t.x - c.x) <= 1 && Math.abs(t.y - c.y) <= 1 &&
        Math.abs(Math.log(t.scale / c.scale)) < 0.01
      );
      if (!same && top.length < FULL_SIZE_REFINES) top.push(c);
    }
    const refined = top.map((c) => {
      const width = Math.max(1, Math.round(c.width * bx));
      const height = Math.max(1, Math.round(c.height * by));
      const initial: SpatialCandidate = {
        x: Math.round(c.x * bx),
        y: Math.round(c.y * by),
        scale: Math.sqrt((width / needle.width) * (height / needle.height)),
        scaleX: width / needle.width,
        scaleY: height / needle.height,
        width,
        height,
        score: c.score,
      };
      return refineSpatial([{ fg: needle, bg: hay }], initial, { reach: Math.ceil(2 * f) });
    });
    best = refined.reduce(better);
  }
  return { best, confidence: Math.max(0, Math.min(1, best.score)) };
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
