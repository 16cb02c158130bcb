/**
 * `--preview out.png`: a picture to check an alignment at a glance. Top: the bg frame under fg's
 * middle frame (gray) with fg's footprint outlined in yellow. Bottom: the time map, fg frame on
 * x against bg frame on y (up), each point coloured by its match score from red (0) to green
 * (1), held frames (fg outside bg's time span) grey, frames without a score blue; jumps in the
 * map show as breaks between the points.
 * @module
 */
import type { Alignment } from "./alignment.ts";
import { VidkompyError } from "./errors.ts";
import { grabGrayFrames } from "./frame_grab.ts";
import { type GrayImage, resizeGray } from "./gray_image.ts";
import { AtomicOutput } from "./output_path.ts";
import { lastRelevantLine, spawnTool } from "./process.ts";
import type { VideoInfo } from "./probe.ts";
import type { Tools } from "./tools.ts";

/** An RGB image (rgb24, row-major). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes. */
  data: Uint8Array;
}

/** The preview's widest frame panel; wider bg frames are scaled down to it. */
export const PREVIEW_MAX_WIDTH = 960;
/** Height of the time-map plot below the frame. */
export const PLOT_HEIGHT = 160;
/** Outline colour of fg's footprint. */
export const OUTLINE_RGB: readonly [number, number, number] = [255, 230, 0];
/** Colour of held frames in the plot. */
export const HELD_RGB: readonly [number, number, number] = [128, 128, 128];

/** Geometry of a preview: where the frame and the plot go. */
export interface PreviewLayout {
  /** Total width. */
  width: number;
  /** Total height (frame panel + plot). */
  height: number;
  /** Frame panel scale (panel px per bg px). */
  scale: number;
  /** Frame panel height. */
  frameHeight: number;
}

/** The layout for a bg of `bgWidth` x `bgHeight`. */
export function previewLayout(bgWidth: number, bgHeight: number): PreviewLayout {
  const scale = Math.min(1, PREVIEW_MAX_WIDTH / bgWidth);
  const width = Math.max(64, Math.round(bgWidth * scale)) & ~1;
  const frameHeight = Math.max(2, Math.round(bgHeight * scale));
  const height = (frameHeight + PLOT_HEIGHT) & ~1 || 2;
  return { width, height, scale: width / bgWidth, frameHeight };
}

function scoreColour(s: number): [number, number, number] {
  const t = Math.max(0, Math.min(1, s));
  return [Math.round(255 * (1 - t)), Math.round(255 * t), 0];
}

/**
 * Builds the preview picture (pure). `bgFrame` is the bg frame under fg's middle frame at bg's
 * size; `bgFrames` is bg's frame count (the plot's y range).
 */
export function renderPreview(
  bgFrame: GrayImage,
  alignment: Alignment,
  bgFrames: number,
): RgbImage {
  const L = previewLayout(bgFrame.width, bgFrame.height);
  const { width, height } = L;
  const data = new Uint8Array(width * height * 3);
  const put = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = (y * width + x) * 3;
    data[o] = c[0];
    data[o + 1] = c[1];
    data[o + 2] = c[2];
  };
  // frame panel
  const panel = resizeGray(bgFrame, width, Math.min(L.frameHeight, height));
  for (let y = 0; y < panel.height; y++) {
    for (let x = 0; x < width; x++) {
      const v = panel.data[y * width + x];
      put(x, y, [v, v, v]);
    }
  }
  // fg's footprint outline (2 px inside the footprint, clipped to the panel)
  const sp = alignment.spatial;
  const x0 = Math.round(sp.x * L.scale), y0 = Math.round(sp.y * L.scale);
  const x1 = Math.round((sp.x + sp.width) * L.scale) - 1;
  const y1 = Math.round((sp.y + sp.height) * L.scale) - 1;
  const inPanel = (x: number, y: number) => y < L.frameHeight && put(x, y, OUTLINE_RGB);
  for (let t = 0; t < 2; t++) {
    for (let x = x0; x <= x1; x++) {
      inPanel(x, y0 + t);
      inPanel(x, y1 - t);
    }
    for (let y = y0; y <= y1; y++) {
      inPanel(x0 + t, y);
      inPanel(x1 - t, y);
    }
  }
  // plot: dark background, frame border, points
  const top = L.frameHeight, pad = 6;
  for (let y = top; y < height; y++) for (let x = 0; x < width; x++) put(x, y, [24, 24, 24]);
  const pw = width - 2 * pad, ph = height - top - 2 * pad;
  for (let x = pad - 1; x <= pad + pw; x++) {
    put(x, top + pad - 1, [80, 80, 80]);
    put(x, top + pad + ph, [80, 80, 80]);
  }
  for (let y = top + pad - 1; y <= top + pad + ph; y++) {
    put(pad - 1, y, [80, 80, 80]);
    put(pad + pw, y, [80, 80, 80]);
  }
  const tp = alignment.temporal, n = tp.map.length;
  for (let i = 0; i < n; i++) {
    const px = pad + Math.round(n > 1 ? (i * (pw - 1)) / (n - 1) : (pw - 1) / 2);
    const b = tp.map[i];
    const py = top + pad + ph - 1 - Math.round(bgFrames > 1 ? (b * (ph - 1)) / (bgFrames - 1) : 0);
    const c = tp.held?.[i] ? HELD_RGB : tp.scores ? scoreColour(tp.scores[i]) : [60, 140, 255];
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) put(px + dx, py + dy, c);
  }
  return { width, height, data };
}

/** Encodes `img` as PNG with ffmpeg (rgb24 on stdin) into `file`. */
export async function encodePng(ffmpeg: string, img: RgbImage, file: string): Promise<void> {
  const sp = spawnTool(ffmpeg, [
    "-hide_banner",
    "-nostdin",
    "-v",
    "error",
    "-y",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "-s",
    `${img.width}x${img.height}`,
    "-i",
    "pipe:0",
    "-frames:v",
    "1",
    "-c:v",
    "png",
    "-f",
    "image2",
    "-update",
    "1",
    "file:" + file,
  ], { stdin: "piped" });
  const w = sp.child.stdin.getWriter();
  try {
    await w.write(img.data);
    await w.close();
  } catch {
    // ffmpeg failed early: its status says why
  }
  const st = await sp.status;
  if (!st.success) {
    throw new VidkompyError(
      `writing the preview '${file}' failed (${
        lastRelevantLine(sp.stderrTail()) || `ffmpeg exit code ${st.code}`
      }); check the path`,
    );
  }
}

/**
 * Writes the preview of `alignment` to `target` (atomically: a temporary file renamed at the
 * end). The bg frame shown is the one under fg's middle frame.
 */
export async function writePreview(
  tools: Tools,
  bg: VideoInfo,
  alignment: Alignment,
  target: string,
): Promise<void> {
  const map = alignment.temporal.map;
  const bgIndex = map.length ? map[Math.floor((map.length - 1) / 2)] : 0;
  const [frame] = await grabGrayFrames(bg, [bgIndex], { ffmpeg: tools.ffmpeg }, "bg");
  if (!frame) throw new VidkompyError(`bg '${bg.path}' gave no frame ${bgIndex}; check the file`);
  const img = renderPreview(frame, alignment, bg.frameCount);
  const out = new AtomicOutput(target);
  try {
    await encodePng(tools.ffmpeg, img, out.temp);
    out.commit();
  } catch (e) {
    out.discard();
    throw e;
  }
}
