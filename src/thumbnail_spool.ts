/**
 * Decoding a video's embedding thumbnails ahead of time into a temporary file, so that ffmpeg
 * keeps decoding while the JS thread is busy elsewhere (the spatial search); a pipe would stall
 * the decoder as soon as its buffer filled. The file holds 4 KiB per frame and is deleted when
 * read, discarded, or the run is interrupted.
 * @module
 */
import { type CropRect, decodeArgs } from "./decode.ts";
import { EMBED_H, EMBED_W } from "./embed.ts";
import type { ThumbnailSource } from "./embed_video.ts";
import { VidkompyError } from "./errors.ts";
import type { VideoInfo } from "./probe.ts";
import {
  lastRelevantLine,
  registerTempFile,
  type Spawned,
  spawnTool,
  unregisterTempFile,
} from "./process.ts";

/** A background decode of every frame's 64×64 gray thumbnail into a temporary file. */
export class ThumbnailSpool {
  /** The region of the display picture being thumbnailed. */
  readonly crop: CropRect;
  #proc: Spawned;
  #file: string;
  #info: VideoInfo;
  #role: string;
  #done = false;

  private constructor(proc: Spawned, file: string, info: VideoInfo, crop: CropRect, role: string) {
    this.#proc = proc;
    this.#file = file;
    this.#info = info;
    this.crop = crop;
    this.#role = role;
  }

  /** Starts decoding `crop` of `info` in the background. */
  static start(info: VideoInfo, ffmpeg: string, crop: CropRect, role = "input"): ThumbnailSpool {
    const file = Deno.makeTempFileSync({ prefix: "vidkompy-thumbs-", suffix: ".gray" });
    registerTempFile(file);
    try {
      const args = decodeArgs({
        ffmpeg,
        info,
        format: "gray",
        width: EMBED_W,
        height: EMBED_H,
        crop,
        scaler: "area",
      }, "file:" + file);
      const proc = spawnTool(ffmpeg, ["-y", ...args]);
      return new ThumbnailSpool(proc, file, info, crop, role);
    } catch (e) {
      ThumbnailSpool.#remove(file);
      throw e;
    }
  }

  /** True when this spool thumbnails exactly `crop`. */
  matches(crop: CropRect): boolean {
    const c = this.crop;
    return c.x === crop.x && c.y === crop.y && c.width === crop.width &&
      c.height === crop.height;
  }

  /**
   * Waits for the decoder, then returns a source reading the thumbnails back (the file is
   * deleted when the source is closed). Throws like a failed decode.
   */
  async frames(): Promise<ThumbnailSource> {
    this.#done = true;
    const st = await this.#proc.status;
    const tail = this.#proc.stderrTail();
    if (!st.success) {
      ThumbnailSpool.#remove(this.#file);
      const why = st.signal
        ? `killed by ${st.signal}`
        : lastRelevantLine(tail) || `ffmpeg exit code ${st.code}`;
      throw new VidkompyError(
        `decoding ${this.#role} '${this.#info.path}' failed (${why}); check that the file plays`,
        1,
        { detail: tail.join("\n") },
      );
    }
    const file = this.#file;
    const fh = await Deno.open(file, { read: true });
    const size = EMBED_W * EMBED_H;
    const buf = new Uint8Array(size);
    let open = true;
    return {
      read: async () => {
        if (!open) return null;
        let filled = 0;
        while (filled < size) {
          const n = await fh.read(buf.subarray(filled));
          if (n === null) break;
          filled += n;
        }
        return filled === size ? buf : null;
      },
      close: () => {
        if (open) {
          open = false;
          fh.close();
          ThumbnailSpool.#remove(file);
        }
        return Promise.resolve();
      },
    };
  }

  /** Stops the decoder (if running) and deletes the file. */
  async discard(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#proc.kill("SIGKILL");
    await this.#proc.status;
    ThumbnailSpool.#remove(this.#file);
  }

  static #remove(file: string): void {
    try {
      Deno.removeSync(file);
    } catch {
      // already gone
    }
    unregisterTempFile(file);
  }
}
