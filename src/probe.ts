/**
 * Probing a media file with ffprobe: display size, sample aspect ratio, rotation, pixel
 * format, per-frame presentation timestamps (VFR-safe) and audio.
 * @module
 */
import { VidkompyError } from "./errors.ts";
import { lastRelevantLine, runTool } from "./process.ts";

/** What vidkompy knows about one input video. */
export interface VideoInfo {
  /** The file path as given. */
  path: string;
  /** Display width in square pixels (after rotation and sample aspect ratio). */
  width: number;
  /** Display height in square pixels (after rotation and sample aspect ratio). */
  height: number;
  /** Coded width and height as stored. */
  codedWidth: number;
  /** Coded height as stored. */
  codedHeight: number;
  /** Sample aspect ratio as a number (1 for square pixels). */
  sar: number;
  /** Rotation in degrees from the display matrix (0, 90, 180, 270). */
  rotation: number;
  /** Pixel format of the video stream. */
  pixFmt: string;
  /** Video codec name. */
  codec: string;
  /** Presentation time (pts) of every frame in seconds, as stored in the file (ascending). */
  frameTimes: Float64Array;
  /** Number of frames. */
  frameCount: number;
  /** Nominal frame rate (frames / duration, or the stream's average rate). */
  fps: number;
  /** The stream's frame rate as a rational string such as "30000/1001". */
  fpsRational: string;
  /** True when frame intervals vary by more than 1 %. */
  vfr: boolean;
  /** Duration of the video stream in seconds (first frame start to last frame end). */
  duration: number;
  /** Start time of the file (container) in seconds. */
  startTime: number;
  /** Start time of the video stream (first frame) in seconds. */
  videoStart: number;
  /**
   * Indices (presentation order) of the frames that start a decodable group (keyframes), when
   * the container marks them; lets sparse frame grabs seek instead of decoding from the start.
   */
  keyframes?: Int32Array;
  /** Audio stream, if any. */
  audio: { codec: string; sampleRate: number; channels: number; startTime: number } | null;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  start_time?: string;
  sample_rate?: string;
  channels?: number;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
  disposition?: { attached_pic?: number };
}

function parseRational(s: string | undefined): number {
  if (!s) return 0;
  const [a, b] = s.split("/").map(Number);
  if (b === undefined) return Number.isFinite(a) ? a : 0;
  return b ? a / b : 0;
}

/** Largest width or height vidkompy accepts (anything larger is a damaged or hostile header). */
export const MAX_DIMENSION = 16384;
/** Largest picture area accepted: 2^27 px (16K UHD is 132.7 Mpx); one frame is then ≤ 192 MiB. */
export const MAX_PIXELS = 2 ** 27;

function absurdSize(
  role: string,
  file: string,
  w: number | string,
  h: number | string,
): VidkompyError {
  return new VidkompyError(
    `${role} '${file}' declares an absurd picture size ${w}x${h} (limit ${MAX_DIMENSION} px a side, ` +
      `${MAX_PIXELS / 2 ** 20} Mpx); check that it is a real, undamaged video`,
  );
}

/** Probes both inputs; when both fail, bg's error is reported. No probe is left running. */
export async function probeBoth(
  ffprobe: string,
  bgPath: string,
  fgPath: string,
): Promise<{ bg: VideoInfo; fg: VideoInfo }> {
  const [bg, fg] = await Promise.allSettled([
    probeVideo(ffprobe, bgPath, "bg"),
    probeVideo(ffprobe, fgPath, "fg"),
  ]);
  if (bg.status === "rejected") throw bg.reason;
  if (fg.status === "rejected") throw fg.reason;
  return { bg: bg.value, fg: fg.value };
}

/**
 * Probes `file` and returns its video facts. Throws a {@link VidkompyError} with a one-line
 * message when the file is missing, not a video, has no video stream or zero frames.
 */
