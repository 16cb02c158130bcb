/**
 * Automatic alignment: finds where fg lies in bg (spatial search over sampled frames), maps
 * every fg frame to its bg frame (embeddings + banded DTW), re-verifies the placement on the
 * time-matched pairs, and refuses unrelated inputs.
 * @module
 */
import {
  type Alignment,
  offsetTemporal,
  type SpatialAlignment,
  summarize,
  type TemporalAlignment,
} from "./alignment.ts";
import {
  type Backend,
  type BatchEmbedder,
  createBandDistance,
  createCorrelator,
  createEmbedder,
} from "./backend.ts";
import type { BandDistance } from "./dtw.ts";
import { neighbourIndexFor } from "./hnsw_index.ts";
import type { NccCorrelator } from "./ncc.ts";
import { embedThumbnails, embedVideo, resampledThumbnails } from "./embed_video.ts";
import { ThumbnailSpool } from "./thumbnail_spool.ts";
import type { EmbeddingStore } from "./embedding_store.ts";
import { ExitCode, VidkompyError } from "./errors.ts";
import { grabGrayFrames, nearKeyframes, planGrab, spreadIndices } from "./frame_grab.ts";
import {
  createGray,
  type GrayImage,
  type Rect,
  resampleRect,
  resizeGray,
  resizeGrayInto,
} from "./gray_image.ts";
import { maskPicture, maskShare, overlayMask } from "./overlay_mask.ts";
import { detectContentRect } from "./letterbox.ts";
import type { VideoInfo } from "./probe.ts";
import { type ProgressSink, silentProgress } from "./progress.ts";
import {
  contentDetail,
  contentStd,
  FLAT_CONTENT_STD,
  refineAcrossFrames,
  refineAspect,
  refineSpatial,
  searchSpatialAsync,
  type SpatialCandidate,
  type SpatialResult,
  type SpatialSearchOptions,
} from "./spatial_search.ts";
import { alignTemporalAsync } from "./temporal.ts";
import { consistentMoments, scanTemplates, scoreFrame } from "./time_scan.ts";
import type { Tools } from "./tools.ts";
import { EMBED_H, EMBED_W } from "./embed.ts";

/**
 * Below this full-resolution NCC the placement found from the coarse pass's moments is checked
 * against a scan of every bg frame at each candidate placement (see time_scan.ts).
 */
const TIME_SCAN_BELOW = 0.9;

/**
 * Frames on each side of a window search's best reduced-size frame that may be refined at full
 * resolution (the search steps to a neighbour while its full-resolution score improves).
 */
const WINDOW_STEPS = 3;

/**
 * Default budget (bytes) of the temporary file of bg's reduced gray pictures: 320 px wide, it
 * holds ~5 minutes of 16:9 video at 30 fps (a 3-minute 1080p bg sampled by seeking decoded most
 * of its frames anyway, then once more for the time scan).
 */
export const SPOOL_BYTES = 512e6;

/**
 * Below this full-resolution NCC a window search's best match is searched again at precision 3
 * (a test pattern's vertical bars: 0.913 at a placement 89 px off, then 0.997 at the truth).
 */
const WINDOW_RETRY_BELOW = 0.95;

/** Width (px) of the bg pictures the time scan compares (bg's own when narrower). */
const SCAN_WIDTH = 128;
/** Narrowest bg pictures the time scan decodes to keep its temporary file within budget. */
const MIN_SCAN_WIDTH = 80;

/** Below this spatial NCC (of a searched placement) the inputs are taken as unrelated, unless
 * the temporal confidence reaches {@link SPATIAL_RESCUE_TEMPORAL}. */
export const MIN_SPATIAL_CONFIDENCE = 0.4;
/** Below this temporal confidence the inputs are taken as unrelated. */
export const MIN_TEMPORAL_CONFIDENCE = 0.5;
/**
 * A searched placement below {@link MIN_SPATIAL_CONFIDENCE} is refused unless the temporal
 * confidence reaches this.
 */
export const SPATIAL_RESCUE_TEMPORAL = 0.9;

/**
 * Why an alignment is refused as "no alignment found" (exit 3), or null when it is accepted:
 * a temporal confidence below {@link MIN_TEMPORAL_CONFIDENCE}, or a searched placement (not one
 * the user gave) below {@link MIN_SPATIAL_CONFIDENCE} whose frame map is not clearly right
 * either (temporal below {@link SPATIAL_RESCUE_TEMPORAL}). No legitimate pair of the tests or
 * benches scores below 0.8 in space. Unknown confidences (null) do not refuse.
 */
export function noAlignmentReason(
  spatial: number | null | undefined,
  temporal: number | null | undefined,
  spatialSearched: boolean,
): string | null {
  if (temporal !== null && temporal !== undefined && temporal < MIN_TEMPORAL_CONFIDENCE) {
    return `fg and bg do not show the same footage (best temporal match ${fmt(temporal)} < ` +
      `${MIN_TEMPORAL_CONFIDENCE}, spatial ${fmt(spatial)}); check the inputs, or pass --force`;
  }
  if (
    spatialSearched && spatial !== null && spatial !== undefined &&
    spatial < MIN_SPATIAL_CONFIDENCE && (temporal ?? 0) < SPATIAL_RESCUE_TEMPORAL
  ) {
    return `fg was not found inside bg (best spatial match ${fmt(spatial)} < ` +
      `${MIN_SPATIAL_CONFIDENCE}, temporal ${fmt(temporal)}): the inputs may show different ` +
      "footage, or fg is stretched differently in x and y (only one scale is searched); check " +
      "the inputs, give --x/--y/--scale, or pass --force";
  }
  return null;
}

/** Below this, a searched placement's and the frame map's confidences are both "weak". */
export const WEAK_MATCH = 0.9;

/**
 * A one-line notice for an accepted alignment whose searched placement and frame map both
 * score below {@link WEAK_MATCH} (e.g. 0.80 / 0.80 where a test pattern's vertical bars let a
 * placement 89 px too high match at another moment; 0.85 / 0.73 against a bg compressed so hard
 * that its frames hardly differ), or null. Unknown confidences and given placements give none.
 */
export function weakMatchNotice(
  spatial: number | null | undefined,
  temporal: number | null | undefined,
  spatialSearched: boolean,
): string | null {
  if (!spatialSearched || spatial === null || spatial === undefined) return null;
  if (temporal === null || temporal === undefined) return null;
  if (spatial >= WEAK_MATCH || temporal >= WEAK_MATCH) return null;
  return `fg matches bg only weakly (spatial ${fmt(spatial)}, temporal ${fmt(temporal)}): the ` +
    "placement or timing may be wrong; check the result (align --preview shows fg's outline), " +
    "or give --x/--y/--scale";
}

