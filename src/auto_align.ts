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
import { type Backend, type BatchEmbedder, createEmbedder } from "./backend.ts";
import { embedVideo } from "./embed_video.ts";
import type { EmbeddingStore } from "./embedding_store.ts";
import { ExitCode, VidkompyError } from "./errors.ts";
import { grabGrayFrames, spreadIndices } from "./frame_grab.ts";
import type { Rect } from "./gray_image.ts";
import { detectContentRect } from "./letterbox.ts";
import type { VideoInfo } from "./probe.ts";
import { type ProgressSink, silentProgress } from "./progress.ts";
import {
  refineSpatial,
  searchSpatial,
  type SpatialCandidate,
  type SpatialSearchOptions,
} from "./spatial_search.ts";
import { alignTemporal } from "./temporal.ts";
import type { Tools } from "./tools.ts";
import { EMBED_W } from "./embed.ts";

/** Below this spatial NCC the inputs are taken as unrelated. */
export const MIN_SPATIAL_CONFIDENCE = 0.4;
/** Below this temporal confidence the inputs are taken as unrelated. */
export const MIN_TEMPORAL_CONFIDENCE = 0.5;

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

/** The part of bg under fg's content rectangle, clipped to bg. */
function footprintOfContent(sp: SpatialAlignment, content: Rect, bg: VideoInfo) {
  let x0 = Math.round(sp.x + content.x * sp.scaleX);
  let y0 = Math.round(sp.y + content.y * sp.scaleY);
  let x1 = Math.round(sp.x + (content.x + content.width) * sp.scaleX);
  let y1 = Math.round(sp.y + (content.y + content.height) * sp.scaleY);
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(bg.width, x1);
  y1 = Math.min(bg.height, y1);
  if (x1 - x0 < 2 || y1 - y0 < 2) return null;
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
  const fgIdx = spreadIndices(fg.frameCount, 5, 0.1, 0.9);
  const fgSamples = await grabGrayFrames(fg, fgIdx, { ffmpeg: tools.ffmpeg }, "fg");
  if (fgSamples.length === 0) {
    throw new VidkompyError(`fg '${fg.path}' gave no frames when decoded; check the file`);
  }
  const content = detectContentRect(fgSamples);
  const hasBars = content.width < fg.width || content.height < fg.height;
  const searchOpts: SpatialSearchOptions = { content };
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
    progress.start("embedding", fg.frameCount + bg.frameCount);
    let nf = 0, nb = 0;
    const embedder = await getEmbedder();
    const [fgEmb, bgEmb] = await Promise.all([
      embedVideo(fg, {
        ffmpeg: tools.ffmpeg,
        crop: fp.fg,
        ring: ringPx,
        embedder,
        onFrame: (n) => {
          nf = n;
          progress.update(nf + nb);
        },
      }, "fg"),
      embedVideo(bg, {
        ffmpeg: tools.ffmpeg,
        crop: fp.bg,
        ring: ringPx,
        embedder,
        onFrame: (n) => {
          nb = n;
          progress.update(nf + nb);
        },
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
    const res = alignTemporal({
      fg: fgEmb,
      fgTimes: relativeTimes(fg, fgEmb.count),
      bg: bgEmb,
      bgTimes: relativeTimes(bg, bgEmb.count),
    });
    backend.temporal = res.neighbourSearch;
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
      }`,
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
    const pick = spreadIndices(matched.length, 5, 0.08, 0.92).map((k) => matched[k]);
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
  const searchPlacement = async (): Promise<SpatialAlignment> => {
    progress.log("spatial: searching fg inside bg …");
    const f = Math.max(1, bg.width / 320);
    const rw = (w: number) => Math.max(8, Math.round(w / f));
    const bgCount = Math.min(bg.frameCount, 60);
    const bgIdx = spreadIndices(bg.frameCount, bgCount, 0, 1);
    const [fgSmall, bgSmall] = await Promise.all([
      grabGrayFrames(fg, fgIdx, {
        ffmpeg: tools.ffmpeg,
        width: rw(fg.width),
        height: rw(fg.height),
      }, "fg"),
      grabGrayFrames(bg, bgIdx, {
        ffmpeg: tools.ffmpeg,
        width: rw(bg.width),
        height: rw(bg.height),
      }, "bg"),
    ]);
    if (bgSmall.length === 0) {
      throw new VidkompyError(`bg '${bg.path}' gave no frames when decoded; check the file`);
    }
    const fx = rw(fg.width) / fg.width, fy = rw(fg.height) / fg.height;
    const coarseOpts: SpatialSearchOptions = {
      ...searchOpts,
      content: {
        x: Math.round(content.x * fx),
        y: Math.round(content.y * fy),
        width: Math.max(4, Math.round(content.width * fx)),
        height: Math.max(4, Math.round(content.height * fy)),
      },
    };
    let coarse;
    try {
      const tc = performance.now();
      coarse = searchSpatial(fgSmall, bgSmall, coarseOpts);
      progress.log(
        `spatial: coarse search ${
          ((performance.now() - tc) / 1000).toFixed(2)
        } s over ${bgSmall.length} bg frames`,
      );
    } catch (e) {
      if (e instanceof RangeError) {
        throw new VidkompyError(
          `fg cannot be placed inside bg (${e.message}); fg may be larger than bg — check --scale/--unscaled`,
          ExitCode.NoAlignment,
        );
      }
      throw e;
    }
    const bx = bg.width / rw(bg.width), by = bg.height / rw(bg.height);
    const width = Math.max(1, Math.round(coarse.best.width * bx));
    const height = Math.max(1, Math.round(coarse.best.height * by));
    const scale = Math.sqrt((width / fg.width) * (height / fg.height));
    const initial: SpatialCandidate = {
      x: Math.round(coarse.best.x * bx),
      y: Math.round(coarse.best.y * by),
      scale: opts.scale ?? scale,
      scaleX: width / fg.width,
      scaleY: height / fg.height,
      width,
      height,
      score: coarse.best.score,
    };
    progress.log(
      `spatial (coarse): x=${initial.x} y=${initial.y} scale=${initial.scale.toFixed(4)} ` +
        `ncc=${fmt(coarse.best.score)}`,
    );
    const bgFull = await grabGrayFrames(
      bg,
      fgSamples.map((_, k) => bgIdx[coarse.bestBgForFg[k] ?? 0]),
      { ffmpeg: tools.ffmpeg },
      "bg",
    );
    const pairs = fgSamples.map((fgF, k) => ({
      fg: fgF,
      bg: bgFull[Math.min(k, bgFull.length - 1)],
    }));
    let refined = refineSpatial(pairs, initial, { content });
    let runnerUp: SpatialCandidate | null = coarse.runnerUp
      ? {
        ...coarse.runnerUp,
        x: Math.round(coarse.runnerUp.x * bx),
        y: Math.round(coarse.runnerUp.y * by),
      }
      : null;
    // The coarse pass mostly gets the moments right even where its placement is off: search
    // again at full resolution, one fg sample against every bg frame around its moment.
    const step = bgIdx.length > 1 ? bgIdx[1] - bgIdx[0] : 1;
    const half = Math.max(3, step);
    for (let k = 0; k < fgSamples.length && refined.score < 0.97; k++) {
      const center = bgIdx[coarse.bestBgForFg[k] ?? 0];
      const win: number[] = [];
      for (
        let j = Math.max(0, center - half);
        j <= Math.min(bg.frameCount - 1, center + half);
        j++
      ) {
        win.push(j);
      }
      const frames = await grabGrayFrames(bg, win, { ffmpeg: tools.ffmpeg }, "bg");
      if (frames.length === 0) continue;
      const r = searchSpatial([fgSamples[k]], frames, searchOpts);
      progress.log(
        `spatial: fg frame ${fgIdx[k]} vs bg ${win[0]}..${win[win.length - 1]}: x=${r.best.x} ` +
          `y=${r.best.y} scale=${r.best.scale.toFixed(4)} ncc=${fmt(r.best.score)}`,
      );
      if (r.best.score > refined.score) {
        refined = r.best;
        runnerUp = r.runnerUp;
      }
    }
    const sp = toSpatial(refined, hasBars ? content : null, runnerUp);
    progress.log(
      `spatial: x=${sp.x} y=${sp.y} scale=${sp.scale.toFixed(4)} ncc=${fmt(sp.confidence)}`,
    );
    return sp;
  };

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
  }
  if (hasBars && !spatial.content) spatial.content = content;
  backend.spatial = "cpu";
  lap("spatial");

  // --- temporal, then placement re-checked on time-matched pairs --------------------------
  let temporal = await temporalFor(spatial);
  if (spatialSearched) {
    for (let round = 0; round < 2; round++) {
      const pairs = await matchedPairs(temporal);
      if (pairs.length === 0) break;
      const refined = refineSpatial(pairs, toCandidate(spatial), { content });
      // a full search on the matched pairs catches a placement found on mismatched times
      if (refined.score >= 0.9) {
        spatial = toSpatial(refined, spatial.content ?? null, null);
        spatial.runnerUp = runnerUpOf(spatial);
        break;
      }
      const again = searchSpatial(pairs.map((q) => q.fg), pairs.map((q) => q.bg), searchOpts);
      const runnerUp = spatial.runnerUp ?? null;
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
  if (
    !opts.force && temporal.confidence !== null && temporal.confidence < MIN_TEMPORAL_CONFIDENCE
  ) {
    throw new VidkompyError(
      `fg and bg do not show the same footage (best temporal match ${fmt(temporal.confidence)} < ` +
        `${MIN_TEMPORAL_CONFIDENCE}, spatial ${
          fmt(spatial.confidence)
        }); check the inputs, or pass --force`,
      ExitCode.NoAlignment,
    );
  }
  (embedderCache as BatchEmbedder | null)?.destroy();
  return {
    alignment: { vidkompy: 1, bg: summarize(bg), fg: summarize(fg), spatial, temporal },
    stages,
    backend,
  };
}
