/**
 * Decoding every frame of a video ahead of time into a temporary file of small gray pictures, so
 * that ffmpeg keeps decoding while the JS thread is busy elsewhere (the spatial search; a pipe
 * would stall the decoder as soon as its buffer filled), and so that one decode can serve several
 * stages (bg's coarse samples and its embedding thumbnails). By default the pictures are the
 * 64×64 embedding thumbnails (4 KiB per frame). The file is deleted when read, discarded, or the
 * run is interrupted.
 * @module
 */
import { type CropRect, decodeArgs } from "./decode.ts";
import { EMBED_H, EMBED_W } from "./embed.ts";
import type { ThumbnailSource } from "./embed_video.ts";
import { VidkompyError } from "./errors.ts";
import type { GrayImage } from "./gray_image.ts";
import type { VideoInfo } from "./probe.ts";
import {
  lastRelevantLine,
  registerTempFile,
  type Spawned,
  spawnTool,
  unregisterTempFile,
} from "./process.ts";

/** A background decode of every frame (a region, resized) into a temporary file. */
export class ThumbnailSpool {
  /** The region of the display picture being spooled (undefined: the whole picture). */
  readonly crop: CropRect | undefined;
  /** Width of the spooled pictures. */
  readonly width: number;
  /** Height of the spooled pictures. */
  readonly height: number;
  #proc: Spawned;
  #file: string;
  #info: VideoInfo;
  #role: string;
  #done = false;
  #finished: Promise<void> | null = null;

  private constructor(
    proc: Spawned,
    file: string,
    info: VideoInfo,
    crop: CropRect | undefined,
    size: { width: number; height: number },
    role: string,
  ) {
    this.#proc = proc;
    this.#file = file;
    this.#info = info;
    this.crop = crop;
    this.width = size.width;
    this.height = size.height;
    this.#role = role;
  }

  /**
   * Starts decoding `crop` of `info` (undefined: the whole picture) in the background, resized
   * (area averaging) to `size` (default: the 64×64 embedding thumbnail). `threads` limits the
   * decoder's threads (default: ffmpeg's choice, all cores).
   */
  static start(
    info: VideoInfo,
    ffmpeg: string,
    crop: CropRect | undefined,
    role = "input",
    size: { width: number; height: number } = { width: EMBED_W, height: EMBED_H },
    threads?: number,
  ): ThumbnailSpool {
    const file = Deno.makeTempFileSync({ prefix: "vidkompy-thumbs-", suffix: ".gray" });
    registerTempFile(file);
    try {
      const args = decodeArgs({
        ffmpeg,
        info,
        format: "gray",
        width: size.width,
        height: size.height,
        crop,
        scaler: "area",
        threads,
      }, "file:" + file);
      const proc = spawnTool(ffmpeg, ["-y", ...args]);
      return new ThumbnailSpool(proc, file, info, crop, size, role);
    } catch (e) {
      ThumbnailSpool.#remove(file);
      throw e;
    }
  }

  /** True when this spool holds 64×64 thumbnails of exactly `crop`. */
  matches(crop: CropRect): boolean {
    const c = this.crop;
    return c !== undefined && this.width === EMBED_W && this.height === EMBED_H &&
      c.x === crop.x && c.y === crop.y && c.width === crop.width && c.height === crop.height;
  }

  /** Waits for the decoder to finish; throws like a failed decode (and deletes the file). */
  #wait(): Promise<void> {
    return this.#finished ??= (async () => {
      const st = await this.#proc.status;
      if (st.success) return;
      const tail = this.#proc.stderrTail();
      ThumbnailSpool.#remove(this.#file);
      const why = st.signal
        ? `killed by ${st.signal}`
        : lastRelevantLine(tail) || `ffmpeg exit code ${st.code}`;
      throw new VidkompyError(
        `decoding ${this.#role} '${this.#info.path}' failed (${why}); check that the file plays`,
        1,
        { detail: tail.join("\n") },
      );
    })();
  }

  /**
   * Waits for the decoder, then reads the pictures of frames `indices` (any order; a frame past
   * the end of what was decoded gives the last one). Returns [] when nothing was decoded.
   */
  async grab(indices: number[]): Promise<GrayImage[]> {
    await this.#wait();
    const size = this.width * this.height;
    const fh = await Deno.open(this.#file, { read: true });
    try {
      const count = Math.floor((await fh.stat()).size / size);
      if (count === 0) return [];
      const out: GrayImage[] = [];
      const byFrame = new Map<number, GrayImage>();
      for (const i of indices) {
        const k = Math.max(0, Math.min(count - 1, i));
        let img = byFrame.get(k);
        if (!img) {
          const data = new Uint8Array(size);
          await fh.seek(k * size, Deno.SeekMode.Start);
          let filled = 0;
          while (filled < size) {
            const n = await fh.read(data.subarray(filled));
            if (n === null) break;
            filled += n;
          }
          img = { width: this.width, height: this.height, data };
          byFrame.set(k, img);
        }
        out.push(img);
      }
      return out;
    } finally {
      fh.close();
    }
  }

  /**
   * Waits for the decoder, then calls `fn` with every picture in order (frame index, pixels valid
   * only during the call), reading the file `chunkBytes` at a time (whole pictures, at least
   * one); the file stays for later reads. Returns the number of pictures. Throws like a failed
   * decode.
   */
  async forEach(
    fn: (index: number, picture: Uint8Array) => void,
    chunkBytes = 4 << 20,
  ): Promise<number> {
    await this.#wait();
    const size = this.width * this.height;
    const per = Math.max(1, Math.floor(chunkBytes / size));
    const buf = new Uint8Array(per * size);
    const fh = await Deno.open(this.#file, { read: true });
    let index = 0;
    try {
      for (;;) {
        let filled = 0;
        while (filled < buf.length) {
          const n = await fh.read(buf.subarray(filled));
          if (n === null) break;
          filled += n;
        }
        const whole = Math.floor(filled / size);
        for (let q = 0; q < whole; q++) fn(index++, buf.subarray(q * size, (q + 1) * size));
        if (filled < buf.length) break;
      }
    } finally {
      fh.close();
    }
    return index;
  }

  /**
   * Waits for the decoder, then returns a source reading the pictures back in order (the file
   * is deleted when the source is closed). Throws like a failed decode.
   */
  async frames(): Promise<ThumbnailSource> {
    this.#done = true;
    await this.#wait();
    const file = this.#file;
    const fh = await Deno.open(file, { read: true });
    const size = this.width * this.height;
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
