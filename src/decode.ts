/**
 * Streaming decode: ffmpeg turns a video into raw frames (yuv420p or gray) at a requested
 * crop and size, written to a pipe and read here one frame at a time into a reused buffer.
 * @module
 */
import { VidkompyError } from "./errors.ts";
import { frameBytes, type RawPixelFormat } from "./frame_format.ts";
import type { VideoInfo } from "./probe.ts";
import { lastRelevantLine, type Spawned, spawnTool } from "./process.ts";

/** A crop rectangle in the video's display coordinates. */
export interface CropRect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** What to decode. */
export interface DecodeOptions {
  /** ffmpeg executable. */
  ffmpeg: string;
  /** The probed input. */
  info: VideoInfo;
  /** Raw output format. */
  format: RawPixelFormat;
  /** Output width. */
  width: number;
  /** Output height. */
  height: number;
  /** Region of the display picture to keep before scaling (may extend past the edges). */
  crop?: CropRect;
  /** Scaler used by ffmpeg (default "bicubic"; "area" for thumbnails). */
  scaler?: string;
  /** Only these frame indices (ascending) are output, in order. */
  select?: number[];
  /** Decoder threads (default: ffmpeg's choice). */
  threads?: number;
  /**
   * Start decoding here (seconds after the file's start, ffmpeg's input `-ss`, frame-exact):
   * frames before it are skipped and `select` indices count from the first frame after it.
   */
  seek?: number;
  /**
   * Stop after this many output frames. Needed with `select`: ffmpeg otherwise keeps the last
   * selected frame's tail in its output buffer until it has decoded the rest of the file.
   */
  frames?: number;
}

/** Builds the ffmpeg filter chain for {@link DecodeOptions} (exported for tests and benches). */
export function decodeFilter(opts: Omit<DecodeOptions, "ffmpeg">): string {
  const { info } = opts;
  const filters: string[] = [];
  if (opts.select && opts.select.length > 0) {
    // select by decoded frame number; the expression stays short by using ranges.
    filters.push(`select='${selectExpr(opts.select)}'`);
  }
  const scaler = opts.scaler ?? "bicubic";
  if (Math.abs(info.sar - 1) > 1e-3) {
    filters.push(`scale=${info.width}:${info.height}:flags=${scaler}`, "setsar=1");
  }
  const crop = opts.crop;
  if (crop) {
    const inside = crop.x >= 0 && crop.y >= 0 && crop.x + crop.width <= info.width &&
      crop.y + crop.height <= info.height;
    if (!inside) {
      // pad so the crop rectangle exists, then crop (areas outside the picture are black).
      const left = Math.max(0, -crop.x);
      const top = Math.max(0, -crop.y);
      const pw = Math.max(info.width + left, crop.x + left + crop.width);
      const ph = Math.max(info.height + top, crop.y + top + crop.height);
      filters.push(`pad=${pw}:${ph}:${left}:${top}`);
      filters.push(`crop=${crop.width}:${crop.height}:${crop.x + left}:${crop.y + top}`);
    } else if (
      crop.x !== 0 || crop.y !== 0 || crop.width !== info.width || crop.height !== info.height
    ) {
      filters.push(`crop=${crop.width}:${crop.height}:${crop.x}:${crop.y}`);
    }
  }
  const srcW = crop ? crop.width : info.width;
  const srcH = crop ? crop.height : info.height;
  if (srcW !== opts.width || srcH !== opts.height) {
    filters.push(`scale=${opts.width}:${opts.height}:flags=${scaler}`);
  }
  filters.push(`format=${opts.format}`);
  return filters.join(",");
}

/**
 * ffmpeg's expression parser fails on long flat sums (somewhere past 100 terms): group terms
 * in parenthesised sums of at most this many, recursively.
 */
const SELECT_GROUP = 50;

function groupSum(terms: string[]): string {
  if (terms.length <= SELECT_GROUP) return terms.join("+");
  const groups: string[] = [];
  for (let k = 0; k < terms.length; k += SELECT_GROUP) {
    groups.push(`(${terms.slice(k, k + SELECT_GROUP).join("+")})`);
  }
  return groupSum(groups);
}

