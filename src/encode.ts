/**
 * Streaming encode: composited yuv420p frames go to ffmpeg's stdin inside a minimal Matroska
 * stream that carries each frame's timestamp; the same ffmpeg process muxes the audio.
 * @module
 */
import * as path from "node:path";
import { ExitCode, VidkompyError } from "./errors.ts";
import { frameBytes } from "./frame_format.ts";
import { mkvFramePrefix, mkvHeader } from "./mkv_writer.ts";
import { lastRelevantLine, runTool, type Spawned, spawnTool } from "./process.ts";

/** Audio to mux into the output. */
export interface AudioSource {
  /** File to take the first audio stream from. */
  path: string;
  /**
   * Output time u plays this file's audio at time u + shift (seconds, relative to the file's
   * start as ffmpeg normalises it). Positive: skip into the file; negative: delay it.
   */
  shift: number;
}

/** Encoder settings. */
export interface EncodeOptions {
  /** ffmpeg executable. */
  ffmpeg: string;
  /** Output file (normally a temporary path beside the target). */
  output: string;
  /** Frame width. */
  width: number;
  /** Frame height. */
  height: number;
  /**
   * Constant frame rate as a rational ("30000/1001"): frames are stamped at this rate.
   * Null for variable frame rate: the timestamps given to write() are kept.
   */
  cfrRate: string | null;
  /** Seconds from the output's zero to its first frame (keeps fg's audio/video offset). */
  videoStart: number;
  /** Total output duration in seconds (audio is cut there). */
  duration: number;
  /** Video codec (default libx264). */
  codec?: string;
  /** Constant rate factor (default 18). */
  crf?: number;
  /** Encoder preset (default "medium"). */
  preset?: string;
  /** Audio source or null for none. */
  audio: AudioSource | null;
  /** Encoder threads (default ffmpeg's choice). */
  threads?: number;
}

function codecArgs(opts: { codec?: string; crf?: number; preset?: string }): string[] {
  const codec = opts.codec ?? "libx264";
  const args = ["-c:v", codec];
  if (codec === "libx264" || codec === "libx265") {
    args.push("-crf", String(opts.crf ?? 18), "-preset", opts.preset ?? "medium");
  } else if (opts.crf !== undefined) {
    args.push("-crf", String(opts.crf));
  }
  return args;
}

/** Builds the ffmpeg argument list for {@link EncodeOptions} (exported for tests). */
export function encodeArgs(opts: EncodeOptions): string[] {
  const args = ["-hide_banner", "-nostdin", "-v", "error", "-y"];
  if (opts.cfrRate) args.push("-r", opts.cfrRate);
  if (opts.videoStart > 1e-6) args.push("-itsoffset", opts.videoStart.toFixed(6));
  args.push("-f", "matroska", "-i", "pipe:0");
  const audio = opts.audio;
  if (audio) {
    if (audio.shift > 1e-6) args.push("-ss", audio.shift.toFixed(6));
    else if (audio.shift < -1e-6) args.push("-itsoffset", (-audio.shift).toFixed(6));
    args.push("-t", Math.max(0.001, opts.duration).toFixed(6));
    args.push("-i", "file:" + audio.path);
  }
  args.push("-map", "0:v:0");
  if (audio) args.push("-map", "1:a:0?");
  args.push(...codecArgs(opts));
  if (opts.threads) args.push("-threads", String(opts.threads));
  args.push("-pix_fmt", "yuv420p");
  args.push("-fps_mode", opts.cfrRate ? "cfr" : "passthrough");
  if (audio) args.push("-c:a", "aac", "-b:a", "192k");
  if (/\.(mp4|m4v|mov)$/i.test(opts.output)) args.push("-movflags", "+faststart");
  args.push("file:" + opts.output);
  return args;
}

/** ffmpeg messages that mean the output file is incomplete, even with exit status 0. */
const WRITE_ERROR =
  /Error writing trailer|Error closing file|No space left on device|Disk quota exceeded|File too large|Input\/output error/i;

/** The encoder settings {@link checkEncoder} tries. */
export interface EncoderCheck {
  /** ffmpeg executable. */
  ffmpeg: string;
  /** Video codec (default libx264). */
  codec?: string;
  /** Constant rate factor. */
  crf?: number;
  /** Encoder preset. */
  preset?: string;
  /** Frame width (even). */
  width: number;
  /** Frame height (even). */
  height: number;
}

/**
 * Encodes one black frame with the requested codec, CRF and preset to nowhere, so an unknown
 * `--codec` or a preset the encoder refuses is reported (as a usage error) before any long
 * analysis starts.
 */