export async function probeVideo(
  ffprobe: string,
  file: string,
  role = "input",
): Promise<VideoInfo> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(file);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new VidkompyError(
        `${role} '${file}' cannot be read (permission denied); check its permissions`,
      );
    }
    throw new VidkompyError(`${role} file not found: '${file}'; check the path`);
  }
  if (st.isDirectory) {
    throw new VidkompyError(`${role} '${file}' is a directory; give a video file`);
  }
  if (!st.isFile) {
    throw new VidkompyError(`${role} '${file}' is not a regular file; give a video file`);
  }
  if (st.size === 0) {
    throw new VidkompyError(`${role} '${file}' is empty (0 bytes); give a video file`);
  }
  const meta = await runTool(ffprobe, [
    "-v",
    "error",
    "-print_format",
    "json",
    "-show_format",
    "-show_streams",
    "file:" + file,
  ]);
  if (meta.code !== 0) {
    const size = meta.stderr.join("\n").match(/Picture size (\d+)x(\d+) is invalid/);
    if (size) throw absurdSize(role, file, size[1], size[2]);
    const why = lastRelevantLine(meta.stderr) || "unrecognised format";
    throw new VidkompyError(
      `${role} '${file}' is not a readable video (${why}); check the file`,
      1,
      {
        detail: meta.stderr.join("\n"),
      },
    );
  }
  let parsed: { streams?: FfprobeStream[]; format?: { start_time?: string; format_name?: string } };
  try {
    parsed = JSON.parse(meta.stdout);
  } catch {
    throw new VidkompyError(`ffprobe gave unreadable output for ${role} '${file}'`);
  }
  const streams = parsed.streams ?? [];
  const video = streams.find((s) => s.codec_type === "video" && !s.disposition?.attached_pic);
  if (!video) {
    throw new VidkompyError(`${role} '${file}' has no video stream; give a video file`);
  }
  const formatName = parsed.format?.format_name ?? "";
  if (
    /(^|,)(image2|png_pipe|jpeg_pipe|webp_pipe|bmp_pipe|gif_pipe|tiff_pipe)(,|$)/.test(formatName)
  ) {
    throw new VidkompyError(`${role} '${file}' is a still image, not a video; give a video file`);
  }
  const codedWidth = video.width ?? 0;
  const codedHeight = video.height ?? 0;
  if (codedWidth <= 0 || codedHeight <= 0) {
    throw new VidkompyError(`${role} '${file}' has no usable picture size; check the file`);
  }
  if (
    codedWidth > MAX_DIMENSION || codedHeight > MAX_DIMENSION ||
    codedWidth * codedHeight > MAX_PIXELS
  ) {
    throw absurdSize(role, file, codedWidth, codedHeight);
  }
  let rotation = 0;
  for (const sd of video.side_data_list ?? []) {
    if (typeof sd.rotation === "number") rotation = sd.rotation;
  }
  if (!rotation && video.tags?.rotate) rotation = -Number(video.tags.rotate);
  rotation = ((Math.round(rotation / 90) * 90) % 360 + 360) % 360;
  let sar = parseRational(video.sample_aspect_ratio);
  if (!(sar > 0) || !Number.isFinite(sar)) sar = 1;
  let width = codedWidth;
  let height = codedHeight;
  if (Math.abs(sar - 1) > 1e-3) width = Math.max(2, Math.round(codedWidth * sar));
  if (rotation === 90 || rotation === 270) [width, height] = [height, width];

  const { times: frameTimes, keyframes } = await probeFrameTimes(ffprobe, file, role);
  if (frameTimes.length === 0) {
    throw new VidkompyError(`${role} '${file}' has no video frames; give a video with frames`);
  }
  const audioStream = streams.find((s) => s.codec_type === "audio");
  const startTime = Number(parsed.format?.start_time ?? 0) || 0;
  const n = frameTimes.length;
  const avg = parseRational(video.avg_frame_rate) || parseRational(video.r_frame_rate);
  let fps: number;
  let vfr = false;
  if (n >= 2) {
    const span = frameTimes[n - 1] - frameTimes[0];
    fps = span > 0 ? (n - 1) / span : (avg || 25);
    const mean = span / (n - 1);
    for (let i = 1; i < n; i++) {
      if (Math.abs(frameTimes[i] - frameTimes[i - 1] - mean) > 0.01 * mean + 1e-4) {
        vfr = true;
        break;
      }
    }
  } else {
    fps = avg || 25;
  }
  let fpsRational = video.avg_frame_rate && parseRational(video.avg_frame_rate) > 0
    ? video.avg_frame_rate
    : video.r_frame_rate ?? "25/1";
  if (Math.abs(parseRational(fpsRational) - fps) > 0.01 * fps) {
    fpsRational = `${Math.round(fps * 1000)}/1000`;
  }
  const frameDur = 1 / (fps || 25);
  return {
    path: file,
    width,
    height,
    codedWidth,
    codedHeight,
    sar,
    rotation,
    pixFmt: video.pix_fmt ?? "unknown",
    codec: video.codec_name ?? "unknown",
    frameTimes,
    frameCount: n,
    fps,
    fpsRational,
    vfr,
    duration: frameTimes[n - 1] - frameTimes[0] + frameDur,
    startTime,
    videoStart: frameTimes[0],
    keyframes,
    audio: audioStream
      ? {
        codec: audioStream.codec_name ?? "unknown",
        sampleRate: Number(audioStream.sample_rate ?? 0),
        channels: audioStream.channels ?? 0,
        startTime: Number(audioStream.start_time ?? startTime) || 0,
      }
      : null,
  };
}

