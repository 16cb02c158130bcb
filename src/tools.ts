/**
 * Finding the ffmpeg and ffprobe executables.
 * @module
 */
import * as path from "node:path";
import { VidkompyError } from "./errors.ts";

/** Paths of the external tools vidkompy spawns. */
export interface Tools {
  /** ffmpeg executable. */
  ffmpeg: string;
  /** ffprobe executable. */
  ffprobe: string;
}

const INSTALL_HINT =
  "install ffmpeg (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg; " +
  "Windows: winget install ffmpeg) or pass --ffmpeg/--ffprobe";

function isExecutableFile(p: string): boolean {
  try {
    const st = Deno.statSync(p);
    if (!st.isFile) return false;
    if (Deno.build.os === "windows") return true;
    return st.mode === null || (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Looks `name` up on PATH (PATHEXT on Windows); returns null when absent. */
export function findOnPath(name: string): string | null {
  const envPath = Deno.env.get("PATH") ?? "";
  const exts = Deno.build.os === "windows"
    ? (Deno.env.get("PATHEXT") ?? ".EXE;.CMD;.BAT").split(";").map((e) => e.toLowerCase())
    : [""];
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

function resolveOne(
  name: "ffmpeg" | "ffprobe",
  explicit: string | undefined,
  envVar: string,
): string {
  if (explicit) {
    const p = explicit.includes("/") || explicit.includes("\\") ? explicit : findOnPath(explicit);
    if (p && isExecutableFile(p)) return p;
    throw new VidkompyError(`${name} not found at '${explicit}' (--${name}); ${INSTALL_HINT}`);
  }
  const fromEnv = Deno.env.get(envVar);
  if (fromEnv) {
    const p = fromEnv.includes("/") || fromEnv.includes("\\") ? fromEnv : findOnPath(fromEnv);
    if (p && isExecutableFile(p)) return p;
    throw new VidkompyError(`${name} not found at '${fromEnv}' (${envVar}); ${INSTALL_HINT}`);
  }
  const found = findOnPath(name);
  if (found) return found;
  throw new VidkompyError(`${name} was not found on PATH; ${INSTALL_HINT}`);
}

/**
 * Resolves ffmpeg and ffprobe: explicit paths first, then `VIDKOMPY_FFMPEG` /
 * `VIDKOMPY_FFPROBE`, then PATH. Throws a {@link VidkompyError} that says how to
 * install ffmpeg when one is missing.
 */
export function resolveTools(opts: { ffmpeg?: string; ffprobe?: string } = {}): Tools {
  return {
    ffmpeg: resolveOne("ffmpeg", opts.ffmpeg, "VIDKOMPY_FFMPEG"),
    ffprobe: resolveOne("ffprobe", opts.ffprobe, "VIDKOMPY_FFPROBE"),
  };
}
