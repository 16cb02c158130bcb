/**
 * Pasting a foreground frame onto a background frame (yuv420p, pure functions).
 * @module
 */

/** A yuv420p frame: luma plane then two chroma planes of ceil(w/2) x ceil(h/2). */
export interface YuvFrame {
  /** Frame bytes. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Feather mask for a fg of `width` x `height` placed at (x, y) on a `canvasW` x `canvasH`
 * canvas: 255 inside, a linear ramp over `margin` px on each edge where bg is visible beyond
 * it (corners take the minimum of both ramps); edges that touch or pass the canvas edge stay
 * hard. Returns null when no edge is feathered.
 */
export function featherMask(
  width: number,
  height: number,
  x: number,
  y: number,
  canvasW: number,
  canvasH: number,
  margin: number,
): Uint8Array | null {
  if (margin <= 0) return null;
  const left = x > 0;
  const top = y > 0;
  const right = x + width < canvasW;
  const bottom = y + height < canvasH;
  if (!left && !top && !right && !bottom) return null;
  const ramp = (d: number): number => Math.min(1, (d + 0.5) / margin);
  const colW = new Float32Array(width);
  for (let i = 0; i < width; i++) {
    let w = 1;
    if (left) w = Math.min(w, ramp(i));
    if (right) w = Math.min(w, ramp(width - 1 - i));
    colW[i] = w;
  }
  const mask = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) {
    let rw = 1;
    if (top) rw = Math.min(rw, ramp(j));
    if (bottom) rw = Math.min(rw, ramp(height - 1 - j));
    const row = j * width;
    for (let i = 0; i < width; i++) mask[row + i] = Math.round(255 * Math.min(rw, colW[i]));
  }
  return mask;
}

function pastePlane(
  dst: Uint8Array,
  dOff: number,
  dw: number,
  dh: number,
  src: Uint8Array,
  sOff: number,
  sw: number,
  sh: number,
  x: number,
  y: number,
  mask: Uint8Array | null,
  maskW: number,
  maskStep: number,
): void {
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(dw, x + sw);
  const y1 = Math.min(dh, y + sh);
  if (x1 <= x0 || y1 <= y0) return;
  const n = x1 - x0;
  for (let dy = y0; dy < y1; dy++) {
    const sy = dy - y;
    const sRow = sOff + sy * sw + (x0 - x);
    const dRow = dOff + dy * dw + x0;
    if (!mask) {
      dst.set(src.subarray(sRow, sRow + n), dRow);
      continue;
    }
    const mRow = sy * maskStep * maskW;
    // fast path: fully opaque row segment
    let opaque = true;
    for (let i = 0; i < n; i += 1) {
      if (mask[mRow + (x0 - x + i) * maskStep] !== 255) {
        opaque = false;
        break;
      }
    }
    if (opaque) {
      dst.set(src.subarray(sRow, sRow + n), dRow);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const a = mask[mRow + (x0 - x + i) * maskStep];
      const s = src[sRow + i];
      const d = dst[dRow + i];
      dst[dRow + i] = (d * (255 - a) + s * a + 127) / 255;
    }
  }
}

/**
 * Pastes `fg` onto `bg` (in place) with fg's top-left at (x, y) in bg pixels, clipping what
 * falls outside. `mask` (fg-sized luma alpha, from {@link featherMask}) blends the edges.
 * Chroma is placed at (floor(x/2), floor(y/2)).
 */
export function pasteYuv420(
  bg: YuvFrame,
  fg: YuvFrame,
  x: number,
  y: number,
  mask: Uint8Array | null = null,
): void {
  const bw = bg.width, bh = bg.height, fw = fg.width, fh = fg.height;
  pastePlane(bg.data, 0, bw, bh, fg.data, 0, fw, fh, x, y, mask, fw, 1);
  const bcw = Math.ceil(bw / 2), bch = Math.ceil(bh / 2);
  const fcw = Math.ceil(fw / 2), fch = Math.ceil(fh / 2);
  const cx = Math.floor(x / 2), cy = Math.floor(y / 2);
  // chroma mask samples the luma mask at even positions (row stride 2*fw, col step 2)
  const bU = bw * bh, fU = fw * fh;
  const bV = bU + bcw * bch, fV = fU + fcw * fch;
  if (mask && (fw % 2 !== 0 || fh % 2 !== 0)) {
    const cm = chromaMask(mask, fw, fh);
    pastePlane(bg.data, bU, bcw, bch, fg.data, fU, fcw, fch, cx, cy, cm, fcw, 1);
    pastePlane(bg.data, bV, bcw, bch, fg.data, fV, fcw, fch, cx, cy, cm, fcw, 1);
    return;
  }
  pastePlane(bg.data, bU, bcw, bch, fg.data, fU, fcw, fch, cx, cy, mask, fw, mask ? 2 : 1);
  pastePlane(bg.data, bV, bcw, bch, fg.data, fV, fcw, fch, cx, cy, mask, fw, mask ? 2 : 1);
}

function chromaMask(mask: Uint8Array, fw: number, fh: number): Uint8Array {
  const cw = Math.ceil(fw / 2), ch = Math.ceil(fh / 2);
  const out = new Uint8Array(cw * ch);
  for (let j = 0; j < ch; j++) {
    for (let i = 0; i < cw; i++) {
      out[j * cw + i] = mask[Math.min(fh - 1, 2 * j) * fw + Math.min(fw - 1, 2 * i)];
    }
  }
  return out;
}
