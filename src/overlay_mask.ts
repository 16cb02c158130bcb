/**
 * Overlays that fg shows and bg lacks (a channel logo, burnt-in captions, a timestamp): found on
 * one time-matched pair of thumbnails of fg's content and of its footprint in bg, and left out
 * of the frame embeddings of both inputs. A bright logo covering 3 % of fg otherwise dominates
 * fg's edge-energy embeddings, and the temporal match drops towards the "unrelated inputs"
 * threshold. Pure: no I/O.
 * @module
 */
import type { GrayImage, PixelArray, Rect } from "./gray_image.ts";

/**
 * Residual (in units of the pictures' standard deviation, smoothed over 3×3 pixels) above which
 * a pixel disagrees. At 0.6 no mask was found on any pair of the accuracy and speed benches
 * (crops, grades, 2× scaling, crf 28-35 re-encodes, 2026-12-08), and a 40 % white caption bar
 * is masked whole (at 0.8, in part: its temporal match stayed at 0.79).
 */
export const OVERLAY_RESIDUAL = 0.6;
/** Smallest masked share of the picture: below it, the disagreement is noise. */
export const OVERLAY_MIN_SHARE = 0.005;
/**
 * Largest masked share: above it, the pair disagrees broadly (a wrong moment or placement, not
 * an overlay) and nothing is masked.
 */
export const OVERLAY_MAX_SHARE = 0.25;
/** Pixels the mask grows by, so that the embedding's 5×5 edge filters do not see its rim. */
export const OVERLAY_GROW = 2;

/** Mean and standard deviation of `a` over the pixels where `skip` is 0 (all when absent). */
function stats(a: PixelArray, skip: Uint8Array | null): { mean: number; std: number } {
  let s = 0, q = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (skip && skip[i]) continue;
    s += a[i];
    q += a[i] * a[i];
    n++;
  }
  const mean = n ? s / n : 0;
  return { mean, std: Math.sqrt(Math.max(0, (n ? q / n : 0) - mean * mean)) };
}

/**
 * Where fg's picture `fg` disagrees with bg's `bg` (the same `width x height` view of the same
 * moment, e.g. 64×64 thumbnails): both normalised to zero mean and unit deviation (grading
 * invariant; the statistics are taken again without the disagreeing pixels), the residual
 * smoothed over 3×3 pixels, thresholded at {@link OVERLAY_RESIDUAL}, grown by
 * {@link OVERLAY_GROW}. Returns the mask (1 = overlay), or null when less than
 * {@link OVERLAY_MIN_SHARE} or more than {@link OVERLAY_MAX_SHARE} of the picture disagrees, or
 * when either picture is flat.
 */
export function overlayMask(
  fg: PixelArray,
  bg: PixelArray,
  width: number,
  height: number,
): Uint8Array | null {
  const n = width * height;
  if (fg.length < n || bg.length < n) throw new RangeError("overlayMask: pictures too small");
  let mask: Uint8Array | null = null;
  const res = new Float32Array(n);
  const smooth = new Float32Array(n);
  for (let pass = 0; pass < 2; pass++) {
    const f = stats(fg, mask), b = stats(bg, mask);
    if (f.std < 1 || b.std < 1) return null;
    for (let i = 0; i < n; i++) {
      res[i] = Math.abs((fg[i] - f.mean) / f.std - (bg[i] - b.mean) / b.std);
    }
    const next = new Uint8Array(n);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let s = 0, c = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= height) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= width) continue;
            s += res[yy * width + xx];
            c++;
          }
        }
        smooth[y * width + x] = s / c;
        if (s / c > OVERLAY_RESIDUAL) next[y * width + x] = 1;
      }
    }
    mask = next;
  }
  const grown = grow(mask!, width, height, OVERLAY_GROW);
  let count = 0;
  for (let i = 0; i < n; i++) count += grown[i];
  let core = 0;
  for (let i = 0; i < n; i++) core += mask![i];
  if (core < OVERLAY_MIN_SHARE * n || count > OVERLAY_MAX_SHARE * n) return null;
  return grown;
}

/** `mask` dilated by `r` pixels (a square). */
function grow(mask: Uint8Array, width: number, height: number, r: number): Uint8Array {
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let xx = Math.max(0, x - r); xx <= Math.min(width - 1, x + r); xx++) {
        rows[y * width + xx] = 1;
      }
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!rows[y * width + x]) continue;
      for (let yy = Math.max(0, y - r); yy <= Math.min(height - 1, y + r); yy++) {
        out[yy * width + x] = 1;
      }
    }
  }
  return out;
}

/**
 * Fills the masked pixels of `picture` (in place) with the mean of the others, so that the
 * same flat patch stands in fg's and bg's pictures where fg shows its overlay.
 */
export function applyOverlayMask(picture: Uint8Array, mask: Uint8Array): void {
  let s = 0, n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) continue;
    s += picture[i];
    n++;
  }
  const fill = n ? Math.round(s / n) : 128;
  for (let i = 0; i < mask.length; i++) if (mask[i]) picture[i] = fill;
}

/** Share (0-1) of the picture that `mask` covers. */
export function maskShare(mask: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < mask.length; i++) c += mask[i];
  return mask.length ? c / mask.length : 0;
}

/**
 * Fills the pixels of `img` inside `rect` (the region a thumbnail mask covers, fg pixels) whose
 * mask cell is set with the mean of the region's other pixels: the overlay left out of a
 * full-resolution comparison too. Returns a new picture.
 */
export function maskPicture(
  img: GrayImage,
  mask: Uint8Array,
  maskW: number,
  maskH: number,
  rect: Rect,
): GrayImage {
  const out = { width: img.width, height: img.height, data: img.data.slice() };
  const x0 = Math.max(0, Math.floor(rect.x)), y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(img.width, Math.ceil(rect.x + rect.width));
  const y1 = Math.min(img.height, Math.ceil(rect.y + rect.height));
  const cell = (x: number, y: number) => {
    const mx = Math.min(maskW - 1, Math.floor(((x + 0.5 - rect.x) * maskW) / rect.width));
    const my = Math.min(maskH - 1, Math.floor(((y + 0.5 - rect.y) * maskH) / rect.height));
    return mask[Math.max(0, my) * maskW + Math.max(0, mx)];
  };
  let s = 0, n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      if (cell(x, y)) continue;
      s += img.data[y * img.width + x];
      n++;
    }
  }
  const fill = n ? Math.round(s / n) : 128;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) if (cell(x, y)) out.data[y * img.width + x] = fill;
  }
  return out;
}
