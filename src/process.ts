/**
 * Spawning external tools (ffmpeg, ffprobe) with captured stderr, and a registry of live
 * children and temporary files so an interrupted run leaves nothing behind.
 * @module
 */

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
    throw new Error(`cannot start ${cmd}: ${e instanceof Error ? e.message : String(e)}`);
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

/** Picks the most telling line of an ffmpeg stderr tail. */
export function lastRelevantLine(lines: string[]): string {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i].trim();
    if (!l) continue;
    if (/^(Conversion failed|Exiting normally|frame=|size=|video:|\[out#)/.test(l)) continue;
    return l;
  }
  return "";
}
