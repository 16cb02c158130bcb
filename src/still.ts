/**
 * Still images (png, jpg, webp …) as 8-bit gray: ffprobe gives the size, ffmpeg decodes the
 * first picture to raw gray on a pipe. Stills have no packet timestamps, so the video probe
 * ({@link probeVideo}) refuses them; this loader is for them.
 * @module
 */
import { VidkompyError } from "./errors.ts";
import type { GrayImage } from "./gray_image.ts";
import { lastRelevantLine, runTool, spawnTool } from "./process.ts";
import { MAX_DIMENSION, MAX_PIXELS } from "./probe.ts";

/** ffmpeg demuxers that read single still images. */
const STILL_FORMATS =
  /(^|,)(image2|png_pipe|jpeg_pipe|webp_pipe|bmp_pipe|gif_pipe|tiff_pipe|jpegls_pipe|pgm_pipe|ppm_pipe|pam_pipe|qoi_pipe)(,|$)/;

/** What {@link probeStill} found. */
export interface StillInfo {
  /** The file path as given. */
  path: string;
  /** True when the file is a still image (not a video). */
  still: boolean;
  /** Picture width (first video stream). */
  width: number;
  /** Picture height. */
  height: number;
}

/**
 * Asks ffprobe for the container format and the first picture's size. Throws a
 * {@link VidkompyError} (exit 1) when the file is missing or not a picture at all.
 */
export async function probeStill(
  ffprobe: string,
  file: string,
  role = "input",
): Promise<StillInfo> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(file);
  } catch {
    throw new VidkompyError(`${role} file not found: '${file}'; check the path`);
  }
  if (!st.isFile || st.size === 0) {
    throw new VidkompyError(`${role} '${file}' is not a non-empty file; give an image or a video`);
  }
  const res = await runTool(ffprobe, [
    "-v",
    "error",
    "-print_format",
    "json",
    "-show_entries",
    "format=format_name:stream=codec_type,width,height",
    "file:" + file,
  ]);
  if (res.code !== 0) {
    const why = lastRelevantLine(res.stderr) || "unrecognised format";
    throw new VidkompyError(`${role} '${file}' is not a readable image or video (${why})`, 1, {
      detail: res.stderr.join("\n"),
    });
  }
  let parsed: {
    format?: { format_name?: string };
    streams?: { codec_type?: string; width?: number; height?: number }[];
  };
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    throw new VidkompyError(`ffprobe gave unreadable output for ${role} '${file}'`);
  }
  const v = (parsed.streams ?? []).find((s) => s.codec_type === "video");
  const width = v?.width ?? 0, height = v?.height ?? 0;
  if (!v || width <= 0 || height <= 0) {
    throw new VidkompyError(`${role} '${file}' has no picture; give an image or a video`);
  }
  if (width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > MAX_PIXELS) {
    throw new VidkompyError(`${role} '${file}' claims an absurd size ${width}x${height}`);
  }
  return { path: file, still: STILL_FORMATS.test(parsed.format?.format_name ?? ""), width, height };
}

/**
 * Decodes the first picture of `info.path` as gray (`-frames:v 1 -f rawvideo -pix_fmt gray`).
 * Throws a {@link VidkompyError} when ffmpeg fails or gives fewer bytes than the size implies.
 */
export async function loadStillGray(
  ffmpeg: string,
  info: StillInfo,
  role = "input",
): Promise<GrayImage> {
  const { width, height } = info;
  const sp = spawnTool(ffmpeg, [
    "-hide_banner",
    "-nostdin",
    "-v",
    "error",
    "-i",
    "file:" + info.path,
    "-frames:v",
    "1",
    "-vf",
    `scale=${width}:${height},format=gray`,
    "-f",
    "rawvideo",
    "-pix_fmt",
    "gray",
    "pipe:1",
  ], { stdout: "piped" });
  const [st, bytes] = await Promise.all([
    sp.status,
    new Response(sp.child.stdout).arrayBuffer(),
  ]);
  const data = new Uint8Array(bytes);
  if (!st.success || data.length < width * height) {
    const why = lastRelevantLine(sp.stderrTail()) || `ffmpeg exit code ${st.code}`;
    throw new VidkompyError(`decoding ${role} '${info.path}' failed (${why}); check the file`, 1, {
      detail: sp.stderrTail().join("\n"),
    });
  }
  return { width, height, data: data.slice(0, width * height) };
}