function selectExpr(indices: number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indices.length) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    parts.push(i === j ? `eq(n\\,${indices[i]})` : `between(n\\,${indices[i]}\\,${indices[j]})`);
    i = j + 1;
  }
  return groupSum(parts);
}

/** ffmpeg arguments that decode `opts` as raw frames into `target` (a pipe or a file). */
export function decodeArgs(opts: DecodeOptions, target: string): string[] {
  const args = ["-hide_banner", "-nostdin", "-v", "error"];
  if (opts.threads) args.push("-threads", String(opts.threads));
  if (opts.seek !== undefined && opts.seek > 0) args.push("-ss", opts.seek.toFixed(6));
  args.push(
    "-i",
    "file:" + opts.info.path,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    "-vf",
    decodeFilter(opts),
    ...(opts.frames ? ["-frames:v", String(opts.frames)] : []),
    "-fps_mode",
    "passthrough",
    "-f",
    "rawvideo",
    "-pix_fmt",
    opts.format,
    target,
  );
  return args;
}

/**
 * Reads raw frames from an ffmpeg child. `read()` resolves to a buffer that stays valid
 * until the next `read()`, or to null at the end of the stream.
 */
export class FrameReader {
  /** Bytes per frame. */
  readonly frameSize: number;
  /** Output width. */
  readonly width: number;
  /** Output height. */
  readonly height: number;
  /** Frames returned so far. */
  framesRead = 0;
  #proc: Spawned;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array;
  #pending: Uint8Array | null = null;
  #ended = false;
  #role: string;
  #path: string;

  private constructor(proc: Spawned, opts: DecodeOptions, role: string) {
    this.width = opts.width;
    this.height = opts.height;
    this.frameSize = frameBytes(opts.format, opts.width, opts.height);
    this.#proc = proc;
    this.#reader = proc.child.stdout.getReader();
    this.#buf = new Uint8Array(this.frameSize);
    this.#role = role;
    this.#path = opts.info.path;
  }

  /** Starts ffmpeg for `opts`; `role` ("bg", "fg") names the input in error messages. */
  static open(opts: DecodeOptions, role = "input"): FrameReader {
    const args = decodeArgs(opts, "pipe:1");
    const proc = spawnTool(opts.ffmpeg, args, { stdout: "piped" });
    return new FrameReader(proc, opts, role);
  }

  /** Reads the next frame, or null at the end. Throws if ffmpeg failed before any frame. */
  async read(): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    const buf = this.#buf;
    let filled = 0;
    while (filled < this.frameSize) {
      let chunk = this.#pending;
      this.#pending = null;
      if (!chunk) {
        const r = await this.#reader.read();
        if (r.done) break;
        chunk = r.value;
      }
      const need = this.frameSize - filled;
      if (chunk.length <= need) {
        buf.set(chunk, filled);
        filled += chunk.length;
      } else {
        buf.set(chunk.subarray(0, need), filled);
        filled += need;
        this.#pending = chunk.subarray(need);
      }
    }
    if (filled < this.frameSize) {
      this.#ended = true;
      const st = await this.#proc.status;
      const tail = this.#proc.stderrTail();
      if (st.signal) {
        throw new VidkompyError(
          `the ffmpeg decoder for ${this.#role} was killed (${st.signal}) before it finished; run again`,
          1,
          { detail: tail.join("\n") },
        );
      }
      if (!st.success) {
        const why = lastRelevantLine(tail) || `ffmpeg exit code ${st.code}`;
        throw new VidkompyError(
          `decoding ${this.#role} '${this.#path}' failed (${why}); check that the file plays`,
          1,
          { detail: tail.join("\n") },
        );
      }
      return null;
    }
    this.framesRead++;
    return buf;
  }

  /** ffmpeg's most telling stderr line so far ("" when it said nothing). */
  lastMessage(): string {
    return lastRelevantLine(this.#proc.stderrTail());
  }

  /** Stops ffmpeg (if still running) and releases the pipe. */
  async close(): Promise<void> {
    this.#ended = true;
    this.#proc.kill("SIGKILL");
    try {
      await this.#reader.cancel();
    } catch {
      // already closed
    }
    await this.#proc.status;
  }
}
