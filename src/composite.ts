/**
 * Foreground-first compositing: decode bg and fg once each, paste every fg frame onto its
 * mapped bg frame, encode at fg's timestamps, mux audio, write atomically.
 * @module
 */
import type { Alignment, SpatialAlignment } from "./alignment.ts";
import { featherMask, pasteYuv420 } from "./compose.ts";
import { type CropRect, FrameReader } from "./decode.ts";
import { type AudioSource, FrameEncoder } from "./encode.ts";
import { usageError, VidkompyError } from "./errors.ts";
import { AtomicOutput } from "./output_path.ts";
import { MAX_DIMENSION, MAX_PIXELS, type VideoInfo } from "./probe.ts";
import { type ProgressSink, silentProgress } from "./progress.ts";
import type { Tools } from "./tools.ts";

/** Which audio goes into the output. */
export type AudioMode = "auto" | "fg" | "bg" | "none";

/**
 * Whose resolution the output has: "bg" (bg's size; fg resampled to its footprint) or "fg"
 * (bg resampled by 1/scale so that fg is pasted 1:1, at its own resolution).
 */
export type CanvasMode = "bg" | "fg";

/** The output canvas: its size and where fg goes on it. */
export interface CanvasPlan {
  /** Whose resolution the canvas has. */
  kind: CanvasMode;
  /** Canvas (output) width, even. */
  width: number;
  /** Canvas (output) height, even. */
  height: number;
  /** Canvas pixels per bg pixel, horizontally (1 for "bg"). */
  scaleX: number;
  /** Canvas pixels per bg pixel, vertically (1 for "bg"). */
  scaleY: number;
  /** The part of bg decoded (before scaling to the canvas); undefined: all of it. */
  bgCrop?: CropRect;
  /** fg's placement on the canvas; fg is decoded at `width` x `height` of this rectangle. */
  fg: { x: number; y: number; width: number; height: number };
}

/** Options of {@link composite}. */
export interface CompositeOptions {
  /** ffmpeg/ffprobe. */
  tools: Tools;
  /** Background input. */
  bg: VideoInfo;
  /** Foreground input. */
  fg: VideoInfo;
  /** Where fg goes and which bg frame is under each fg frame. */
  alignment: Alignment;
  /** Absolute output path (already checked by checkOutput). */
  output: string;
  /** Video codec (default libx264). */
  codec?: string;
  /** CRF (default 18). */
  crf?: number;
  /** Preset (default medium). */
  preset?: string;
  /** Audio choice (default auto: fg's, else bg's shifted into sync). */
  audio?: AudioMode;
  /** Feather width in px (0 = hard edges). */
  feather?: number;
  /** Progress sink. */
  progress?: ProgressSink;
  /** Output only fg frames that have bg content (held frames dropped). */
  trim?: boolean;
  /** Whose resolution the output has (default "bg"); see {@link planCanvas}. */
  canvas?: CanvasMode;
}

/** What compositing did. */
export interface CompositeResult {
  /** Output file. */
  output: string;
  /** Frames written. */
  frames: number;
  /** Output width. */
  width: number;
  /** Output height. */
  height: number;
  /** Audio source used: "fg", "bg" or "none". */
  audio: string;
  /** Seconds spent. */
  seconds: number;
  /** Frames whose bg frame was held (fg outside bg's time span). */
  heldFrames: number;
  /** The canvas used: kind, size (= output size), scale and fg's place on it. */
  canvas: CanvasPlan;
}

/**
 * Picks the audio source for `mode`: fg's own audio, else bg's shifted into sync.
 * The output's first frame sits `fg.videoStart - fg.startTime` seconds after its zero (as in
 * fg); `firstTime` is how far into fg (from its first frame) the output starts (--trim).
 */
export function chooseAudio(
  mode: AudioMode,
  fg: VideoInfo,
  bg: VideoInfo,
  offset: number,
  firstTime = 0,
): { source: AudioSource | null; label: string } {
  const lead = fg.videoStart - fg.startTime;
  if ((mode === "auto" || mode === "fg") && fg.audio) {
    return { source: { path: fg.path, shift: firstTime }, label: "fg" };
  }
  if (mode === "fg") {
    throw new VidkompyError(`fg '${fg.path}' has no audio; use --audio bg or --audio none`, 2);
  }
  if ((mode === "auto" || mode === "bg") && bg.audio) {
    const shift = firstTime + offset + (bg.videoStart - bg.startTime) - lead;
    return { source: { path: bg.path, shift }, label: "bg" };
  }
  if (mode === "bg") {
    throw new VidkompyError(`bg '${bg.path}' has no audio; use --audio fg or --audio none`, 2);
  }
  return { source: null, label: "none" };
}

