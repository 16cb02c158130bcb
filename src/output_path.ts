/**
 * Output safety: default names, refusing to overwrite inputs, temp file beside the target,
 * atomic rename at the end.
 * @module
 */
import * as path from "node:path";
import { ExitCode, VidkompyError } from "./errors.ts";
import { registerTempFile, unregisterTempFile } from "./process.ts";

/** The OS's reason without Deno's "(os error N): op 'path'" suffix, lower-cased. */
export function osReason(e: unknown): string {
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  const m = e instanceof Error ? e.message : String(e);
  const short = m.replace(/\s*\(os error \d+\).*$/s, "").replace(/:\s*\w+ '.*'$/s, "").trim();
  return (short.charAt(0).toLowerCase() + short.slice(1)) || "unknown error";
}

/** `{bg stem}_overlay_{fg stem}.mp4` in the current directory. */
export function defaultOutputName(bgPath: string, fgPath: string): string {
  const stem = (p: string) => path.basename(p, path.extname(p));
  return `${stem(bgPath)}_overlay_${stem(fgPath)}.mp4`;
}

function realOrResolved(p: string): string {
  const abs = path.resolve(p);
  try {
    return Deno.realPathSync(abs);
  } catch {
    try {
      return path.join(Deno.realPathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

function sameFile(a: string, b: string): boolean {
  if (realOrResolved(a) === realOrResolved(b)) return true;
  try {
    const sa = Deno.statSync(a), sb = Deno.statSync(b);
    return sa.dev === sb.dev && sa.ino !== null && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** What an output path is for, as named in messages (default: the video output, `-o`). */
export interface OutputRole {
  /** Noun for the path in messages, e.g. "output" or "preview". */
  what: string;
  /** The option that names it, e.g. "-o" or "--preview". */
  flag: string;
}

/** The video (or alignment) output given with `-o`. */
export const OUTPUT_ROLE: OutputRole = { what: "output", flag: "-o" };

/** How an input of {@link checkOutput} is named: "the bg input", or "the output (-o)". */
function describeInput(role: string): string {
  return role === "bg" || role === "fg" ? `the ${role} input` : `the ${role}`;
}

/**
 * Checks that `output` can be written: not an input (symlinks and `./` spellings included),
 * not an existing file unless `overwrite`, its folder exists and is writable. Returns the
 * absolute target path. `inputs` may also hold other outputs of the same run (role e.g.
 * "output (-o)"); `as` names the path in messages (default: the video output, `-o`).
 */
export function checkOutput(
  output: string,
  inputs: { role: string; path: string }[],
  overwrite: boolean,
  as: OutputRole = OUTPUT_ROLE,
): string {
  const { what, flag } = as;
  const target = path.resolve(output);
  for (const inp of inputs) {
    if (sameFile(target, inp.path)) {
      throw new VidkompyError(
        `${what} '${output}' is ${
          describeInput(inp.role)
        }; choose another ${what} path with ${flag}`,
        ExitCode.Usage,
      );
    }
  }
  const dir = path.dirname(target);
  let dirInfo: Deno.FileInfo;
  try {
    dirInfo = Deno.statSync(dir);
  } catch {
    throw new VidkompyError(
      `${what} folder '${dir}' does not exist; create it or choose another ${flag}`,
    );
  }
  if (!dirInfo.isDirectory) {
    throw new VidkompyError(`${what} folder '${dir}' is not a folder; choose another ${flag}`);
  }
  try {
    const st = Deno.statSync(target);
    if (st.isDirectory) {
      throw new VidkompyError(
        `${what} '${output}' is a folder; give a file name with ${flag}`,
        ExitCode.Usage,
      );
    }
    if (!overwrite) {
      throw new VidkompyError(
        `${what} '${output}' already exists; pass -y/--overwrite to replace it or choose another ${flag}`,
        ExitCode.Usage,
      );
    }
  } catch (e) {
    if (e instanceof VidkompyError) throw e;
  }
  return target;
}

/** A temporary file beside the target that becomes the target only on {@link commit}. */
export class AtomicOutput {
  /** Final path. */
  readonly target: string;
  /** Temporary path being written. */
  readonly temp: string;
  #done = false;

  /**
   * Creates (and reserves) the temporary file; fails early if the folder is not writable. `as`
   * names the path in the message (default: the video output, `-o`).
   */
  constructor(target: string, as: OutputRole = OUTPUT_ROLE) {
    this.target = target;
    const ext = path.extname(target);
    const base = path.basename(target, ext);
    const rand = Math.random().toString(36).slice(2, 8);
    this.temp = path.join(
      path.dirname(target),
      `.${base}.vidkompy-${Deno.pid}-${rand}.partial${ext}`,
    );
    try {
      Deno.writeFileSync(this.temp, new Uint8Array(0), { createNew: true });
    } catch (e) {
      throw new VidkompyError(
        `cannot write to ${as.what} folder '${path.dirname(target)}' (${
          osReason(e)
        }); choose another ${as.flag}`,
      );
    }
    registerTempFile(this.temp);
  }

  /** Renames the finished temp file onto the target. */
  commit(): void {
    try {
      Deno.renameSync(this.temp, this.target);
    } catch (e) {
      this.discard();
      throw new VidkompyError(
        `cannot move the result to '${this.target}' (${osReason(e)}); check the folder`,
      );
    }
    unregisterTempFile(this.temp);
    this.#done = true;
  }

  /** Deletes the temp file (on failure). */
  discard(): void {
    if (this.#done) return;
    try {
      Deno.removeSync(this.temp);
    } catch {
      // already gone
    }
    unregisterTempFile(this.temp);
    this.#done = true;
  }
}
