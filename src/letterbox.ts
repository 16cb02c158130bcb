/**
 * Letterbox / pillarbox detection: finds the content rectangle of a video from a few sample
 * frames by peeling off edge rows/columns that are flat (one constant colour, typically black)
 * in every sample.
 * @module
 */
import type { GrayImage, Rect } from "./gray_image.ts";

/** Tunables of {@link detectContentRect}. */
export interface LetterboxOptions {
  /** Largest standard deviation (luma levels) of a bar line in any frame (default 2.5). */
  maxStd?: number;
  /** A pixel deviating from the bar colour by more than this counts as an outlier (default 10). */
  tolerance?: number;
  /** Largest fraction of outlier pixels in a bar line (default 0.01). */
  maxOutliers?: number;
  /** Thinnest bar that counts, in pixels (default 2). */
  minBar?: number;
  /** Smallest content size, as a fraction of the frame per axis, else no bars (default 0.2). */
  minContent?: number;
}

type Side = "top" | "bottom" | "left" | "right";

interface LineStats {
  mean: number;
  std: number;
}

/** Mean and standard deviation of line `i` of a side (row for top/bottom, column otherwise). */
function lineStats(img: GrayImage, side: Side, i: number): LineStats {
  const { width: w, height: h, data } = img;
  const horizontal = side === "top" || side === "bottom";
  const n = horizontal ? w : h;
  const fixed = side === "top"
    ? i
    : side === "bottom"
    ? h - 1 - i
    : side === "left"
    ? i
    : w - 1 - i;
  let s = 0, q = 0;
  if (horizontal) {
    const o = fixed * w;
    for (let x = 0; x < w; x++) {
      const v = data[o + x];
      s += v;
      q += v * v;
    }
  } else {
    for (let y = 0, o = fixed; y < h; y++, o += w) {
      const v = data[o];
      s += v;
      q += v * v;
    }
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, q / n - mean * mean)) };
}

/** Fraction of pixels of line `i` of a side further than `tol` from `colour`. */
function outlierFraction(
  img: GrayImage,
  side: Side,
  i: number,
  colour: number,
  tol: number,
): number {
  const { width: w, height: h, data } = img;
  const horizontal = side === "top" || side === "bottom";
  const fixed = side === "top"
    ? i
    : side === "bottom"
    ? h - 1 - i
    : side === "left"
    ? i
    : w - 1 - i;
  let bad = 0;
  if (horizontal) {
    const o = fixed * w;
    for (let x = 0; x < w; x++) if (Math.abs(data[o + x] - colour) > tol) bad++;
    return bad / w;
  }
  for (let y = 0, o = fixed; y < h; y++, o += w) if (Math.abs(data[o] - colour) > tol) bad++;
  return bad / h;
}

function barThickness(frames: GrayImage[], side: Side, o: Required<LetterboxOptions>): number {
  const { width: w, height: h } = frames[0];
  const limit = Math.floor((side === "top" || side === "bottom" ? h : w) / 2);
  // the bar colour: the outermost line of the first frame; all frames must agree on it
  const first = lineStats(frames[0], side, 0);
  const colour = first.mean;
  let i = 0;
  for (; i < limit; i++) {
    let bar = true;
    for (const f of frames) {
      const st = lineStats(f, side, i);
      if (
        st.std > o.maxStd || Math.abs(st.mean - colour) > o.tolerance * 0.6 ||
        outlierFraction(f, side, i, colour, o.tolerance) > o.maxOutliers
      ) {
        bar = false;
        break;
      }
    }
    if (!bar) break;
  }
  return i >= o.minBar ? i : 0;
}

/**
 * The content rectangle of fg, excluding letterbox/pillarbox bars: edge rows/columns that are
 * near-constant along the line and across all sample frames, in one colour (any colour,
 * typically black), at least `minBar` (2) pixels thick. A dark but textured scene edge is not
 * a bar. When the bars would leave less than `minContent` of the frame (e.g. all samples are
 * black), or there are none, the whole frame is returned. Frames whose size differs from the
 * first one's are ignored.
 */
export function detectContentRect(frames: GrayImage[], opts: LetterboxOptions = {}): Rect {
  if (frames.length === 0) throw new RangeError("detectContentRect: no frames");
  const o: Required<LetterboxOptions> = {
    maxStd: opts.maxStd ?? 2.5,
    tolerance: opts.tolerance ?? 10,
    maxOutliers: opts.maxOutliers ?? 0.01,
    minBar: Math.max(1, opts.minBar ?? 2),
    minContent: opts.minContent ?? 0.2,
  };
  const { width: w, height: h } = frames[0];
  const whole: Rect = { x: 0, y: 0, width: w, height: h };
  const same = frames.filter((f) => f.width === w && f.height === h);
  if (w < 4 || h < 4) return whole;
  const top = barThickness(same, "top", o);
  const bottom = barThickness(same, "bottom", o);
  const left = barThickness(same, "left", o);
  const right = barThickness(same, "right", o);
  const cw = w - left - right, ch = h - top - bottom;
  const okX = cw >= Math.max(2, o.minContent * w);
  const okY = ch >= Math.max(2, o.minContent * h);
  return {
    x: okX ? left : 0,
    y: okY ? top : 0,
    width: okX ? cw : w,
    height: okY ? ch : h,
  };
}