/**
 * How many frames a decoder may deliver fewer than the probe counted before the input counts
 * as damaged: a few undecodable leading frames are common in cut footage; more means loss.
 */
export function decodeTolerance(frames: number): number {
  return Math.max(2, Math.ceil(frames * 0.01));
}

function shortfallError(role: string, file: string, got: number, want: number, why: string) {
  return new VidkompyError(
    `${role} '${file}' decoded to only ${got} of its ${want} frames${
      why ? ` (${why})` : ""
    }; the file is damaged or truncated: repair or re-export it`,
  );
}

/** Canvas size: bg's display size rounded down to even numbers (yuv420p needs them). */
export function canvasSize(bg: VideoInfo): { width: number; height: number } {
  return { width: Math.max(2, bg.width & ~1), height: Math.max(2, bg.height & ~1) };
}

/** `v` rounded to the nearest even number, at least 2. */
function roundEven(v: number): number {
  return Math.max(2, 2 * Math.round(v / 2));
}

/**
 * Plans the output canvas for fg placed by `sp` on bg.
 *
 * - "bg": bg's size (rounded down to even by cropping its last row/column when odd); fg is
 *   resampled to its footprint (`sp.width` x `sp.height`) at (`sp.x`, `sp.y`).
 * - "fg": fg keeps its own pixels: the canvas is bg's size divided by fg's scale in bg (each
 *   side rounded to even), bg is resampled to it, and fg is pasted 1:1 (decoded at its own size)
 *   at (round(x·k), round(y·k)), k = canvas size / bg size ≈ 1/scale. With scale < 1 (fg finer
 *   than bg) the canvas is larger than bg; with scale > 1 (fg was enlarged in bg) it is smaller:
 *   either way it is fg's resolution. A canvas beyond the size limits is a usage error.
 */
export function planCanvas(
  kind: CanvasMode,
  bg: VideoInfo,
  fg: { width: number; height: number },
  sp: SpatialAlignment,
): CanvasPlan {
  if (kind === "bg") {
    const { width, height } = canvasSize(bg);
    return {
      kind,
      width,
      height,
      scaleX: 1,
      scaleY: 1,
      bgCrop: width !== bg.width || height !== bg.height
        ? { x: 0, y: 0, width, height }
        : undefined,
      fg: { x: sp.x, y: sp.y, width: sp.width, height: sp.height },
    };
  }
  const scale = sp.scale > 0 && Number.isFinite(sp.scale) ? sp.scale : 1;
  const width = roundEven(bg.width / scale), height = roundEven(bg.height / scale);
  if (width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > MAX_PIXELS) {
    throw usageError(
      `--canvas fg: keeping fg's resolution (scale ${
        scale.toPrecision(3)
      } in bg) needs a ${width}x${height} canvas, beyond the limit of ${MAX_DIMENSION} px a side ` +
        `and ${MAX_PIXELS / 2 ** 20} Mpx; use --canvas bg`,
    );
  }
  const scaleX = width / bg.width, scaleY = height / bg.height;
  return {
    kind,
    width,
    height,
    scaleX,
    scaleY,
    fg: {
      x: Math.round(sp.x * scaleX),
      y: Math.round(sp.y * scaleY),
      width: fg.width,
      height: fg.height,
    },
  };
}