/** Options of {@link autoAlign}. */
export interface AutoAlignOptions {
  /** ffmpeg/ffprobe. */
  tools: Tools;
  /** Background. */
  bg: VideoInfo;
  /** Foreground. */
  fg: VideoInfo;
  /** Given placement: skips the spatial search. */
  spatial?: SpatialAlignment;
  /** Fixed scale for the spatial search. */
  scale?: number;
  /** Given time offset: skips the temporal search. */
  timeOffset?: number;
  /** Compare fg's area ("fg") or only a ring along its edge ("border"). */
  match?: "fg" | "border";
  /** Ring width in bg pixels for match = "border". */
  margin?: number;
  /** Composite even when the match is poor. */
  force?: boolean;
  /** Search only 100 % scale. */
  unscaledOnly?: boolean;
  /** Progress sink. */
  progress?: ProgressSink;
  /** Embedding backend (default auto). */
  backend?: Backend;
  /** A user-supplied ONNX embedding network (64x64 gray in, one vector out). */
  model?: string;
  /** One-line notices the user should see (default: the progress log). */
  notice?: (message: string) => void;
  /**
   * Largest temporary file (bytes) of bg's reduced pictures decoded up front for short inputs
   * (default {@link SPOOL_BYTES}); longer inputs are sampled by seeking instead.
   */
  maxSpoolBytes?: number;
}

/** Result of {@link autoAlign}. */
export interface AutoAlignResult {
  /** The alignment. */
  alignment: Alignment;
  /** Seconds per stage. */
  stages: Record<string, number>;
  /** Backend per stage. */
  backend: Record<string, string>;
}

function toSpatial(
  c: SpatialCandidate,
  content: Rect | null,
  runnerUp: SpatialCandidate | null,
): SpatialAlignment {
  return {
    x: c.x,
    y: c.y,
    scale: c.scale,
    scaleX: c.scaleX,
    scaleY: c.scaleY,
    width: c.width,
    height: c.height,
    confidence: c.score,
    runnerUp: runnerUp
      ? { x: runnerUp.x, y: runnerUp.y, scale: runnerUp.scale, confidence: runnerUp.score }
      : null,
    content,
    method: "auto",
  };
}

/** An fg picture and the bg picture of the same moment, at full resolution. */
interface MatchedPair {
  fg: GrayImage;
  bg: GrayImage;
}

/**
 * The overlay mask ({@link overlayMask}) of a matched pair, on thumbnails of fg's content and
 * of its footprint in bg made as the embedding makes them; null when there is none.
 */
function overlayMaskOf(
  pair: MatchedPair,
  fp: { fg: Rect; bg: Rect },
): Uint8Array | null {
  const f = new Uint8Array(EMBED_W * EMBED_H), b = new Uint8Array(EMBED_W * EMBED_H);
  resampleRect(pair.fg, fp.fg, EMBED_W, EMBED_H, f);
  resampleRect(pair.bg, fp.bg, EMBED_W, EMBED_H, b);
  return overlayMask(f, b, EMBED_W, EMBED_H);
}

/** The part of bg under fg's content rectangle, clipped to bg. */
function footprintOfContent(sp: SpatialAlignment, content: Rect, bg: VideoInfo) {
  let x0 = Math.round(sp.x + content.x * sp.scaleX);
  let y0 = Math.round(sp.y + content.y * sp.scaleY);
  let x1 = Math.round(sp.x + (content.x + content.width) * sp.scaleX);
  let y1 = Math.round(sp.y + (content.y + content.height) * sp.scaleY);
  const inside = x0 >= 0 && y0 >= 0 && x1 <= bg.width && y1 <= bg.height;
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(bg.width, x1);
  y1 = Math.min(bg.height, y1);
  if (x1 - x0 < 2 || y1 - y0 < 2) return null;
  if (inside) return { bg: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, fg: { ...content } };
  // the matching part of fg, in fg pixels
  const fx0 = Math.round((x0 - sp.x) / sp.scaleX), fy0 = Math.round((y0 - sp.y) / sp.scaleY);
  const fx1 = Math.round((x1 - sp.x) / sp.scaleX), fy1 = Math.round((y1 - sp.y) / sp.scaleY);
  return {
    bg: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 },
    fg: { x: fx0, y: fy0, width: Math.max(2, fx1 - fx0), height: Math.max(2, fy1 - fy0) },
  };
}

/**
 * Local clean-up of a DTW map: moves a matched fg frame to the adjacent bg frame when that one
 * matches better (by > 0.002 cosine) and the map stays monotone. The global path can
 * lag by one frame right after a break (dropped bg frames); static stretches, where
 * neighbours match equally well, keep the steady path.
 */
export function snapToBestNeighbour(
  map: Int32Array,
  held: Uint8Array,
  scores: Float32Array,
  fg: EmbeddingStore,
  bg: EmbeddingStore,
): number {
  let moved = 0;
  const n = Math.min(map.length, fg.count);
  for (let i = 0; i < n; i++) {
    if (held[i]) continue;
    const lo = i > 0 ? map[i - 1] : 0;
    const hi = i + 1 < n ? map[i + 1] : bg.count - 1;
    const m = map[i];
    let best = m, bestS = fg.cosine(i, bg, m);
    for (const j of [m - 1, m + 1]) {
      if (j < lo || j > hi || j < 0 || j >= bg.count) continue;
      const sj = fg.cosine(i, bg, j);
      if (sj > bestS + 0.002) {
        best = j;
        bestS = sj;
      }
    }
    if (best !== m) {
      map[i] = best;
      scores[i] = bestS;
      moved++;
    }
  }
  return moved;
}

function relativeTimes(info: VideoInfo, n: number): Float64Array {
  const out = new Float64Array(n);
  const t0 = info.frameTimes[0];
  const dt = 1 / (info.fps || 25);
  const last = info.frameCount - 1;
  for (let i = 0; i < n; i++) {
    out[i] = i <= last ? info.frameTimes[i] - t0 : info.frameTimes[last] - t0 + (i - last) * dt;
  }
  return out;
}

function fmt(n: number | null | undefined): string {
  return n === null || n === undefined ? "n/a" : n.toFixed(3);
}

/**
 * Finds the alignment of fg inside bg. Throws a {@link VidkompyError} with exit code 3 when
 * the inputs do not match (unless `force`).
 */
export async function autoAlign(opts: AutoAlignOptions): Promise<AutoAlignResult> {
  try {
    return await attempt(opts, undefined);
  } catch (e) {
    // Refused as unrelated after a spatial search: an overlay in fg with edges strong enough to
    // outweigh the picture (a white logo box and a caption bar on a dark scene) may have won
    // it. Once more with fg's templates clipped (see renderTemplate); unrelated inputs are
    // refused again.
    if (!(e instanceof NoMatch) || !e.searched) throw e;
    (opts.progress ?? silentProgress).log(
      `spatial: ${e.message.split(";")[0]}; searching again with fg's strongest edges clipped`,
    );
    const r = await attempt(opts, ROBUST_CLIP);
    notify(
      opts,
      "fg matched bg only once its strongest edges were clipped (an overlay in fg, such as a " +
        "logo or captions, outweighed the picture): check the placement (align --preview shows " +
        "fg's outline), or give --x/--y/--scale",
    );
    return r;
  }
}

/** A notice for the user: to `opts.notice`, else to the progress log. */
function notify(opts: AutoAlignOptions, message: string): void {
  if (opts.notice) opts.notice(message);
  else (opts.progress ?? silentProgress).log(message);
}

