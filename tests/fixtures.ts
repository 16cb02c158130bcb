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

/** stdout of `pgrep args`, or null when pgrep is not installed. */
async function pgrep(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("pgrep", { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return null;
  }
}

/** Process ids whose parent is `pid` (`pgrep -P`, else a /proc scan). */
export async function childPids(pid: number): Promise<number[]> {
  const out = await pgrep(["-P", String(pid)]);
  if (out !== null) return out.split("\n").filter((l) => l.trim()).map(Number);
  const kids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) kids.push(Number(e.name));
    } catch {
      // exited meanwhile
    }
  }
  return kids;
}

/** The command line of process `pid` (NUL-separated args joined by spaces), "" if gone. */
export function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * Live processes (not zombies, not this one) whose command line contains `marker` (`pgrep -f`)
 * or whose working folder lies under it (/proc, where there is one): "pid args" each.
 */
export async function processesMatching(marker: string): Promise<string[]> {
  const found = new Map<number, string>();
  for (const line of (await pgrep(["-a", "-f", marker]) ?? "").split("\n")) {
    const m = line.match(/^(\d+)\s+(.*)$/);
    if (m) found.set(Number(m[1]), m[2]);
  }
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const pid = Number(e.name);
        if (
          commandLine(pid).includes(marker) ||
          Deno.readLinkSync(`/proc/${pid}/cwd`).startsWith(marker)
        ) {
          found.set(pid, commandLine(pid));
        }
      } catch {
        // gone, or not ours to inspect
      }
    }
  } catch {
    // no /proc: pgrep alone
  }
  const live: string[] = [];
  for (const [pid, args] of found) {
    if (pid === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      if (/^\d+ \(.*\) [ZX] /s.test(stat)) continue;
    } catch {
      if (Deno.build.os === "linux") continue; // exited meanwhile
    }
    live.push(`${pid} ${args}`);
  }
  return live;
}