/**
 * Reads every video packet's presentation time (pts, else dts), drops discarded packets,
 * and sorts into presentation order.
 */
async function probeFrameTimes(
  ffprobe: string,
  file: string,
  role: string,
): Promise<{ times: Float64Array; keyframes: Int32Array }> {
  const res = await runTool(ffprobe, [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-show_entries",
    "packet=pts_time,dts_time,flags",
    "-of",
    "csv=p=0",
    "file:" + file,
  ]);
  if (res.code !== 0) {
    const why = lastRelevantLine(res.stderr) || "cannot read packets";
    throw new VidkompyError(`${role} '${file}' cannot be read (${why}); check the file`, 1, {
      detail: res.stderr.join("\n"),
    });
  }
  // A cut-off MP4/MOV still lists the packets present, so the loss would go unnoticed.
  const cut = res.stderr.find((l) => /partial file/i.test(l));
  if (cut) {
    throw new VidkompyError(
      `${role} '${file}' is truncated (${lastRelevantLine([cut])}); re-copy it, or keep what is ` +
        `there with 'ffmpeg -i IN -c copy OUT'`,
      1,
      { detail: res.stderr.join("\n") },
    );
  }
  const times: number[] = [];
  const keyTimes: number[] = [];
  for (const line of res.stdout.split("\n")) {
    if (!line) continue;
    const [pts, dts, flags] = line.split(",");
    if (flags && flags.includes("D")) continue;
    let t = Number(pts);
    if (pts === "N/A" || pts === "" || !Number.isFinite(t)) t = Number(dts);
    if (!Number.isFinite(t)) continue;
    times.push(t);
    if (flags && flags.includes("K")) keyTimes.push(t);
  }
  times.sort((a, b) => a - b);
  const out = new Float64Array(times.length);
  for (let i = 0; i < times.length; i++) out[i] = times[i];
  keyTimes.sort((a, b) => a - b);
  const keys: number[] = [];
  let j = 0;
  for (const kt of keyTimes) {
    while (j < out.length && out[j] < kt) j++;
    if (j < out.length && out[j] === kt && keys[keys.length - 1] !== j) keys.push(j);
  }
  return { times: out, keyframes: Int32Array.from(keys) };
}