/** {@link alignInner} with its resources released whatever happens. */
async function attempt(opts: AutoAlignOptions, clip: number | undefined) {
  const state: AlignState = { spool: null, bgSpool: null, cleanup: [] };
  try {
    return await alignInner(opts, state, clip);
  } finally {
    await state.spool?.discard();
    await state.bgSpool?.discard();
    for (const f of state.cleanup) f();
  }
}

/**
 * Robust standard deviations at which the second attempt clips fg's band-passed templates. At 3
 * a white logo box and a caption bar on a film crop (~10 % of it) were placed exactly, and at 2
 * also on a dark part of that film (both refused without clipping; 2026-12-08).
 */
const ROBUST_CLIP = 2;

/** The refusal of inputs that do not match (exit code 3); `searched`: after a spatial search. */
class NoMatch extends VidkompyError {
  constructor(message: string, readonly searched: boolean) {
    super(message, ExitCode.NoAlignment);
  }
}

/** What {@link autoAlign} releases whatever happens. */
interface AlignState {
  /** fg thumbnails being decoded ahead. */
  spool: ThumbnailSpool | null;
  /** bg's whole pictures, reduced, from the coarse spatial pass (short inputs). */
  bgSpool: ThumbnailSpool | null;
  /** Releases compute resources (GPU buffers). */
  cleanup: (() => void)[];
}