export async function checkEncoder(opts: EncoderCheck): Promise<void> {
  const args = [
    "-hide_banner",
    "-nostdin",
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `color=c=black:s=${opts.width}x${opts.height}:r=25:d=0.04`,
    "-frames:v",
    "1",
    ...codecArgs(opts),
    "-pix_fmt",
    "yuv420p",
    "-f",
    "null",
    "-",
  ];
  const res = await runTool(opts.ffmpeg, args);
  if (res.code === 0) return;
  const why = lastRelevantLine(res.stderr) || `ffmpeg exit code ${res.code}`;
  const codec = opts.codec ?? "libx264";
  if (/Unknown encoder/i.test(why)) {
    throw new VidkompyError(
      `--codec '${codec}' is not an encoder this ffmpeg has (${why}); run 'ffmpeg -encoders' to list them`,
      ExitCode.Usage,
      { detail: res.stderr.join("\n") },
    );
  }
  throw new VidkompyError(
    `encoder ${codec} refused the settings (--preset ${opts.preset ?? "medium"}, --crf ${
      opts.crf ?? 18
    }: ${why}); fix --codec/--preset/--crf`,
    ExitCode.Usage,
    { detail: res.stderr.join("\n") },
  );
}

/** Writes frames to an ffmpeg encoder process. */
export class FrameEncoder {
  readonly #proc: Spawned;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #frameSize: number;
  readonly #output: string;
  #framesWritten = 0;
  #failed = false;

  private constructor(proc: Spawned, opts: EncodeOptions) {
    this.#proc = proc;
    this.#writer = proc.child.stdin.getWriter();
    this.#frameSize = frameBytes("yuv420p", opts.width, opts.height);
    this.#output = opts.output;
  }

  /** Starts the encoder and writes the stream header. */
  static async open(opts: EncodeOptions): Promise<FrameEncoder> {
    const proc = spawnTool(opts.ffmpeg, encodeArgs(opts), { stdin: "piped" });
    const enc = new FrameEncoder(proc, opts);
    await enc.#write(mkvHeader(opts.width, opts.height));
    return enc;
  }

  /** Frames written so far. */
  get framesWritten(): number {
    return this.#framesWritten;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    try {
      await this.#writer.write(bytes);
    } catch (e) {
      this.#failed = true;
      await this.#fail(e);
    }
  }

  async #fail(cause: unknown): Promise<never> {
    const st = await this.#proc.status;
    const tail = this.#proc.stderrTail();
    const why = lastRelevantLine(tail);
    const detail = { detail: tail.join("\n"), cause };
    const dir = path.dirname(this.#output);
    if (/No space left|Disk quota|File too large/i.test(why)) {
      throw new VidkompyError(
        `writing the output failed (${why}); free space in '${dir}' or choose another -o`,
        1,
        detail,
      );
    }
    if (st.signal === "SIGXFSZ") {
      throw new VidkompyError(
        `writing the output failed (file size limit exceeded); raise 'ulimit -f' or choose another -o`,
        1,
        detail,
      );
    }
    if (st.signal && !why) {
      throw new VidkompyError(
        `the ffmpeg encoder was killed (${st.signal}) before it finished; run again`,
        1,
        detail,
      );
    }
    throw new VidkompyError(
      `encoding failed (${why || `ffmpeg exit code ${st.code}`}); check free space in '${dir}' ` +
        `and --codec/--preset/--crf`,
      1,
      detail,
    );
  }

  /** Writes one yuv420p frame shown at `timeSeconds` (relative to the first frame). */
  async write(frame: Uint8Array, timeSeconds: number): Promise<void> {
    if (frame.length !== this.#frameSize) {
      throw new Error(`frame has ${frame.length} bytes, expected ${this.#frameSize}`);
    }
    await this.#write(mkvFramePrefix(timeSeconds * 1e6, this.#frameSize));
    await this.#write(frame);
    this.#framesWritten++;
  }

  /** Closes stdin and waits for ffmpeg to finish the file; throws if it failed. */
  async finish(): Promise<void> {
    try {
      await this.#writer.close();
    } catch (e) {
      await this.#fail(e);
    }
    const st = await this.#proc.status;
    if (!st.success) await this.#fail(null);
    // ffmpeg (5.x) exits 0 even when it could not write the trailer or close the file (disk
    // full): the output would be silently truncated.
    if (this.#proc.stderrTail().some((l) => WRITE_ERROR.test(l))) await this.#fail(null);
  }

  /** Kills the encoder (used when the run fails or is interrupted). */
  async abort(): Promise<void> {
    this.#proc.kill("SIGKILL");
    try {
      await this.#writer.abort();
    } catch {
      // already closed
    }
    await this.#proc.status;
  }

  /** True once a write failed. */
  get failed(): boolean {
    return this.#failed;
  }
}
