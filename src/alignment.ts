/**
 * The alignment: where fg lies in bg (spatial) and which bg frame goes with each fg frame
 * (temporal). This is the schema `vidkompy align` writes and `comp --alignment` reads.
 * @module
 */
import { usageError, VidkompyError } from "./errors.ts";
import type { VideoInfo } from "./probe.ts";

/** Where fg's full frame lies in bg. */
export interface SpatialAlignment {
  /** Left edge of fg's footprint in bg pixels (may be negative: clipped). */
  x: number;
  /** Top edge of fg's footprint in bg pixels (may be negative: clipped). */
  y: number;
  /** Uniform scale of fg inside bg (footprint / fg size). */
  scale: number;
  /** Horizontal scale after rounding (footprint width / fg width). */
  scaleX: number;
  /** Vertical scale after rounding (footprint height / fg height). */
  scaleY: number;
  /** Footprint width in bg pixels. */
  width: number;
  /** Footprint height in bg pixels. */
  height: number;
  /** Match confidence in [-1, 1] (normalised cross-correlation), null when given by hand. */
  confidence: number | null;
  /** The best candidate at a clearly different place or scale, if any. */
  runnerUp?: { x: number; y: number; scale: number; confidence: number } | null;
  /** fg's content rectangle (letterbox bars excluded) in fg pixels, if bars were found. */
  content?: { x: number; y: number; width: number; height: number } | null;
  /** "manual" (command line), "auto" (searched) or "file". */
  method: string;
}

/** Which bg frame is shown under each fg frame. */
export interface TemporalAlignment {
  /** Seconds: bg time ≈ fg time + offset (times relative to each video's first frame). */
  offset: number;
  /** bg seconds per fg second (1 for same-speed footage). */
  rate: number;
  /** Overall confidence in [0, 1], null when given by hand. */
  confidence: number | null;
  /** bg frame index for every fg frame (non-decreasing). */
  map: number[];
  /** Per-fg-frame match score (cosine similarity of embeddings), when known. */
  scores?: number[];
  /** Per fg frame: 0 matched, 1 before bg starts (holds bg's first frame), 2 after bg ends. */
  held?: number[];
  /** "manual", "auto" or "file". */
  method: string;
}

/** Summary of one input inside the alignment file. */
export interface InputSummary {
  /** File path. */
  path: string;
  /** Display width. */
  width: number;
  /** Display height. */
  height: number;
  /** Frame count. */
  frames: number;
  /** Nominal frame rate. */
  fps: number;
}

/** The whole alignment (the JSON file's schema, `vidkompy: 1`). */
export interface Alignment {
  /** Schema version. */
  vidkompy: 1;
  /** The background input. */
  bg: InputSummary;
  /** The foreground input. */
  fg: InputSummary;
  /** Spatial alignment. */
  spatial: SpatialAlignment;
  /** Temporal alignment. */
  temporal: TemporalAlignment;
}

/** Summarises a probed input for the alignment file. */
export function summarize(info: VideoInfo): InputSummary {
  return {
    path: info.path,
    width: info.width,
    height: info.height,
    frames: info.frameCount,
    fps: Math.round(info.fps * 1000) / 1000,
  };
}

/** Spatial alignment from an explicit position and scale. */
export function manualSpatial(
  fg: VideoInfo,
  x: number,
  y: number,
  scale: number,
): SpatialAlignment {
  const width = Math.max(1, Math.round(fg.width * scale));
  const height = Math.max(1, Math.round(fg.height * scale));
  return {
    x,
    y,
    scale,
    scaleX: width / fg.width,
    scaleY: height / fg.height,
    width,
    height,
    confidence: null,
    method: "manual",
  };
}

/**
 * Temporal alignment from a constant offset: fg frame i shows bg's frame nearest to
 * fg time + offset (times relative to each first frame); frames outside bg hold its ends.
 */
export function offsetTemporal(fg: VideoInfo, bg: VideoInfo, offset: number): TemporalAlignment {
  const bgT = bg.frameTimes, fgT = fg.frameTimes;
  const b0 = bgT[0], f0 = fgT[0];
  const m = bgT.length;
  const halfFrame = 0.5 / (bg.fps || 25);
  const map: number[] = new Array(fgT.length);
  const held: number[] = new Array(fgT.length).fill(0);
  let j = 0;
  for (let i = 0; i < fgT.length; i++) {
    const t = fgT[i] - f0 + offset;
    while (j + 1 < m && Math.abs(bgT[j + 1] - b0 - t) <= Math.abs(bgT[j] - b0 - t)) j++;
    map[i] = j;
    if (t < -halfFrame) held[i] = 1;
    else if (t > bgT[m - 1] - b0 + halfFrame) held[i] = 2;
  }
  return { offset, rate: 1, confidence: null, map, held, method: "manual" };
}