async function alignInner(
  opts: AutoAlignOptions,
  state: AlignState,
  clip: number | undefined,
): Promise<AutoAlignResult> {
  const { tools, bg, fg } = opts;
  const progress = opts.progress ?? silentProgress;
  const stages: Record<string, number> = {};
  const backend: Record<string, string> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    stages[name] = (now - t) / 1000;
    t = now;
  };

  // --- spatial -------------------------------------------------------------------------
  // The spatial search's coarse samples of bg, spread over all of it. Short inputs: those
  // samples would decode most of bg anyway; all of it is decoded once into a temporary file of
  // reduced gray pictures (640, 480 or 320 px wide: the largest that keeps the file ≤
  // SPOOL_BYTES), which also gives bg's embedding thumbnails later (and, at 640 px, the window
  // searches' frames). That decode (on all cores) starts now, while fg's samples decode.
  const bgIdx = nearKeyframes(spreadIndices(bg.frameCount, Math.min(bg.frameCount, 60), 0, 1), bg);
  const spoolH = (w: number) => Math.max(8, Math.round((bg.height * w) / bg.width));
  const spoolW = [640, 480, 320].map((w) => Math.min(bg.width, w))
    .find((w) => w * spoolH(w) * bg.frameCount <= (opts.maxSpoolBytes ?? SPOOL_BYTES)) ?? 0;
  const spoolBg = !opts.spatial && opts.timeOffset === undefined && opts.match !== "border" &&
    spoolW > 0 &&
    planGrab(bgIdx, bg.keyframes).reduce(
        (n, g) => n + g.indices[g.indices.length - 1] - g.start + 1,
        0,
      ) >= 0.5 * bg.frameCount;
  if (spoolBg) {
    state.bgSpool = ThumbnailSpool.start(bg, tools.ffmpeg, undefined, "bg", {
      width: spoolW,
      height: spoolH(spoolW),
    });
  }
  const fgIdx = nearKeyframes(spreadIndices(fg.frameCount, 5, 0.1, 0.9), fg);
  const fgSamples = await grabGrayFrames(fg, fgIdx, { ffmpeg: tools.ffmpeg }, "fg");
  if (fgSamples.length === 0) {
    throw new VidkompyError(`fg '${fg.path}' gave no frames when decoded; check the file`);
  }
  const content = detectContentRect(fgSamples);
  const hasBars = content.width < fg.width || content.height < fg.height;
  /**
   * fg's thumbnails do not depend on the placement (fg inside bg): they are decoded while the
   * spatial search keeps this thread busy (started once, at the first call).
   */
  const startFgSpool = (threads?: number) => {
    if (
      state.spool || opts.spatial || opts.timeOffset !== undefined || opts.match === "border"
    ) return;
    state.spool = ThumbnailSpool.start(fg, tools.ffmpeg, { ...content }, "fg", undefined, threads);
  };
  const searchOpts: SpatialSearchOptions = { content, clip };
  if (opts.unscaledOnly) searchOpts.unscaledOnly = true;
  if (opts.scale !== undefined) searchOpts.minScale = searchOpts.maxScale = opts.scale;
  const toCandidate = (sp: SpatialAlignment): SpatialCandidate => ({
    x: sp.x,
    y: sp.y,
    scale: sp.scale,
    scaleX: sp.scaleX,
    scaleY: sp.scaleY,
    width: sp.width,
    height: sp.height,
    score: sp.confidence ?? 0,
  });

  let correlatorP: Promise<NccCorrelator> | null = null;
  const getCorrelator = () =>
    correlatorP ??= createCorrelator(opts.backend ?? "auto").then((c) => {
      state.cleanup.push(() => c.destroy());
      backend.spatial = c.kind;
      return c;
    });
  /**
   * Ends a CPU correlator between stages: its workers and FFT buffers (tens of MB) would
   * otherwise stay through the embedding stage; a later search starts another.
   */
  const releaseCorrelator = async () => {
    const p = correlatorP;
    if (!p) return;
    const c = await p;
    if (c.kind !== "cpu") return;
    correlatorP = null;
    c.destroy();
  };
  /** The spatial search on the chosen backend (FFT NCC on the CPU or in WGSL). */
  const searchSpatial = async (
    fgFrames: GrayImage[],
    bgFrames: GrayImage[],
    o: SpatialSearchOptions,
  ) => searchSpatialAsync(fgFrames, bgFrames, { ...o, correlator: await getCorrelator() });
  let distance: BandDistance | null = null;

  let embedderCache: BatchEmbedder | null = null;
  const getEmbedder = async (): Promise<BatchEmbedder> => {
    if (embedderCache) return embedderCache;
    if (opts.model) {
      // loaded lazily: onnxruntime-web is large and only needed for --model
      const { loadOnnxEmbedder } = await import("./onnx_embed.ts");
      try {
        embedderCache = await loadOnnxEmbedder(opts.model);
      } catch (e) {
        throw new VidkompyError(
          `cannot load the embedding model '${opts.model}' (${(e as Error).message}); ` +
            "give an ONNX file that maps a 1x1x64x64 gray image to a vector",
        );
      }
    } else {
      embedderCache = await createEmbedder(opts.backend ?? "auto");
    }
    return embedderCache;
  };

  /**
   * The overlay that the last {@link temporalFor} found in fg (its thumbnail mask over `rect`,
   * fg pixels), also left out of the full-resolution comparisons that follow it.
   */
  let overlay: { mask: Uint8Array; rect: Rect } | null = null;
  /** `pairs` with fg's overlay (if any) filled in fg's pictures. */
  const withoutOverlay = (pairs: MatchedPair[]): MatchedPair[] => {
    const o = overlay;
    if (!o) return pairs;
    return pairs.map((q) => ({
      fg: maskPicture(q.fg, o.mask, EMBED_W, EMBED_H, o.rect),
      bg: q.bg,
    }));
  };

  /** Embeds fg and bg-under-fg and aligns them in time. */
  const temporalFor = async (sp: SpatialAlignment): Promise<TemporalAlignment> => {
    const fp = footprintOfContent(sp, content, bg);
    if (!fp) {
      throw new VidkompyError(
        "fg lies outside bg at the given position; check --x/--y/--scale",
        ExitCode.Usage,
      );
    }
    if (opts.timeOffset !== undefined) return offsetTemporal(fg, bg, opts.timeOffset);
    const ringPx = opts.match === "border"
      ? Math.max(1, Math.round(((opts.margin ?? 8) * EMBED_W) / fp.bg.width))
      : 0;
    const mask = (ringPx === 0 && matchedPair ? overlayMaskOf(matchedPair, fp) : null) ?? undefined;
    overlay = mask ? { mask, rect: fp.fg } : null;
    if (mask) {
      progress.log(
        `embedding: fg shows something bg lacks (an overlay, ${
          (maskShare(mask) * 100).toFixed(1)
        } % of its picture): left out of both inputs' frame comparison`,
      );
    }
    progress.start("embedding", fg.frameCount + bg.frameCount);
    let nf = 0, nb = 0;
    const embedder = await getEmbedder();
    const spool = state.spool;
    state.spool = null;
    const useSpool = spool !== null && ringPx === 0 && spool.matches(fp.fg);
    if (spool && !useSpool) await spool.discard();
    // bg's pictures from the coarse pass serve when fg's footprint in them is at least as large
    // as a thumbnail (no upsampling): no second decode of bg
    const bgSpool = state.bgSpool;
    state.bgSpool = null;
    const sx = bgSpool ? bgSpool.width / bg.width : 0,
      sy = bgSpool ? bgSpool.height / bg.height : 0;
    const bgRect = {
      x: fp.bg.x * sx,
      y: fp.bg.y * sy,
      width: fp.bg.width * sx,
      height: fp.bg.height * sy,
    };
    const useBgSpool = bgSpool !== null && ringPx === 0 && bgRect.width >= EMBED_W &&
      bgRect.height >= EMBED_H;
    if (bgSpool && !useBgSpool) await bgSpool.discard();
    if (useBgSpool) {
      progress.log(
        `embedding: bg's thumbnails from its ${bgSpool.width}x${bgSpool.height} pictures ` +
          "decoded for the spatial search",
      );
    }
    const onFgFrame = (n: number) => {
      nf = n;
      progress.update(nf + nb);
    };
    const onBgFrame = (n: number) => {
      nb = n;
      progress.update(nf + nb);
    };
    const [fgEmb, bgEmb] = await Promise.all([
      useSpool
        ? spool.frames().then((src) =>
          embedThumbnails(src, fg.frameCount, { embedder, onFrame: onFgFrame, mask })
        )
        : embedVideo(fg, {
          ffmpeg: tools.ffmpeg,
          crop: fp.fg,
          ring: ringPx,
          mask,
          embedder,
          onFrame: onFgFrame,
        }, "fg"),
      useBgSpool
        ? bgSpool.frames().then((src) =>
          embedThumbnails(
            resampledThumbnails(src, bgSpool.width, bgSpool.height, bgRect),
            bg.frameCount,
            { embedder, onFrame: onBgFrame, mask },
          )
        )
        : embedVideo(bg, {
          ffmpeg: tools.ffmpeg,
          crop: fp.bg,
          ring: ringPx,
          mask,
          embedder,
          onFrame: onBgFrame,
        }, "bg"),
    ]);
    progress.end();
    backend.embedding = embedder.kind;
    lap("embedding");
    if (fgEmb.count === 0 || bgEmb.count === 0) {
      throw new VidkompyError(
        "no frames could be decoded for temporal alignment; check the inputs",
      );
    }
    if (!distance) {
      const d = await createBandDistance(opts.backend ?? "auto");
      state.cleanup.push(() => d.destroy());
      distance = d;
    }
    const neighbours = await neighbourIndexFor(fgEmb.count, bgEmb.count);
    if (neighbours.notice) notify(opts, neighbours.notice);
    const res = await alignTemporalAsync({
      fg: fgEmb,
      fgTimes: relativeTimes(fg, fgEmb.count),
      bg: bgEmb,
      bgTimes: relativeTimes(bg, bgEmb.count),
    }, { neighbourIndex: neighbours.factory, distance });
    backend.temporal = res.neighbourSearch;
    backend.distance = distance.kind;
    // the decoder may give fewer/more frames than the probe counted: fit the map to fg
    const map: number[] = new Array(fg.frameCount);
    const held: number[] = new Array(fg.frameCount);
    const scores: number[] = new Array(fg.frameCount);
    snapToBestNeighbour(res.map, res.held, res.scores, fgEmb, bgEmb);
    const bgLast = bg.frameCount - 1;
    for (let i = 0; i < fg.frameCount; i++) {
      const k = Math.min(i, res.map.length - 1);
      map[i] = Math.min(bgLast, res.map[k]);
      held[i] = i < res.map.length ? res.held[k] : 2;
      scores[i] = res.scores[k];
    }
    lap("temporal");
    progress.log(
      `temporal: offset=${res.offset.toFixed(3)} s rate=${res.rate.toFixed(4)} confidence=${
        fmt(res.confidence)
      } band=${
        res.bandWidth.toFixed(1)
      } frames, ${res.cells} cells, ${res.breaks.length} breaks, ` +
        `neighbour search ${res.neighbourSearch}`,
    );
    return {
      offset: res.offset,
      rate: res.rate,
      confidence: res.confidence,
      map,
      scores,
      held,
      method: "auto",
    };
  };

  /** Full-resolution fg/bg frame pairs that the temporal map says show the same moment. */
  const matchedPairs = async (tp: TemporalAlignment) => {
    const matched: number[] = [];
    for (let i = 0; i < tp.map.length; i++) if (!tp.held?.[i]) matched.push(i);
    if (matched.length === 0) return [];
    const pick = spreadIndices(matched.length, fullResPairs, 0.08, 0.92).map((k) => matched[k]);
    const fgF = await grabGrayFrames(fg, pick, { ffmpeg: tools.ffmpeg }, "fg");
    const bgF = await grabGrayFrames(
      bg,
      pick.map((i) => tp.map[i]),
      { ffmpeg: tools.ffmpeg },
      "bg",
    );
    const n = Math.min(fgF.length, bgF.length);
    return Array.from({ length: n }, (_, k) => ({ fg: fgF[k], bg: bgF[k] }));
  };

  /**
   * Where fg lies in bg, before its timing is known. In moving footage (zooms, pans) a wrong
   * scale or position at a slightly wrong time can beat the truth, so the first pass compares
   * fg samples with densely sampled bg frames at a reduced resolution (~320 px wide), then the
   * best pairs are refined at full resolution.
   */
  /**
   * How many full-resolution fg/bg pairs the refinement compares: up to 5, fewer for big
   * pictures (about 12 megapixels of fg + bg in all, at least 2), which bounds its memory
   * (pyramids and caches) to a few hundred MB.
   */
  const fullResPairs = Math.max(
    2,
    Math.min(5, Math.floor(12e6 / (fg.width * fg.height + bg.width * bg.height))),
  );

  /** fg's content rectangle with fg scaled by (fx, fy). */
  const scaledContent = (fx: number, fy: number): Rect => ({
    x: Math.round(content.x * fx),
    y: Math.round(content.y * fy),
    width: Math.max(4, Math.round(content.width * fx)),
    height: Math.max(4, Math.round(content.height * fy)),
  });

  /**
   * The scale the user fixed (`--unscaled`: 1, `--scale S`), else undefined: the search then
   * keeps fg's footprint at exactly that size.
   */
  const fixedScale = opts.scale ?? (opts.unscaledOnly ? 1 : undefined);
  const refineOpts = { content, fixedSize: fixedScale !== undefined, clip };

  /** A placement found with bg shrunk by (bx, by) (fg by the same factor), at full size. */
  const upscale = (c: SpatialCandidate, bx: number, by: number): SpatialCandidate => {
    // a fixed scale: fg's footprint at that size (the shrunk one is rounded), centred as found
    const fixed = fixedScale !== undefined;
    const width = Math.max(1, Math.round(fixed ? fg.width * fixedScale : c.width * bx));
    const height = Math.max(1, Math.round(fixed ? fg.height * fixedScale : c.height * by));
    return {
      x: Math.round(fixed ? (c.x + c.width / 2) * bx - width / 2 : c.x * bx),
      y: Math.round(fixed ? (c.y + c.height / 2) * by - height / 2 : c.y * by),
      scale: opts.scale ?? Math.sqrt((width / fg.width) * (height / fg.height)),
      scaleX: width / fg.width,
      scaleY: height / fg.height,
      width,
      height,
      score: c.score,
    };
  };

  /**
   * One fg sample against a run of full-resolution bg frames: searched at ≤ 640 px wide, then
   * refined at full resolution around the best frame. Null when nothing could be searched (no
   * frames decoded, or a flat fg sample).
   */
  const searchWindow = async (fgImg: GrayImage, win: number[]) => {
    try {
      return await searchWindowOrThrow(fgImg, win);
    } catch (e) {
      // a flat (e.g. black) fg sample gives no template to search with: no window result
      if (e instanceof RangeError) return null;
      throw e;
    }
  };
  /** {@link searchWindow}, throwing RangeError when the sample cannot be searched. */
  const searchWindowOrThrow = async (fgImg: GrayImage, win: number[]) => {
    const f = bg.width / 640;
    const spool = state.bgSpool;
    const full = () => grabGrayFrames(bg, win, { ffmpeg: tools.ffmpeg }, "bg");
    const precision = searchOpts.precision ?? 2;
    // a weak best match: searched again at a finer precision (its coarse stage sees more
    // detail: a picture that varies in one direction only at the coarse size, such as vertical
    // bars, leaves the other direction to chance there), the better full-resolution score wins
    const retry = precision < 3 && windowRetry;
    if (f < 1.25) {
      const frames = spool && spool.width === bg.width && spool.height === bg.height
        ? await spool.grab(win)
        : await full();
      if (frames.length === 0) return null;
      const withPair = (r: SpatialResult) => ({
        ...r,
        pair: { fg: fgImg, bg: frames[Math.min(r.bestBgForFg[0] ?? 0, frames.length - 1)] },
      });
      const r = withPair(await searchSpatial([fgImg], frames, searchOpts));
      if (!retry || r.best.score >= WINDOW_RETRY_BELOW) return r;
      const r3 = withPair(await searchSpatial([fgImg], frames, { ...searchOpts, precision: 3 }));
      noteRetry(r.best.score, r3.best.score);
      return r3.best.score > r.best.score ? r3 : r;
    }
    const bw = Math.max(8, Math.round(bg.width / f)), bh = Math.max(8, Math.round(bg.height / f));
    const fw = Math.max(8, Math.round(fg.width / f)), fh = Math.max(8, Math.round(fg.height / f));
    // the window at ≤ 640 px: from bg's spool when there is one (then only the frames around
    // the best one are decoded at full resolution), else decoded at full resolution and shrunk
    const fromSpool = spool !== null && spool.width === bw && spool.height === bh;
    // The window's full-resolution frames decode while the reduced pictures are searched (the
    // frames around the best one are needed next; a decode from the keyframe before the window
    // costs about the same for all of them). Without a spool they are the search's input.
    const fullP = full();
    // a failed search must not leave the decode's rejection unhandled
    fullP.catch(() => {});
    const fullFrames = fromSpool ? null : await fullP;
    const frames = fromSpool
      ? await spool.grab(win)
      : fullFrames!.map((img) => resizeGray(img, bw, bh));
    if (frames.length === 0) return null;
    const fgSmall = resizeGray(fgImg, fw, fh);
    const bx = bg.width / bw, by = bg.height / bh;
    // (a frame past bg's decodable end comes back as its last one)
    const fullAt = async (lo: number, hi: number) => (fullFrames ?? await fullP).slice(lo, hi + 1);
    const at = async (p: number) => {
      const mid = await searchSpatial([fgSmall], frames, {
        ...searchOpts,
        precision: p,
        content: scaledContent(fw / fg.width, fh / fg.height),
      });
      // In moving footage the reduced pictures rank neighbouring moments poorly: a placement
      // shifted by the motion, at a frame next to the true one, can win there. The best frame
      // and its neighbours (up to WINDOW_STEPS on each side) are refined at full resolution,
      // stepping from frame to frame while the score improves.
      const j0 = Math.min(mid.bestBgForFg[0] ?? 0, frames.length - 1);
      const lo = Math.max(0, j0 - WINDOW_STEPS);
      const hi = Math.min(frames.length - 1, j0 + WINDOW_STEPS);
      const near = await fullAt(lo, hi);
      const runnerUp = mid.runnerUp ? upscale(mid.runnerUp, bx, by) : null;
      if (near.length === 0) {
        return { best: upscale(mid.best, bx, by), runnerUp, bestBgForFg: [j0], pair: null };
      }
      const { best, index } = refineAcrossFrames(
        fgImg,
        near,
        j0 - lo,
        upscale(mid.best, bx, by),
        refineOpts,
      );
      return { best, runnerUp, bestBgForFg: [lo + index], pair: { fg: fgImg, bg: near[index] } };
    };
    const r = await at(precision);
    if (!retry || r.best.score >= WINDOW_RETRY_BELOW) return r;
    const r3 = await at(3);
    progress.log(
      `spatial: weak window match (ncc ${fmt(r.best.score)}) searched again at precision 3: ` +
        `x=${r3.best.x} y=${r3.best.y} scale=${r3.best.scale.toFixed(4)} ncc=${fmt(r3.best.score)}`,
    );
    noteRetry(r.best.score, r3.best.score);
    return r3.best.score > r.best.score ? r3 : r;
  };
  /**
   * Whether weak window matches are searched again: until a retry gains less than 0.01 (then
   * the footage itself matches weakly, e.g. an upscaled and graded fg, and the retries only
   * cost time).
   */
  let windowRetry = true;
  const noteRetry = (before: number, after: number) => {
    if (after <= before + 0.01) windowRetry = false;
  };

  /**
   * Width of the bg pictures the time scan decodes: {@link SCAN_WIDTH} (narrower, down to
   * {@link MIN_SCAN_WIDTH}, where a very long bg would overflow the spool's byte budget even
   * then: a 70-minute 16:9 bg at 30 fps is 84 px wide in 512 MB), or wider (at most
   * 640 px and what the spool's byte budget allows) so that fg's content covers at least a
   * thumbnail there under each candidate placement that can: then the same pictures give bg's
   * embedding thumbnails for the placement that wins, and bg is not decoded once more for the
   * embedding. The scan itself compares pictures resized to {@link SCAN_WIDTH}.
   */
  const scanSpoolWidth = (cands: SpatialCandidate[]): number => {
    const budget = opts.maxSpoolBytes ?? SPOOL_BYTES;
    const bytes = (w: number) =>
      w * Math.max(8, Math.round((bg.height * w) / bg.width)) * bg.frameCount;
    // a bg so long that even these pictures overflow the budget: narrower ones
    let base = Math.min(bg.width, SCAN_WIDTH);
    while (base > MIN_SCAN_WIDTH && bytes(base) > budget) base -= 2;
    if (opts.match === "border") return base;
    let cap = Math.min(bg.width, 640);
    while (cap > base && bytes(cap) > budget) cap -= 2;
    let need = base;
    for (const c of cands) {
      const cw = (c.width * content.width) / fg.width;
      const ch = (c.height * content.height) / fg.height;
      // +2 px: the footprint's rounding in the smaller picture
      need = Math.max(
        need,
        2 * Math.ceil((bg.width * Math.max(EMBED_W / cw, EMBED_H / ch)) / 2) + 2,
      );
    }
    return Math.max(base, Math.min(cap, need));
  };

  /**
   * The coarse pass compares fg samples with bg samples that may lie seconds apart (long
   * inputs); in fast-changing footage none is close enough in time to an fg sample for the true
   * placement to win, and a chance match elsewhere does. Then every bg frame (small pictures,
   * from bg's spool, decoded now when there is none) is compared with the fg samples at each
   * candidate placement; for the candidates whose moments agree best on one time offset, the
   * best-matching fg samples are searched again at full resolution around their moments. The
   * best window wins (null when no candidate could be scanned or no window decoded).
   */
  const timeScan = async (cands: SpatialCandidate[]) => {
    let spool = state.bgSpool;
    if (!spool) {
      const w = scanSpoolWidth(cands);
      const h = Math.max(8, Math.round((bg.height * w) / bg.width));
      progress.log(`spatial: decoding all of bg at ${w}x${h} to scan candidate placements …`);
      spool = state.bgSpool = ThumbnailSpool.start(bg, tools.ffmpeg, undefined, "bg", {
        width: w,
        height: h,
      });
    }
    const src = spool;
    const sw = Math.min(src.width, SCAN_WIDTH);
    const sh = sw === src.width
      ? src.height
      : Math.max(8, Math.round((src.height * sw) / src.width));
    const kx = sw / bg.width, ky = sh / bg.height;
    if (src.width < Math.min(bg.width, 320)) {
      // the coarse pass saw bg ~320 px wide; at the spool's smaller size its band of
      // frequencies is coarser, steadier over time, and it may rank other candidates first
      const fw = Math.max(8, Math.round((fg.width * src.width) / bg.width));
      const fh = Math.max(8, Math.round((fg.height * src.height) / bg.height));
      try {
        const r = await searchSpatial(
          fgSamples.map((img) => resizeGray(img, fw, fh)),
          await src.grab(spreadIndices(bg.frameCount, 60, 0, 1)),
          { ...searchOpts, content: scaledContent(fw / fg.width, fh / fg.height) },
        );
        for (const c of [r.best, ...r.alternatives.map((a) => a.candidate)]) {
          cands.push(upscale(c, bg.width / src.width, bg.height / src.height));
        }
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
    }
    const seen = new Set<string>();
    const placed = cands.flatMap((c) => {
      const t = scanTemplates(
        fgSamples,
        content,
        {
          x: c.x * kx,
          y: c.y * ky,
          width: c.width * kx,
          height: c.height * ky,
        },
        sw,
        sh,
      );
      const key = t ? `${t.x},${t.y},${t.templates[0].width},${t.templates[0].height}` : "";
      if (!t || seen.has(key)) return [];
      seen.add(key);
      return [{ cand: c, t, scores: t.templates.map(() => new Float32Array(bg.frameCount)) }];
    });
    if (placed.length === 0) return null;
    const tc = performance.now();
    const v: number[] = [];
    const scan = createGray(sw, sh);
    const n = Math.min(
      bg.frameCount,
      await src.forEach((j, pic) => {
        if (j >= bg.frameCount) return;
        let img = pic;
        if (sw !== src.width) {
          resizeGrayInto({ width: src.width, height: src.height, data: pic }, scan);
          img = scan.data;
        }
        for (const p of placed) {
          scoreFrame(p.t, img, sw, v);
          for (let k = 0; k < p.scores.length; k++) p.scores[k][j] = v[k];
        }
      }),
    );
    if (n === 0) return null;
    const fgTimes = fgIdx.map((i) => fg.frameTimes[i] - fg.frameTimes[0]);
    const bgTimes = relativeTimes(bg, n);
    const tol = Math.max(1.5 / (bg.fps || 25), 0.05);
    const ranked = placed.flatMap((p) => {
      const m = consistentMoments(
        p.scores.map((a) => a.subarray(0, n)),
        fgTimes,
        bgTimes,
        tol,
      );
      return m ? [{ ...p, m }] : [];
    }).sort((a, b) => b.m.score - a.m.score);
    progress.log(
      `spatial: scanned ${n} bg frames at ${placed.length} placements in ${
        ((performance.now() - tc) / 1000).toFixed(2)
      } s; best agreement ${ranked.map((r) => fmt(r.m.score)).join(", ")}`,
    );
    const reach = Math.max(3, Math.ceil(tol * (bg.fps || 25)) + 2);
    let best: {
      best: SpatialCandidate;
      runnerUp: SpatialCandidate | null;
      measuredOn: [number, number];
      pair: MatchedPair | null;
    } | null = null;
    for (const p of ranked.slice(0, 3)) {
      // its two best-matching fg samples, at full resolution around their moments
      const order = p.m.moments.map((j, k) => ({ j, k, v: j < 0 ? -Infinity : p.scores[k][j] }))
        .filter((q) => q.j >= 0).sort((a, b) => b.v - a.v).slice(0, 2);
      for (const { j, k } of order) {
        const win: number[] = [];
        for (let i = Math.max(0, j - reach); i <= Math.min(bg.frameCount - 1, j + reach); i++) {
          win.push(i);
        }
        const r = await searchWindow(fgSamples[k], win);
        if (!r) continue;
        progress.log(
          `spatial: scan candidate x=${p.cand.x} y=${p.cand.y} scale=${p.cand.scale.toFixed(4)} ` +
            `(offset ${p.m.offset.toFixed(3)} s): fg frame ${fgIdx[k]} vs bg ${win[0]}..${
              win[win.length - 1]
            }: ` +
            `x=${r.best.x} y=${r.best.y} scale=${r.best.scale.toFixed(4)} ncc=${fmt(r.best.score)}`,
        );
        if (!best || r.best.score > best.best.score) {
          best = {
            best: r.best,
            runnerUp: r.runnerUp,
            measuredOn: [fgIdx[k], win[Math.min(r.bestBgForFg[0] ?? 0, win.length - 1)]],
            pair: r.pair,
          };
        }
        if (best.best.score >= 0.97) return best;
      }
    }
    return best;
  };

  const searchPlacement = async (): Promise<SpatialAlignment> => {
    progress.log("spatial: searching fg inside bg …");
    const f = Math.max(1, bg.width / 320);
    const rw = (w: number) => Math.max(8, Math.round(w / f));
    const small = { ffmpeg: tools.ffmpeg, width: rw(bg.width), height: rw(bg.height) };
    let step = bgIdx.length > 1 ? Math.ceil((bg.frameCount - 1) / (bgIdx.length - 1)) : 1;
    const maxHalf = Math.max(3, Math.min(24, Math.floor(64e6 / (bg.width * bg.height))));
    // fg's samples at the coarse resolution come from the full-resolution ones (no second decode)
    const fgSmall = fgSamples.map((img) => resizeGray(img, rw(fg.width), rw(fg.height)));
    let bgSmall: GrayImage[];
    const bgSp = state.bgSpool;
    if (spoolBg && bgSp) {
      // bg's decode (on all cores) first; fg's thumbnails then decode in one thread, on the core
      // that the single-threaded search below leaves idle
      bgSmall = (await bgSp.grab(bgIdx)).map((img) => resizeGray(img, small.width, small.height));
      startFgSpool(Math.max(1, navigator.hardwareConcurrency - 1));
    } else {
      startFgSpool();
      bgSmall = await grabGrayFrames(bg, bgIdx, small, "bg");
    }
    progress.log(
      `spatial: ${bgSmall.length} bg samples decoded${spoolBg ? " (all of bg spooled)" : ""}`,
    );
    if (bgSmall.length === 0) {
      throw new VidkompyError(`bg '${bg.path}' gave no frames when decoded; check the file`);
    }
    const coarseOpts: SpatialSearchOptions = {
      ...searchOpts,
      content: scaledContent(rw(fg.width) / fg.width, rw(fg.height) / fg.height),
    };
    let coarse;
    try {
      const tc = performance.now();
      coarse = await searchSpatial(fgSmall, bgSmall, coarseOpts);
      progress.log(
        `spatial: coarse search ${
          ((performance.now() - tc) / 1000).toFixed(2)
        } s over ${bgSmall.length} bg frames`,
      );
    } catch (e) {
      if (e instanceof RangeError) {
        if (fgSamples.every((img) => contentStd(img, content) <= FLAT_CONTENT_STD)) {
          throw new VidkompyError(
            "fg shows no detail in its sampled frames (a flat or black picture), so it cannot " +
              "be placed automatically; give its position with --x/--y (and --scale)",
            ExitCode.NoAlignment,
          );
        }
        throw new VidkompyError(
          `fg cannot be placed inside bg (${e.message}); fg may be larger than bg — check --scale/--unscaled`,
          ExitCode.NoAlignment,
        );
      }
      throw e;
    }
    const bx = bg.width / rw(bg.width), by = bg.height / rw(bg.height);
    const initial = upscale(coarse.best, bx, by);
    progress.log(
      `spatial (coarse): x=${initial.x} y=${initial.y} scale=${initial.scale.toFixed(4)} ` +
        `ncc=${fmt(coarse.best.score)}`,
    );
    // Each fg sample's moment in bg. Long inputs have far-apart coarse samples: narrow the
    // moment down at the coarse resolution (a few frames per sample and level) until the
    // full-resolution window below covers the remaining uncertainty.
    const moments = fgSamples.map((_, k) => bgIdx[coarse.bestBgForFg[k] ?? 0]);
    while (step > maxHalf) {
      const stride = Math.max(1, Math.ceil(step / 8));
      const wins = moments.map((c) => {
        const w: number[] = [];
        for (let j = c - step; j <= c + step; j += stride) {
          if (j >= 0 && j < bg.frameCount) w.push(j);
        }
        return stride > 1 ? nearKeyframes(w, bg, stride) : w;
      });
      const all = [...new Set(wins.flat())].sort((a, b) => a - b);
      const frames = await grabGrayFrames(bg, all, small, "bg");
      const byIdx = new Map(all.map((j, q) => [j, frames[Math.min(q, frames.length - 1)]]));
      for (let k = 0; k < fgSamples.length; k++) {
        const list = wins[k].filter((j) => byIdx.has(j));
        if (list.length === 0) continue;
        try {
          const r = await searchSpatial(
            [fgSmall[k]],
            list.map((j) => byIdx.get(j)!),
            coarseOpts,
          );
          moments[k] = list[r.bestBgForFg[0] ?? 0];
        } catch (e) {
          if (!(e instanceof RangeError)) throw e;
        }
      }
      progress.log(`spatial: moments narrowed to ±${stride} frames: ${moments.join(", ")}`);
      step = stride;
    }
    let runnerUp: SpatialCandidate | null = coarse.runnerUp
      ? upscale(coarse.runnerUp, bx, by)
      : null;
    // The coarse pass mostly gets the moments right even where its placement is off (in moving
    // footage a wrong scale at a slightly wrong time can win): search again at full resolution,
    // one fg sample against every bg frame around its moment, until a window matches very well
    // (NCC >= 0.99), two windows agree, or three windows were searched and the best matches well
    // (>= 0.97). A sample whose moment bg lacks (dropped frames) matches only a neighbouring
    // moment, at a placement shifted by the motion (0.985, 2 px and 0.2 % off, on a film crop
    // whose bg drops 4 frames in 40; 0.998 at the truth).
    let refined: SpatialCandidate | null = null;
    let windows = 0;
    const half = Math.max(3, Math.min(step, maxHalf));
    // the samples with the most detail first: a nearly black sample can match a wrong place
    // well (a dark scene), and the first window that matches well ends the search
    const byDetail = fgSamples.map((img, k) => ({ k, d: contentDetail(img, content) }))
      .sort((a, b) => b.d - a.d).map((o) => o.k);
    for (const k of byDetail) {
      if (refined && (refined.score >= 0.99 || (refined.score >= 0.97 && windows >= 3))) break;
      const center = moments[k];
      const win: number[] = [];
      for (
        let j = Math.max(0, center - half);
        j <= Math.min(bg.frameCount - 1, center + half);
        j++
      ) {
        win.push(j);
      }
      const r = await searchWindow(fgSamples[k], win);
      if (!r) continue;
      windows++;
      progress.log(
        `spatial: fg frame ${fgIdx[k]} vs bg ${win[0]}..${win[win.length - 1]}: x=${r.best.x} ` +
          `y=${r.best.y} scale=${r.best.scale.toFixed(4)} ncc=${fmt(r.best.score)}`,
      );
      const same = refined !== null && Math.abs(r.best.x - refined.x) <= 1 &&
        Math.abs(r.best.y - refined.y) <= 1 &&
        Math.abs(r.best.scale / refined.scale - 1) < 0.005;
      if (!refined || r.best.score > refined.score) {
        refined = r.best;
        runnerUp = r.runnerUp;
        measuredOn = [[fgIdx[k], win[Math.min(r.bestBgForFg[0] ?? 0, win.length - 1)]]];
        matchedPair = r.pair;
      }
      if (same) break;
    }
    if (!refined || refined.score < TIME_SCAN_BELOW) {
      const cands = [coarse.best, ...coarse.alternatives.map((a) => a.candidate)]
        .map((c) => upscale(c, bx, by));
      if (refined) cands.unshift(refined);
      const found = await timeScan(cands);
      if (found && (!refined || found.best.score > refined.score + 0.005)) {
        refined = found.best;
        runnerUp = found.runnerUp;
        measuredOn = [found.measuredOn];
        matchedPair = found.pair;
      }
    }
    if (!refined) {
      // no window could be decoded: refine the coarse placement on the coarse pairs
      const bgFull = await grabGrayFrames(bg, moments, { ffmpeg: tools.ffmpeg }, "bg");
      const use = spreadIndices(fgSamples.length, fullResPairs, 0, 1);
      const pairs = use.map((k) => ({
        fg: fgSamples[k],
        bg: bgFull[Math.min(k, bgFull.length - 1)],
      }));
      refined = refineSpatial(pairs, initial, refineOpts);
      measuredOn = use.map((k) => [fgIdx[k], moments[k]] as [number, number]);
    }
    const sp = toSpatial(refined, hasBars ? content : null, runnerUp);
    progress.log(
      `spatial: x=${sp.x} y=${sp.y} scale=${sp.scale.toFixed(4)} ncc=${fmt(sp.confidence)}`,
    );
    return sp;
  };

  /**
   * The placement with its footprint's width and height adjusted independently where that
   * matches `pairs` clearly better (a rescaled fg whose size was rounded to even numbers).
   */
  const withAspect = (pairs: MatchedPair[], sp: SpatialAlignment): SpatialAlignment => {
    const a = refineAspect(pairs, toCandidate(sp), refineOpts);
    if (a.width === sp.width && a.height === sp.height && a.x === sp.x && a.y === sp.y) return sp;
    progress.log(
      `spatial: footprint ${sp.width}x${sp.height} at ${sp.x},${sp.y} adjusted to ${a.width}x${a.height} at ${a.x},${a.y} (ncc ${
        fmt(a.score)
      })`,
    );
    const out = toSpatial(a, sp.content ?? null, null);
    out.runnerUp = sp.runnerUp ?? null;
    return out;
  };

  /** The (fg frame, bg frame) pairs the searched placement was measured on. */
  let measuredOn: [number, number][] = [];
  /** The full-resolution pictures of the best of them (for {@link overlayMask}). */
  let matchedPair: MatchedPair | null = null;

  let firstRunnerUp: SpatialAlignment["runnerUp"] = null;
  const runnerUpOf = (_sp: SpatialAlignment) => firstRunnerUp ?? null;
  let spatial: SpatialAlignment;
  let spatialSearched = false;
  if (opts.spatial) {
    spatial = opts.spatial;
  } else {
    spatial = await searchPlacement();
    firstRunnerUp = spatial.runnerUp ?? null;
    spatialSearched = true;
    if (matchedPair && fixedScale === undefined) spatial = withAspect([matchedPair], spatial);
  }
  if (hasBars && !spatial.content) spatial.content = content;
  backend.spatial ??= "cpu";
  await releaseCorrelator();
  lap("spatial");

  // --- temporal, then placement re-checked on time-matched pairs --------------------------
  let temporal = await temporalFor(spatial);
  // The placement was found on frame pairs that the temporal map confirms (±1 frame) and
  // matched well: checking it again on time-matched pairs would decode both inputs once more
  // for nothing.
  const confirmed = spatialSearched && (spatial.confidence ?? 0) >= 0.97 &&
    measuredOn.length > 0 &&
    measuredOn.every(([i, j]) =>
      i < temporal.map.length && !temporal.held?.[i] && Math.abs(temporal.map[i] - j) <= 1
    );
  if (confirmed) progress.log("spatial: placement confirmed by the temporal map");
  if (spatialSearched && !confirmed) {
    for (let round = 0; round < 2; round++) {
      const pairs = withoutOverlay(await matchedPairs(temporal));
      if (pairs.length === 0) break;
      let refined = refineSpatial(pairs, toCandidate(spatial), refineOpts);
      // a last pixel of width or height, on more pairs than the search's one
      if (fixedScale === undefined) {
        refined = refineAspect(pairs, refined, { ...refineOpts, reach: 1 });
      }
      // a full search on the matched pairs catches a placement found on mismatched times
      if (refined.score >= 0.9) {
        spatial = toSpatial(refined, spatial.content ?? null, null);
        spatial.runnerUp = runnerUpOf(spatial);
        break;
      }
      let again;
      try {
        again = await searchSpatial(
          pairs.map((q) => q.fg),
          pairs.map((q) => q.bg),
          searchOpts,
        );
      } catch (e) {
        // matched frames with nothing to search with (flat): keep the refined placement
        if (!(e instanceof RangeError)) throw e;
        again = null;
      }
      const runnerUp = spatial.runnerUp ?? null;
      if (!again) {
        spatial = toSpatial(refined, spatial.content ?? null, null);
        spatial.runnerUp = runnerUp;
        break;
      }
      const moved = Math.abs(again.best.x - refined.x) > 2 ||
        Math.abs(again.best.y - refined.y) > 2 ||
        Math.abs(again.best.scale / refined.scale - 1) > 0.01;
      if (moved && again.best.score > refined.score + 0.005) {
        progress.log(
          `spatial: re-placed on matched frames: x=${again.best.x} y=${again.best.y} ` +
            `scale=${again.best.scale.toFixed(4)} ncc=${fmt(again.best.score)} (was ${
              fmt(refined.score)
            })`,
        );
        spatial = toSpatial(again.best, spatial.content ?? null, again.runnerUp);
        lap("refine");
        temporal = await temporalFor(spatial);
        continue;
      }
      spatial = toSpatial(refined, spatial.content ?? null, null);
      spatial.runnerUp = runnerUp;
      progress.log(
        `refined: x=${spatial.x} y=${spatial.y} scale=${spatial.scale.toFixed(4)} ncc=${
          fmt(spatial.confidence)
        }`,
      );
      break;
    }
    lap("refine");
  }
  const refusal = opts.force
    ? null
    : noAlignmentReason(spatial.confidence, temporal.confidence, spatialSearched);
  if (refusal) throw new NoMatch(refusal, spatialSearched && clip === undefined);
  const weak = weakMatchNotice(spatial.confidence, temporal.confidence, spatialSearched);
  if (weak) notify(opts, weak);
  (embedderCache as BatchEmbedder | null)?.destroy();
  return {
    alignment: { vidkompy: 1, bg: summarize(bg), fg: summarize(fg), spatial, temporal },
    stages,
    backend,
  };
}
