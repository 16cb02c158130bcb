/**
 * Test fixtures made with ffmpeg (lavfi sources) and helpers to read results back.
 * @module
 */
import * as path from "node:path";

/** ffmpeg on PATH (tests need it). */
export const FFMPEG = Deno.env.get("VIDKOMPY_FFMPEG") ?? "ffmpeg";
/** ffprobe on PATH. */
export const FFPROBE = Deno.env.get("VIDKOMPY_FFPROBE") ?? "ffprobe";

/** Runs ffmpeg with `args` (quiet); throws with its stderr on failure. */
export async function ffmpeg(args: string[]): Promise<void> {
  const out = await new Deno.Command(FFMPEG, {
    args: ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`ffmpeg ${args.join(" ")}\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Runs ffprobe and returns stdout. */
export async function ffprobe(args: string[]): Promise<string> {
  const out = await new Deno.Command(FFPROBE, {
    args: ["-v", "error", ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`ffprobe failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A fresh temp folder; remove with {@link cleanup}. */
export async function tempDir(prefix = "vidkompy-test-"): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}

/** Removes a folder tree. */
export async function cleanup(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** Presentation times of every video frame of `file` (seconds, as stored, sorted). */
export async function frameTimes(file: string): Promise<number[]> {
  const txt = await ffprobe([
    "-select_streams",
    "v:0",
    "-show_entries",
    "packet=pts_time",
    "-of",
    "csv=p=0",
    file,
  ]);
  return txt.split("\n").filter((l) => l.trim() !== "").map(Number).sort((a, b) => a - b);
}

/** Decodes `file` to gray frames of its display size (optionally cropped). */
export async function grayFrames(
  file: string,
  width: number,
  height: number,
  crop?: { x: number; y: number; w: number; h: number },
): Promise<Uint8Array[]> {
  const vf = [crop ? `crop=${crop.w}:${crop.h}:${crop.x}:${crop.y}` : null, "format=gray"].filter(
    Boolean,
  ).join(",");
  const out = await new Deno.Command(FFMPEG, {
    args: [
      "-v",
      "error",
      "-i",
      file,
      "-vf",
      vf,
      "-fps_mode",
      "passthrough",
      "-f",
      "rawvideo",
      "pipe:1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const w = crop ? crop.w : width, h = crop ? crop.h : height;
  const n = out.stdout.length / (w * h);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) frames.push(out.stdout.subarray(i * w * h, (i + 1) * w * h));
  return frames;
}

/** Mean of a region of a gray frame. */
export function regionMean(
  f: Uint8Array,
  w: number,
  x: number,
  y: number,
  rw: number,
  rh: number,
): number {
  let s = 0;
  for (let j = y; j < y + rh; j++) for (let i = x; i < x + rw; i++) s += f[j * w + i];
  return s / (rw * rh);
}

/** Mean absolute difference of two equally sized buffers. */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/**
 * A bg whose frames are identifiable: frame n is flat grey with luma 16 + 3n (so its index
 * can be read back from any pixel), `frames` frames at `fps`.
 */
export async function makeNumberedBg(
  file: string,
  opts: { width: number; height: number; fps: number; frames: number; audio?: string },
): Promise<void> {
  const args = [
    "-f",
    "lavfi",
    "-i",
    `nullsrc=s=${opts.width}x${opts.height}:r=${opts.fps},geq=lum='16+3*N':cb=128:cr=128`,
  ];
  if (opts.audio) args.push("-f", "lavfi", "-i", opts.audio);
  args.push(
    "-frames:v",
    String(opts.frames),
    "-c:v",
    "libx264",
    "-crf",
    "4",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
  );
  if (opts.audio) args.push("-c:a", "aac", "-t", String(opts.frames / opts.fps));
  args.push(file);
  await ffmpeg(args);
}

/**
 * Reads a numbered bg frame's index back from a luma value decoded as full-range gray
 * (ffmpeg maps limited-range Y 16..235 to 0..255).
 */
export function bgIndexFromLuma(luma: number): number {
  return Math.round((luma * 219) / 255 / 3);
}

/** A textured, moving fg (testsrc2) of `frames` frames; optional audio source and extra vf. */
export async function makeTexturedFg(
  file: string,
  opts: {
    width: number;
    height: number;
    fps: number;
    frames: number;
    audio?: string;
    vf?: string;
    extra?: string[];
  },
): Promise<void> {
  const args = ["-f", "lavfi", "-i", `testsrc2=s=${opts.width}x${opts.height}:r=${opts.fps}`];
  if (opts.audio) args.push("-f", "lavfi", "-i", opts.audio);
  if (opts.vf) args.push("-vf", opts.vf);
  args.push(
    "-frames:v",
    String(opts.frames),
    "-c:v",
    "libx264",
    "-crf",
    "4",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
  );
  if (opts.audio) args.push("-c:a", "aac", "-t", String(opts.frames / opts.fps));
  args.push(...(opts.extra ?? []), file);
  await ffmpeg(args);
}

/** Remuxes `src` to `dst` with a display rotation of `degrees` (stream copy). */
export async function withRotation(src: string, dst: string, degrees: number): Promise<void> {
  await ffmpeg(["-i", src, "-c", "copy", "-metadata:s:v:0", `rotate=${degrees}`, dst]);
}

/** Decodes the first audio stream of `file` as mono f32 at `rate` Hz. */
export async function audioSamples(file: string, rate = 8000): Promise<Float32Array> {
  const out = await new Deno.Command(FFMPEG, {
    args: [
      "-v",
      "error",
      "-i",
      file,
      "-map",
      "0:a:0",
      "-ac",
      "1",
      "-ar",
      String(rate),
      "-f",
      "f32le",
      "pipe:1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new Float32Array(
    out.stdout.buffer.slice(out.stdout.byteOffset, out.stdout.byteOffset + out.stdout.byteLength),
  );
}

/** Files left in `dir` (names). */
export function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** Path helper. */
export function p(dir: string, name: string): string {
  return path.join(dir, name);
}

/** A file's identity for "left untouched" checks: kind, size, mtime and SHA-256. */
async function fileStamp(file: string): Promise<string> {
  const st = await Deno.lstat(file);
  if (st.isSymlink) return `link:${await Deno.readLink(file)}`;
  if (st.isDirectory) return "dir";
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(file)));
  const hex = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${st.size}:${st.mtime?.getTime()}:${hex}`;
}

/** Name → stamp (kind, size, mtime, hash) of every entry directly inside `dir`. */
export async function snapshotDir(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) out.set(e.name, await fileStamp(path.join(dir, e.name)));
  return out;
}

/**
 * What changed in `dir` since `before` (a {@link snapshotDir}): entries added, removed and
 * modified (by name).
 */
export async function diffDir(
  dir: string,
  before: Map<string, string>,
): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
  const after = await snapshotDir(dir);
  const added = [...after.keys()].filter((k) => !before.has(k)).sort();
  const removed = [...before.keys()].filter((k) => !after.has(k)).sort();
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k))
    .sort();
  return { added, removed, changed };
}

/**
 * Runs a POSIX shell script and returns its stdout. Process facts come from /proc through the
 * shell because Deno reads /proc only with --allow-all, and `deno task test` does not grant it;
 * only sh, grep, find and tr are used (no procps).
 */
async function shOut(script: string, env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    env,
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/** One process as seen in /proc/PID/stat. */
interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
}

function parseStat(line: string): ProcStat | null {
  const close = line.lastIndexOf(")");
  if (close < 0) return null;
  const rest = line.slice(close + 2).split(" ");
  return { pid: Number(line.slice(0, line.indexOf(" "))), state: rest[0], ppid: Number(rest[1]) };
}

/** Process ids whose parent is `pid` (zombies excluded). */
export async function childPids(pid: number): Promise<number[]> {
  const out = await shOut(
    'for d in /proc/[0-9]*; do read -r l < "$d/stat" 2>/dev/null && printf "%s\\n" "$l"; done',
  );
  return out.split("\n").map(parseStat).filter((s): s is ProcStat =>
    s !== null && s.ppid === pid && s.state !== "Z"
  ).map((s) => s.pid);
}

/** The command line of process `pid` (arguments joined by spaces), "" if gone. */
export async function commandLine(pid: number): Promise<string> {
  return (await shOut(`tr '\\0' ' ' < /proc/${pid}/cmdline`)).trim();
}

/**
 * Live processes (not zombies, not this one) whose command line contains `marker` or whose
 * working folder lies under it: "pid args" each.
 */
export async function processesMatching(marker: string): Promise<string[]> {
  // the marker goes to grep in a file and to find through the environment, so that neither
  // the shell nor grep carries it in its own arguments
  const patterns = await Deno.makeTempFile({ prefix: "vk-pattern-" });
  try {
    await Deno.writeTextFile(patterns, marker + "\n");
    const out = await shOut(
      `{ grep -alF -f "$PATTERNS" /proc/[0-9]*/cmdline 2>/dev/null
         find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$MARK*" 2>/dev/null
       } | cut -d/ -f3 | sort -u | while read -r p; do
         [ "$p" = "$$" ] && continue
         read -r st < "/proc/$p/stat" 2>/dev/null || continue
         printf '%s\\t' "$st"; tr '\\0' ' ' < "/proc/$p/cmdline"; echo
       done`,
      { PATTERNS: patterns, MARK: marker },
    );
    const live: string[] = [];
    for (const line of out.split("\n")) {
      const [stat, args] = line.split("\t");
      const s = stat ? parseStat(stat) : null;
      if (!s || s.pid === Deno.pid || s.state === "Z" || s.state === "X") continue;
      live.push(`${s.pid} ${args?.trim() ?? ""}`);
    }
    return live;
  } finally {
    await Deno.remove(patterns).catch(() => {});
  }
}