/** Runs the composite and returns what it did. The output appears only on success. */
export async function composite(opts: CompositeOptions): Promise<CompositeResult> {
  const t0 = performance.now();
  const { bg, fg, alignment, tools } = opts;
  const progress = opts.progress ?? silentProgress;
  const map = alignment.temporal.map;
  const held = alignment.temporal.held;
  const canvas = planCanvas(opts.canvas ?? "bg", bg, fg, alignment.spatial);
  const place = canvas.fg;
  // with --trim the output covers only the fg frames that have bg content
  let first = 0, last = fg.frameCount - 1;
  if (opts.trim && held) {
    while (first <= last && held[first]) first++;
    while (last >= first && held[last]) last--;
    if (first > last) {
      throw new VidkompyError("--trim leaves no frames: no fg frame overlaps bg in time", 3);
    }
  }
  const outFrames = last - first + 1;
  const firstTime = fg.frameTimes[first] - fg.frameTimes[0];
  const audio = chooseAudio(opts.audio ?? "auto", fg, bg, alignment.temporal.offset, firstTime);
  const fgDuration = fg.frameTimes[last] - fg.frameTimes[first] + 1 / (fg.fps || 25);
  const out = new AtomicOutput(opts.output);
  let bgReader: FrameReader | null = null;
  let fgReader: FrameReader | null = null;
  let encoder: FrameEncoder | null = null;
  let written = 0;
  let heldFrames = 0;
  try {
    bgReader = FrameReader.open({
      ffmpeg: tools.ffmpeg,
      info: bg,
      format: "yuv420p",
      width: canvas.width,
      height: canvas.height,
      crop: canvas.bgCrop,
    }, "bg");
    fgReader = FrameReader.open({
      ffmpeg: tools.ffmpeg,
      info: fg,
      format: "yuv420p",
      width: place.width,
      height: place.height,
      select: first > 0 || last < fg.frameCount - 1
        ? Array.from({ length: outFrames }, (_, k) => first + k)
        : undefined,
      // with a select, stop after the last wanted frame instead of decoding the rest of fg
      frames: first > 0 || last < fg.frameCount - 1 ? outFrames : undefined,
    }, "fg");
    encoder = await FrameEncoder.open({
      ffmpeg: tools.ffmpeg,
      output: out.temp,
      width: canvas.width,
      height: canvas.height,
      cfrRate: fg.vfr ? null : fg.fpsRational,
      videoStart: fg.videoStart - fg.startTime,
      duration: fg.videoStart - fg.startTime + fgDuration,
      codec: opts.codec,
      crf: opts.crf,
      preset: opts.preset,
      audio: audio.source,
    });
    const mask = featherMask(
      place.width,
      place.height,
      place.x,
      place.y,
      canvas.width,
      canvas.height,
      opts.feather ?? 0,
    );
    progress.start("compositing", outFrames);
    let bgFrame: Uint8Array | null = await bgReader.read();
    if (!bgFrame) {
      throw new VidkompyError(`bg '${bg.path}' gave no frames when decoded; check the file`);
    }
    let bgIndex = 0;
    let bgEnded = false;
    let bgMissing = 0;
    const t0Fg = fg.frameTimes[first];
    for (let i = first; i <= last; i++) {
      const fgFrame = await fgReader.read();
      if (!fgFrame) break;
      const target = map[Math.min(i, map.length - 1)];
      while (bgIndex < target && !bgEnded) {
        const next = await bgReader.read();
        if (!next) {
          bgEnded = true;
          break;
        }
        bgFrame = next;
        bgIndex++;
      }
      if (bgEnded && target - bgIndex > bgMissing) {
        bgMissing = target - bgIndex;
        if (bgMissing > decodeTolerance(bg.frameCount)) {
          throw shortfallError("bg", bg.path, bgIndex + 1, bg.frameCount, bgReader.lastMessage());
        }
      }
      if (held && held[i]) heldFrames++;
      pasteYuv420(
        { data: bgFrame, width: canvas.width, height: canvas.height },
        { data: fgFrame, width: place.width, height: place.height },
        place.x,
        place.y,
        mask,
      );
      const ti = i < fg.frameCount ? fg.frameTimes[i] - t0Fg : (i - first) / (fg.fps || 25);
      await encoder.write(bgFrame, ti);
      written++;
      progress.update(written);
    }
    if (written === 0) {
      throw new VidkompyError(`fg '${fg.path}' gave no frames when decoded; check the file`);
    }
    if (outFrames - written > decodeTolerance(outFrames)) {
      throw shortfallError("fg", fg.path, written, outFrames, fgReader.lastMessage());
    }
    await bgReader.close();
    await fgReader.close();
    await encoder.finish();
    progress.end();
    out.commit();
  } catch (e) {
    await encoder?.abort();
    await bgReader?.close();
    await fgReader?.close();
    out.discard();
    throw e;
  }
  return {
    output: opts.output,
    frames: written,
    width: canvas.width,
    height: canvas.height,
    audio: audio.label,
    seconds: (performance.now() - t0) / 1000,
    heldFrames,
    canvas,
  };
}
