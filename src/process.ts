/**
 * Spawning external tools (ffmpeg, ffprobe) with captured stderr, and a registry of live
 * children and temporary files so an interrupted run leaves nothing behind.
 * @module
 */
import { VidkompyError } from "./errors.ts";

const liveChildren = new Set<Deno.ChildProcess>();
const tempFiles = new Set<string>();

/** A spawned tool with its stderr drained into a small tail buffer. */
export interface Spawned {
  /** The child process (stdin/stdout as requested). */
  child: Deno.ChildProcess;
  /** Resolves when the process exits and its stderr has been read. */
  status: Promise<Deno.CommandStatus>;
  /** The last lines the tool wrote to stderr. */
  stderrTail(): string[];
  /** Kills the process (no-op once it exited). */
  kill(signal?: Deno.Signal): void;
}

/** Options for {@link spawnTool}. */
export interface SpawnOptions {
  /** "piped" to write to stdin. */
  stdin?: "piped" | "null";
  /** "piped" to read stdout. */
  stdout?: "piped" | "null";
  /** How many stderr lines to keep. */
  keepLines?: number;
}

/** Spawns `cmd args`, registering it so {@link killAllChildren} can stop it. */
export function spawnTool(cmd: string, args: string[], opts: SpawnOptions = {}): Spawned {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      stdin: opts.stdin ?? "null",
      stdout: opts.stdout ?? "null",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/\s*\(os error \d+\)/, "") : String(e);
    throw new VidkompyError(
      `cannot start '${cmd}' (${why}); check --ffmpeg/--ffprobe or reinstall ffmpeg`,
    );
  }
  liveChildren.add(child);
  const keep = opts.keepLines ?? 30;
  const lines: string[] = [];
  let partial = "";
  const drain = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of child.stderr) {
        partial += decoder.decode(chunk, { stream: true });
        const parts = partial.split(/\r?\n|\r/);
        partial = parts.pop() ?? "";
        for (const p of parts) {
          if (p.trim() === "") continue;
          lines.push(p);
          if (lines.length > keep) lines.shift();
        }
        if (partial.length > 4096) partial = partial.slice(-4096);
      }
    } catch {
      // stderr closed abruptly: nothing to keep.
    }
    if (partial.trim() !== "") lines.push(partial);
  })();
  let exited = false;
  const status = (async () => {
    const st = await child.status;
    exited = true;
    liveChildren.delete(child);
    await drain;
    return st;
  })();
  return {
    child,
    status,
    stderrTail: () => lines.slice(),
    kill(signal: Deno.Signal = "SIGKILL") {
      if (exited) return;
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

/** Runs a tool to completion and returns its stdout as text (stderr tail on failure). */
export async function runTool(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const sp = spawnTool(cmd, args, { stdout: "piped" });
  const out = new Response(sp.child.stdout).text();
  const [st, text] = await Promise.all([sp.status, out]);
  return { code: st.code, stdout: text, stderr: sp.stderrTail() };
}

/** Kills every child process still running (used on interrupt and fatal errors). */
export function killAllChildren(): void {
  for (const c of liveChildren) {
    try {
      c.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

/** Number of child processes still running (for tests and the soak bench). */
export function liveChildCount(): number {
  return liveChildren.size;
}

/** Registers a temporary file to delete if the run is interrupted. */
export function registerTempFile(p: string): void {
  tempFiles.add(p);
}

/** Forgets a temporary file (it was renamed into place or deleted). */
export function unregisterTempFile(p: string): void {
  tempFiles.delete(p);
}

/** Deletes every registered temporary file (best effort, synchronous). */
export function removeTempFiles(): void {
  for (const p of tempFiles) {
    try {
      Deno.removeSync(p);
    } catch {
      // already gone
    }
  }
  tempFiles.clear();
}

/** ffmpeg messages that explain a failure better than whatever came after them. */
const TELLING = [
  /No space left on device/i,
  /Disk quota exceeded/i,
  /File too large/i,
  /Read-only file system/i,
  /Permission denied/i,
  /Picture size \S+ is invalid/i,
  /Unknown encoder/i,
  /Decoder \(.*\) not found/i,
  /partial file/i,
];

/** Lines that say nothing about the cause (ffmpeg's summary and progress lines). */
const NOISE =
  /^(Conversion failed|Exiting normally|frame=|size=|video:|\[out#|Error while filtering|Nothing was written|Error closing|Error initializing output)/;

function clean(line: string): string {
  return line.trim()
    // "[mov,mp4,m4a @ 0x55d…] message" → "message"
    .replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, "")
    // "file:/path/x.mp4: Invalid data …" → "Invalid data …" (the caller names the file)
    .replace(
      /^(file:)?\S.*?: (?=(Invalid data|No such file|Permission denied|End of file|Device or resource|Operation not permitted|Is a directory|No space left|Read-only file system|Input\/output error|File too large))/,
      "",
    )
    .replace(/\s+/g, " ");
}

/**
 * Picks the most telling line of an ffmpeg stderr tail: a line naming a known cause (disk
 * full, unknown encoder, missing decoder, invalid picture size …) wins, else the last line that
 * is not a summary; device addresses and `file:` prefixes are stripped.
 */
export function lastRelevantLine(lines: string[]): string {
  for (const re of TELLING) {
    for (let i = lines.length - 1; i >= 0; i--) {
      if (re.test(lines[i])) return clean(lines[i]);
    }
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i].trim();
    if (!l) continue;
    if (NOISE.test(l)) continue;
    return clean(l);
  }
  return "";
}