/** Time offset implied by a frame map (median of bg time − fg time over matched frames). */
export function offsetOfMap(fg: VideoInfo, bg: VideoInfo, map: number[], held?: number[]): number {
  const d: number[] = [];
  for (let i = 0; i < map.length; i++) {
    if (held && held[i]) continue;
    d.push(bg.frameTimes[map[i]] - bg.frameTimes[0] - (fg.frameTimes[i] - fg.frameTimes[0]));
  }
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown, what: string, file: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw usageError(`alignment file '${file}': ${what} must be a number; fix or regenerate it`);
  }
  return v;
}

/**
 * Parses and validates an alignment JSON text against the inputs. Throws a usage error that
 * names the problem when it is malformed or does not fit (wrong frame count, indices out of
 * range, decreasing map).
 */
export function parseAlignment(
  text: string,
  file: string,
  fg: VideoInfo,
  bg: VideoInfo,
): Alignment {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw usageError(
      `alignment file '${file}' is not valid JSON (${
        (e as Error).message
      }); regenerate it with 'vidkompy align'`,
    );
  }
  if (!isObj(raw) || raw.vidkompy !== 1) {
    throw usageError(`alignment file '${file}' is not a vidkompy alignment (needs "vidkompy": 1)`);
  }
  const sp = raw.spatial, tp = raw.temporal;
  if (!isObj(sp) || !isObj(tp)) {
    throw usageError(`alignment file '${file}' lacks "spatial" or "temporal"; regenerate it`);
  }
  const x = num(sp.x, "spatial.x", file), y = num(sp.y, "spatial.y", file);
  const scale = num(sp.scale, "spatial.scale", file);
  if (!(scale > 0) || scale > 64) {
    throw usageError(`alignment file '${file}': spatial.scale ${scale} is out of range`);
  }
  const spatial = manualSpatial(fg, Math.round(x), Math.round(y), scale);
  if (typeof sp.width === "number" && typeof sp.height === "number") {
    spatial.width = Math.max(1, Math.round(sp.width));
    spatial.height = Math.max(1, Math.round(sp.height));
    spatial.scaleX = spatial.width / fg.width;
    spatial.scaleY = spatial.height / fg.height;
  }
  spatial.method = "file";
  spatial.confidence = typeof sp.confidence === "number" ? sp.confidence : null;
  const map = tp.map;
  let temporal: TemporalAlignment;
  if (Array.isArray(map)) {
    if (map.length !== fg.frameCount) {
      throw usageError(
        `alignment file '${file}' maps ${map.length} fg frames but fg has ${fg.frameCount}; it was made for other inputs`,
      );
    }
    const m: number[] = new Array(map.length);
    for (let i = 0; i < map.length; i++) {
      const v = map[i];
      if (!Number.isInteger(v) || v < 0 || v >= bg.frameCount) {
        throw usageError(
          `alignment file '${file}': map[${i}] = ${JSON.stringify(v)} is not a bg frame index (0..${
            bg.frameCount - 1
          })`,
        );
      }
      if (i > 0 && v < m[i - 1]) {
        throw usageError(
          `alignment file '${file}': map decreases at fg frame ${i}; it must be monotone`,
        );
      }
      m[i] = v;
    }
    const held = Array.isArray(tp.held) && tp.held.length === m.length
      ? tp.held.map((h) => (h === 1 || h === 2 ? h : 0))
      : undefined;
    temporal = {
      offset: typeof tp.offset === "number" ? tp.offset : offsetOfMap(fg, bg, m, held),
      rate: typeof tp.rate === "number" ? tp.rate : 1,
      confidence: typeof tp.confidence === "number" ? tp.confidence : null,
      map: m,
      held,
      scores: Array.isArray(tp.scores) && tp.scores.length === m.length
        ? tp.scores.map((s) => (typeof s === "number" ? s : 0))
        : undefined,
      method: "file",
    };
  } else if (typeof tp.offset === "number") {
    temporal = { ...offsetTemporal(fg, bg, tp.offset), method: "file" };
  } else {
    throw usageError(`alignment file '${file}': temporal needs "map" or "offset"`);
  }
  return { vidkompy: 1, bg: summarize(bg), fg: summarize(fg), spatial, temporal };
}

/** Reads an alignment file (see {@link parseAlignment}). */
export async function readAlignment(
  file: string,
  fg: VideoInfo,
  bg: VideoInfo,
): Promise<Alignment> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new VidkompyError(`cannot read alignment file '${file}'; check the path`, 2);
  }
  return parseAlignment(text, file, fg, bg);
}

/** Serialises an alignment as pretty JSON with rounded scores. */
export function alignmentToJson(a: Alignment): string {
  const t = a.temporal;
  const out = {
    ...a,
    temporal: {
      ...t,
      scores: t.scores?.map((s) => Math.round(s * 10000) / 10000),
    },
  };
  // keep long arrays on one line each
  return JSON.stringify(out, (_k, v) => v, 2).replace(
    /\[\s*([-\d.e,\s]+?)\s*\]/g,
    (_m, inner: string) => "[" + inner.replace(/\s+/g, "") + "]",
  );
}
