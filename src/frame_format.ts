/**
 * Raw frame layouts exchanged with ffmpeg.
 * @module
 */

/** Pixel formats vidkompy reads from and writes to ffmpeg. */
export type RawPixelFormat = "yuv420p" | "gray";

/** Bytes of one raw frame of `width` x `height` in `format`. */
export function frameBytes(format: RawPixelFormat, width: number, height: number): number {
  if (format === "gray") return width * height;
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  return width * height + 2 * cw * ch;
}
