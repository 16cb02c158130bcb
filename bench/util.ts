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
