/**
 * Streaming a video through the frame embedding: ffmpeg crops and scales every frame to a
 * small gray thumbnail, the CNN turns each into a compact Int8 vector.
 * @module
 */
import { type CropRect, FrameReader } from "./decode.ts";
import type { BatchEmbedder } from "./backend.ts";
import { EMBED_H, EMBED_W } from "./embed.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import { type Rect, resampleRect } from "./gray_image.ts";
import { applyOverlayMask } from "./overlay_mask.ts";
import type { VideoInfo } from "./probe.ts";

/** Options of {@link embedVideo}. */
export interface EmbedVideoOptions {
  /** ffmpeg executable. */
  ffmpeg: string;
  /** Region of the display picture to embed. */
  crop: CropRect;
  /**
   * Keep only a ring this many thumbnail pixels wide along the edges (--match border);
   * the inside is set to a flat grey. 0 = whole region.
   */
  ring?: number;
  /**
   * Thumbnail pixels to leave out (1 = left out; {@link EMBED_W}×{@link EMBED_H}): an overlay
   * that fg shows and bg lacks, filled with each thumbnail's mean elsewhere (see
   * src/overlay_mask.ts). The same mask goes to both inputs.
   */
  mask?: Uint8Array;
  /** The embedding implementation (CPU, WebGPU or an ONNX model). */
  embedder: BatchEmbedder;
  /** Frames per embedding call (default 256). */
  batch?: number;
  /** Called with the number of frames embedded so far. */
  onFrame?: (n: number) => void;
}

/** Flattens everything but a `ring`-pixel border of a thumbnail (in place). */
export function keepRing(thumb: Uint8Array, w: number, h: number, ring: number): void {
  if (ring <= 0 || 2 * ring >= Math.min(w, h)) return;
  let sum = 0, n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (x < ring || x >= w - ring || y < ring || y >= h - ring) {
        sum += thumb[y * w + x];
        n++;
      }
    }
  }
  const mean = n ? Math.round(sum / n) : 128;
  for (let y = ring; y < h - ring; y++) thumb.fill(mean, y * w + ring, y * w + w - ring);
}

/** Anything that hands out raw 64×64 gray thumbnails one at a time (null at the end). */
export interface ThumbnailSource {
  /** The next thumbnail (valid until the next call), or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Releases the source. */
  close(): Promise<void>;
}

/**
 * Thumbnails made from a source of larger `width x height` pictures: the rectangle `rect`
 * (fractional pixels of those pictures) resampled to 64×64 (see {@link resampleRect}).
 */
export function resampledThumbnails(
  source: ThumbnailSource,
  width: number,
  height: number,
  rect: Rect,
): ThumbnailSource {
  const out = new Uint8Array(EMBED_W * EMBED_H);
  return {
    read: async () => {
      const f = await source.read();
      if (!f) return null;
      resampleRect({ width, height, data: f }, rect, EMBED_W, EMBED_H, out);
      return out;
    },
    close: () => source.close(),
  };
}

/** Options of {@link embedThumbnails}. */
export type EmbedThumbnailOptions = Omit<EmbedVideoOptions, "ffmpeg" | "crop">;

/** Embeds every thumbnail of `source` (closing it at the end); `capacity` is a size hint. */
export async function embedThumbnails(
  source: ThumbnailSource,
  capacity: number,
  opts: EmbedThumbnailOptions,
): Promise<EmbeddingStore> {
  const emb = opts.embedder;
  const store = new EmbeddingStore(capacity, emb.dim);
  const px = EMBED_W * EMBED_H;
  const batch = Math.max(1, opts.batch ?? 256);
  const thumbs = new Uint8Array(batch * px);
  const vecs = new Int8Array(batch * emb.dim);
  let n = 0;
  const flush = async () => {
    if (n === 0) return;
    await emb.embedBatch(thumbs, n, vecs);
    for (let k = 0; k < n; k++) store.push(vecs.subarray(k * emb.dim, (k + 1) * emb.dim));
    n = 0;
    opts.onFrame?.(store.count);
  };
  try {
    while (true) {
      const f = await source.read();
      if (!f) break;
      if (opts.ring) keepRing(f, EMBED_W, EMBED_H, opts.ring);
      thumbs.set(f, n * px);
      if (opts.mask) applyOverlayMask(thumbs.subarray(n * px, (n + 1) * px), opts.mask);
      n++;
      if (n === batch) await flush();
    }
    await flush();
  } finally {
    await source.close();
  }
  return store;
}

/** Embeds every frame of `info` (inside `crop`); returns the store (one vector per frame). */
export function embedVideo(
  info: VideoInfo,
  opts: EmbedVideoOptions,
  role = "input",
): Promise<EmbeddingStore> {
  const reader = FrameReader.open({
    ffmpeg: opts.ffmpeg,
    info,
    format: "gray",
    width: EMBED_W,
    height: EMBED_H,
    crop: opts.crop,
    scaler: "area",
  }, role);
  return embedThumbnails(reader, info.frameCount, opts);
}
