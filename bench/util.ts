/**
 * Bench helpers: running commands with wall time and peak RSS, making inputs.
 * @module
 */

/** Result of a timed run. */
export interface Timed {
  /** Wall seconds. */
  seconds: number;
  /** Peak resident set size of the process tree's largest member, in MB (when measurable). */
  peakRssMb: number | null;
  /** Exit code. */
  code: number;
  /** stderr text. */
  stderr: string;
  /** stdout text. */
  stdout: string;
}

/** Runs `cmd args` under /usr/bin/time when available (peak RSS) and measures wall time. */
export async function timed(cmd: string, args: string[]): Promise<Timed> {
  const hasTime = (() => {
    try {
      return Deno.statSync("/usr/bin/time").isFile;
    } catch {
      return false;
    }
  })();
  const t0 = performance.now();
  const out = await new Deno.Command(hasTime ? "/usr/bin/time" : cmd, {
    args: hasTime ? ["-f", "VKRSS %M", cmd, ...args] : args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  let stderr = new TextDecoder().decode(out.stderr);
  let peakRssMb: number | null = null;
  const m = stderr.match(/VKRSS (\d+)/);
  if (m) {
    peakRssMb = Number(m[1]) / 1024;
    stderr = stderr.replace(/VKRSS \d+\n?/, "");
  }
  return {
    seconds,
    peakRssMb,
    code: out.code,
    stderr,
    stdout: new TextDecoder().decode(out.stdout),
  };
}

/** Runs ffmpeg quietly and throws on failure. */
export async function ff(args: string[]): Promise<void> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** The deno executable running this bench. */
export const DENO = Deno.execPath();

/** True when `file` exists and is not empty (inputs kept from an earlier bench run). */
export async function exists(file: string): Promise<boolean> {
  try {
    return (await Deno.stat(file)).size > 0;
  } catch {
    return false;
  }
}

/** Arguments that run the vidkompy CLI from source. */
export function vidkompyArgs(args: string[]): string[] {
  return ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname, ...args];
}

/** Formats a markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
  return lines.join("\n");
}

/** What the ffmpeg-only reference command needs to make vidkompy's output. */
export interface OverlaySpec {
  /** Background file. */
  bg: string;
  /** Foreground file. */
  fg: string;
  /** fg's left edge in bg. */
  x: number;
  /** fg's top edge in bg. */
  y: number;
  /** bg seconds at fg's first frame. */
  offset: number;
  /** Output frames (fg's). */
  frames: number;
  /** libx264 preset. */
  preset: string;
  /** Output file. */
  out: string;
}

/**
 * The ffmpeg-only command that makes the same output as `vidkompy comp` when the alignment is
 * known: same decoder, overlay position, libx264 settings (crf 18), fg's frames and audio.
 */
export function ffmpegOverlayArgs(s: OverlaySpec): string[] {
  return [
    "-hide_banner",
    "-nostdin",
    "-v",
    "error",
    "-y",
    "-ss",
    String(s.offset),
    "-i",
    s.bg,
    "-i",
    s.fg,
    "-filter_complex",
    `[0:v][1:v]overlay=x=${s.x}:y=${s.y}:eof_action=repeat:shortest=0[v]`,
    "-map",
    "[v]",
    "-map",
    "1:a:0?",
    "-frames:v",
    String(s.frames),
    "-c:v",
    "libx264",
    "-crf",
    "18",
    "-preset",
    s.preset,
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    "-b:a",
    "192k",
    "-movflags",
    "+faststart",
    s.out,
  ];
}

/** Encodes `src` from `ss` seconds through the video filter `vf` (libx264 veryfast, aac). */
export function encodeVia(
  src: string,
  out: string,
  vf: string,
  opts: { ss?: number; t?: number; crf?: number } = {},
): Promise<void> {
  return ff([
    ...(opts.ss ? ["-ss", String(opts.ss)] : []),
    "-i",
    src,
    ...(opts.t ? ["-t", String(opts.t)] : []),
    "-vf",
    vf,
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-crf",
    String(opts.crf ?? 20),
    "-c:a",
    "aac",
    out,
  ]);
}
