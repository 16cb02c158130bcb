/**
 * Bad input and faults (issue 7): the CLI runs as a subprocess on each case of a matrix of
 * broken inputs, bad options, unwritable outputs, missing or killed tools and signals. For
 * every case it must exit with the documented code, print exactly one line on stderr that says
 * what went wrong and what to do, leave no output and no temporary file, leave no ffmpeg
 * running and leave the inputs untouched.
 *
 * Placement and timing are given (--x/--y/--time-offset) everywhere except the "unrelated
 * inputs" case, so the matrix does not depend on the alignment search.
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./assert.ts";
import {
  childPids,
  cleanup,
  commandLine,
  diffDir,
  ffmpeg,
  ffprobe,
  frameTimes,
  processesMatching,
  snapshotDir,
} from "./fixtures.ts";
import { resolveTools } from "../src/tools.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));
const tools = resolveTools();

/** bg: 160x120, 30 frames at 25 fps; fg: bg's 64x48 region at 40,30, 20 frames. */
const BG_FRAMES = 30, FG_FRAMES = 20;
/** Known alignment and fast, quiet encoding: no case depends on the alignment search. */
const KNOWN = ["--x", "40", "--y", "30", "--time-offset", "0", "-q", "--preset", "ultrafast"];
/** The line must also say what to do. */
const ADVICE =
  /; .*\b(check|give|choose|pass|use|install|run|create|fix|regenerate|free|repair|re-copy|reinstall|keep)\b/i;

/** Everything a case needs to know about where it runs. */
interface Ctx {
  /** Root temp folder: its path is the marker found in every leftover process's args or cwd. */
  root: string;
  /** Shared fixtures (inputs); must stay untouched. */
  fx: string;
  /** This case's working folder (the CLI's cwd, default output folder). */
  dir: string;
  /** Fixture path. */
  f(name: string): string;
  /** Case-folder path. */
  d(name: string): string;
  /** Notes printed with the case (e.g. which fallback was used). */
  note: string[];
}

/** One row of the matrix. */
interface Case {
  /** Step name. */
  name: string;
  /** CLI arguments (after `deno run main.ts`). */
  args(c: Ctx): string[];
  /** Expected exit code. */
  code: number;
  /** What the one stderr line must say (null for a success). */
  message: RegExp | null;
  /** Prepares files in the case folder; may return extra folders to watch. */
  setup?(c: Ctx): Promise<string[] | void> | string[] | void;
  /** Undoes setup (unmounts). */
  teardown?(c: Ctx): Promise<void> | void;
  /** Environment changes for the CLI (undefined deletes a variable). */
  env?(c: Ctx): Record<string, string | undefined>;
  /** Acts on the running CLI (signals, killing ffmpeg). */
  during?(pid: number, c: Ctx): Promise<void>;
  /** Files the case creates in its folder (success cases). */
  outputs?: string[];
  /** Pre-existing files in the case folder the run may replace (-y). */
  replaces?: string[];
  /** Extra checks after the standard ones. */
  check?(c: Ctx, stderr: string): Promise<void> | void;
}

async function sh(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

const isRoot = () => Deno.uid() === 0;

/**
 * Mounts a small tmpfs at `dir` (root only); false when mounting is not possible here, or when
 * VIDKOMPY_TEST_NO_MOUNT=1 asks to exercise the fallbacks.
 */
async function mountTmpfs(dir: string, options: string): Promise<boolean> {
  if (!isRoot() || Deno.env.get("VIDKOMPY_TEST_NO_MOUNT") === "1") return false;
  await Deno.mkdir(dir, { recursive: true });
  return await sh("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
}

async function unmount(dir: string): Promise<void> {
  if (!(await sh("umount", [dir]))) await sh("umount", ["-l", dir]);
}

/** Waits until the CLI `pid` runs an ffmpeg whose args contain `needle`; returns its pid. */
async function waitForFfmpeg(pid: number, needle: string, timeoutMs = 60_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    for (const c of await childPids(pid)) {
      const args = await commandLine(c);
      if (/ffmpeg/.test(args.split(" ")[0]) && args.includes(needle)) return c;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ffmpeg with '${needle}' appeared under pid ${pid}`);
}

/** Waits for the encoder, lets it work a moment, then does `act`. */
function midRun(act: (cli: number, encoder: number, c: Ctx) => Promise<void> | void) {
  return async (pid: number, c: Ctx) => {
    const enc = await waitForFfmpeg(pid, "pipe:0");
    await new Promise((r) => setTimeout(r, 400));
    assert((await childPids(pid)).includes(enc), "the run ended before it could be interrupted");
    await act(pid, enc, c);
  };
}

function alignmentJson(
  over: { spatial?: Record<string, unknown>; temporal?: Record<string, unknown> },
) {
  return JSON.stringify({
    vidkompy: 1,
    bg: { path: "bg.mp4", width: 160, height: 120, frames: BG_FRAMES, fps: 25 },
    fg: { path: "fg.mp4", width: 64, height: 48, frames: FG_FRAMES, fps: 25 },
    spatial: { x: 40, y: 30, scale: 1, width: 64, height: 48, method: "manual", ...over.spatial },
    temporal: {
      offset: 0,
      map: Array.from({ length: FG_FRAMES }, (_, i) => i),
      method: "manual",
      ...over.temporal,
    },
  });
}

/** A composite from a known alignment; `bg`/`fg` are paths or names as given on the line. */
function comp(c: Ctx, extra: string[] = [], bg = c.f("bg.mp4"), fg = c.f("fg.mp4")): string[] {
  return ["comp", "--bg", bg, "--fg", fg, ...KNOWN, ...extra];
}

async function copyInto(c: Ctx, from: string, to: string): Promise<void> {
  await Deno.copyFile(c.f(from), c.d(to));
}

/** Writes sh wrappers that log every argument they get to `log`, then run the real tool. */
async function loggingWrappers(c: Ctx, log: string): Promise<{ ffmpeg: string; ffprobe: string }> {
  const make = async (name: string, real: string) => {
    const file = path.join(c.root, `${path.basename(c.dir)}-logged-${name}`);
    await Deno.writeTextFile(
      file,
      `#!/bin/sh\nfor a in "$@"; do printf '${name}\\t%s\\n' "$a" >> '${log}'; done\nexec '${real}' "$@"\n`,
    );
    await Deno.chmod(file, 0o755);
    return file;
  };
  return {
    ffmpeg: await make("ffmpeg", tools.ffmpeg),
    ffprobe: await make("ffprobe", tools.ffprobe),
  };
}

/** The dash-named files and their temp names (`.-y.vidkompy-PID-XXXX.partial.mp4`). */
const DASH_NAMES = ["-i.mp4", "--help.mp4", "-y.mp4", "-y.vidkompy-", "-i_overlay_--help."];

/** Every argument that names one of the dash files must carry ffmpeg's `file:` protocol prefix. */
async function checkNoInjection(log: string): Promise<void> {
  const lines = (await Deno.readTextFile(log)).split("\n").filter((l) => l);
  const paths = lines.filter((l) => DASH_NAMES.some((n) => l.includes(n)));
  assert(
    paths.length >= 5,
    `expected probe, decode and encode paths in the log, got ${paths.length}`,
  );
  for (const l of paths) {
    const arg = l.split("\t")[1];
    assert(arg.startsWith("file:"), `path reached ffmpeg without 'file:': ${l}`);
  }
}

function cases(): Case[] {
  const list: Case[] = [];
  const fail = (
    name: string,
    code: number,
    message: RegExp,
    args: (c: Ctx) => string[],
    more: Partial<Case> = {},
  ) => list.push({ name, code, message, args, ...more });

  // ---- inputs -------------------------------------------------------------------------------
  fail("missing bg", 1, /bg file not found: '.*nope\.mp4'/, (c) => comp(c, [], c.f("nope.mp4")));
  fail("missing fg", 1, /fg file not found/, (c) => comp(c, [], undefined, c.f("nope.mp4")));
  fail("bg is a directory", 1, /bg '.*' is a directory/, (c) => comp(c, [], c.fx));
  fail(
    "empty bg",
    1,
    /bg '.*empty\.mp4' is empty \(0 bytes\)/,
    (c) => comp(c, [], c.f("empty.mp4")),
  );
  fail(
    "text file named .mp4",
    1,
    /fg '.*text\.mp4' is not a readable video \(Invalid data/,
    (c) => comp(c, [], undefined, c.f("text.mp4")),
  );
  fail(
    "truncated mp4 (index at the end)",
    1,
    /bg '.*cut\.mp4' is not a readable video/,
    (c) => comp(c, [], c.f("cut.mp4")),
  );
  fail(
    "truncated mp4 (index first, data cut)",
    1,
    /fg '.*cut-faststart\.mp4' is truncated/,
    (c) => comp(c, ["--x", "0", "--y", "0"], undefined, c.f("cut-faststart.mp4")),
  );
  fail(
    "audio-only file",
    1,
    /bg '.*tone\.m4a' has no video stream/,
    (c) => comp(c, [], c.f("tone.m4a")),
  );
  fail(
    "png image given to comp",
    1,
    /fg '.*still\.png' is a still image/,
    (c) => comp(c, [], undefined, c.f("still.png")),
  );
  fail(
    "zero-frame video",
    1,
    /bg '.*zero\.avi' has no video frames/,
    (c) => comp(c, [], c.f("zero.avi")),
  );
  // A stream whose decoder this ffmpeg lacks: an MPEG-4 AVI relabelled with the AVS2 FourCC
  // (avs2 needs libdavs2, absent from common builds; where present, the MPEG-4 payload makes it
  // fail anyway) and one with an unknown FourCC, for which no ffmpeg has a decoder.
  fail(
    "undecodable codec (avs2)",
    1,
    /decoding bg '.*avs2\.avi' failed \((Decoder|.*Invalid)/,
    (c) => comp(c, [], c.f("avs2.avi")),
  );
  fail(
    "undecodable codec (unknown FourCC)",
    1,
    /decoding fg '.*zzzz\.avi' failed \(Decoder/,
    (c) => comp(c, ["--x", "0", "--y", "0"], undefined, c.f("zzzz.avi")),
  );
  fail(
    "absurd declared size (y4m 100000x100000)",
    1,
    /absurd picture size 100000x100000/,
    (c) => comp(c, [], c.f("absurd.y4m")),
  );
  fail(
    "absurd declared area (y4m 16000x16000)",
    1,
    /absurd picture size 16000x16000/,
    (c) => comp(c, [], c.f("huge.y4m")),
  );
  fail(
    "verbose adds ffmpeg's stderr",
    1,
    /is not a readable video/,
    (c) => comp(c, ["--verbose"], c.f("text.mp4")),
    {
      check: (_c, stderr) => {
        assert(stderr.trim().split("\n").length > 1, "--verbose should add detail lines");
      },
    },
  );

  // ---- output -------------------------------------------------------------------------------
  fail(
    "output = bg",
    2,
    /output '.*bg\.mp4' is the bg input/,
    (c) => comp(c, ["-o", c.f("bg.mp4")]),
  );
  fail(
    "output = bg through a symlink",
    2,
    /output 'link\.mp4' is the bg input/,
    (c) => comp(c, ["-o", "link.mp4"]),
    { setup: (c) => Deno.symlink(c.f("bg.mp4"), c.d("link.mp4")) },
  );
  fail(
    "output = fg spelt ./",
    2,
    /output '\.\/fg\.mp4' is the fg input/,
    (c) => comp(c, ["-o", "./fg.mp4"], undefined, "fg.mp4"),
    { setup: (c) => copyInto(c, "fg.mp4", "fg.mp4") },
  );
  fail(
    "output = fg spelt sub/../",
    2,
    /is the fg input/,
    (c) => comp(c, ["-o", "sub/../fg.mp4"], undefined, "fg.mp4"),
    {
      setup: async (c) => {
        await copyInto(c, "fg.mp4", "fg.mp4");
        await Deno.mkdir(c.d("sub"));
      },
    },
  );
  fail(
    "output = fg through a hard link",
    2,
    /is the fg input/,
    (c) => comp(c, ["-o", "hard.mp4"]),
    {
      setup: (c) => Deno.link(c.f("fg.mp4"), c.d("hard.mp4")),
    },
  );
  fail(
    "output is an existing folder",
    2,
    /output 'sub' is a folder; give a file name with -o/,
    (c) => comp(c, ["-o", "sub", "-y"]),
    { setup: (c) => Deno.mkdir(c.d("sub")) },
  );
  fail(
    "output folder missing",
    1,
    /output folder '.*missing' does not exist/,
    (c) => comp(c, ["-o", "missing/out.mp4"]),
  );
  fail(
    "output folder is a file",
    1,
    /output folder '.*note\.txt' is not a folder/,
    (c) => comp(c, ["-o", "note.txt/out.mp4"]),
    { setup: (c) => Deno.writeTextFile(c.d("note.txt"), "x") },
  );
  {
    // As root, chmod does not stop writes: use a read-only tmpfs, else /proc (no files can be
    // created there). As another user, a chmod 555 folder.
    let mode = "";
    fail(
      "output folder read-only",
      1,
      /cannot write to output folder '.*' \(.+\); choose another -o/,
      (c) => comp(c, ["-o", mode === "proc" ? "/proc/vidkompy-out.mp4" : "ro/out.mp4"]),
      {
        setup: async (c) => {
          if (!isRoot()) {
            await Deno.mkdir(c.d("ro"), { mode: 0o555 });
            await Deno.chmod(c.d("ro"), 0o555);
            mode = "chmod";
          } else if (await mountTmpfs(c.d("ro"), "ro,size=64k")) {
            mode = "tmpfs";
          } else {
            mode = "proc";
          }
          c.note.push(`read-only folder via ${mode}`);
          return mode === "proc" ? [] : [c.d("ro")];
        },
        teardown: async (c) => {
          if (mode === "tmpfs") await unmount(c.d("ro"));
          if (mode === "chmod") await Deno.chmod(c.d("ro"), 0o755);
        },
      },
    );
  }
  fail(
    "existing output without -y",
    2,
    /output 'out\.mp4' already exists; pass -y/,
    (c) => comp(c, ["-o", "out.mp4"]),
    { setup: (c) => Deno.writeTextFile(c.d("out.mp4"), "precious") },
  );
  list.push({
    name: "existing output with -y is replaced",
    code: 0,
    message: null,
    args: (c) => comp(c, ["-o", "out.mp4", "-y"]),
    setup: (c) => Deno.writeTextFile(c.d("out.mp4"), "old"),
    replaces: ["out.mp4"],
    check: async (c) => assertEquals((await frameTimes(c.d("out.mp4"))).length, FG_FRAMES),
  });
  {
    // A 16 KiB tmpfs fills up while the encoder writes. Where mounting is impossible (not root,
    // no CAP_SYS_ADMIN), ffmpeg runs through a wrapper under a 16-block file size limit
    // (ulimit -f, SIGXFSZ ignored), so its writes fail with EFBIG the way they would on a full
    // disk. (Limiting the whole CLI would stop Deno itself.)
    let mode = "";
    fail(
      "disk fills while writing",
      1,
      /writing the output failed \((No space left on device|File too large)\); free space in '.*' or choose another -o/,
      (c) =>
        comp(c, [
          "-o",
          mode === "tmpfs" ? "full/out.mp4" : "out.mp4",
          "--crf",
          "0",
          ...(mode === "ulimit"
            ? ["--ffmpeg", path.join(c.root, `${path.basename(c.dir)}-limited-ffmpeg`)]
            : []),
        ]),
      {
        setup: async (c) => {
          mode = (await mountTmpfs(c.d("full"), "size=16k")) ? "tmpfs" : "ulimit";
          c.note.push(`disk full via ${mode}`);
          if (mode === "ulimit") {
            const wrapper = path.join(c.root, `${path.basename(c.dir)}-limited-ffmpeg`);
            await Deno.writeTextFile(
              wrapper,
              `#!/bin/sh\ntrap '' XFSZ\nulimit -f 16\nexec '${tools.ffmpeg}' "$@"\n`,
            );
            await Deno.chmod(wrapper, 0o755);
            return [];
          }
          return [c.d("full")];
        },
        teardown: async (c) => {
          if (mode === "tmpfs") await unmount(c.d("full"));
        },
      },
    );
  }

  // ---- preview (--preview FILE.png: checked like the output, before any work) ---------------
  fail(
    "preview folder missing",
    1,
    /preview folder '.*missing' does not exist; create it or choose another --preview/,
    (c) => comp(c, ["-o", "out.mp4", "--preview", "missing/p.png"]),
  );
  fail(
    "existing preview without -y",
    2,
    /preview 'p\.png' already exists; pass -y\/--overwrite to replace it or choose another --preview/,
    (c) => comp(c, ["-o", "out.mp4", "--preview", "p.png"]),
    { setup: (c) => Deno.writeTextFile(c.d("p.png"), "precious") },
  );
  fail(
    "preview is an existing folder",
    2,
    /preview 'sub' is a folder; give a file name with --preview/,
    (c) => comp(c, ["-o", "out.mp4", "--preview", "sub", "-y"]),
    { setup: (c) => Deno.mkdir(c.d("sub")) },
  );
  fail(
    "preview = bg",
    2,
    /preview '.*bg\.mp4' is the bg input; choose another preview path with --preview/,
    (c) => comp(c, ["-o", "out.mp4", "--preview", c.f("bg.mp4"), "-y"]),
  );
  fail(
    "preview = fg through a symlink",
    2,
    /preview 'link\.png' is the fg input/,
    (c) => comp(c, ["-o", "out.mp4", "--preview", "link.png", "-y"]),
    { setup: (c) => Deno.symlink(c.f("fg.mp4"), c.d("link.png")) },
  );
  fail(
    "preview = the output (-o)",
    2,
    /preview 'out\.mp4' is the output \(-o\); choose another preview path with --preview/,
    (c) => comp(c, ["-o", "out.mp4", "--preview", "out.mp4", "-y"]),
  );
  /** comp with `--alignment map.json` (written by setup) and `extra` naming map.json again. */
  const againstMapJson = (name: string, message: RegExp, extra: string[]) =>
    fail(
      name,
      2,
      message,
      () => [
        "comp",
        "--bg",
        "bg.mp4",
        "--fg",
        "fg.mp4",
        "--alignment",
        "map.json",
        ...extra,
        "-y",
        "-q",
        "--preset",
        "ultrafast",
      ],
      {
        setup: async (c) => {
          await copyInto(c, "bg.mp4", "bg.mp4");
          await copyInto(c, "fg.mp4", "fg.mp4");
          await Deno.writeTextFile(c.d("map.json"), alignmentJson({}));
        },
      },
    );
  againstMapJson(
    "output (-o) = the alignment file",
    /output 'map\.json' is the alignment file \(--alignment\)/,
    ["-o", "map.json"],
  );
  againstMapJson(
    "preview = the alignment file",
    /preview 'map\.json' is the alignment file \(--alignment\)/,
    ["--preview", "map.json"],
  );
  fail(
    "align: preview = the alignment output (-o)",
    2,
    /preview 'a\.json' is the alignment output \(-o\)/,
    (c) => {
      const known = ["--x", "40", "--y", "30", "--time-offset", "0", "-q"];
      const inputs = ["--bg", c.f("bg.mp4"), "--fg", c.f("fg.mp4")];
      return ["align", ...inputs, ...known, "-o", "a.json", "--preview", "a.json"];
    },
  );
  {
    // as for the output: a chmod 555 folder, or as root (where chmod does not stop writes) /proc
    let mode = "";
    fail(
      "preview folder read-only",
      1,
      /cannot write to preview folder '.*' \(.+\); choose another --preview/,
      (c) =>
        comp(c, [
          "-o",
          "out.mp4",
          "--preview",
          mode === "proc" ? "/proc/vidkompy-preview.png" : "ro/p.png",
        ]),
      {
        setup: async (c) => {
          if (isRoot()) {
            mode = "proc";
            c.note.push("read-only folder via proc");
            return [];
          }
          await Deno.mkdir(c.d("ro"), { mode: 0o555 });
          await Deno.chmod(c.d("ro"), 0o555);
          mode = "chmod";
          c.note.push("read-only folder via chmod");
          return [c.d("ro")];
        },
        teardown: async (c) => {
          if (mode === "chmod") await Deno.chmod(c.d("ro"), 0o755);
        },
      },
    );
  }
  list.push({
    name: "preview: written beside the output (control)",
    code: 0,
    message: null,
    args: (c) => comp(c, ["-o", "out.mp4", "--preview", "p.png"]),
    outputs: ["out.mp4", "p.png"],
    check: async (c) => {
      const head = (await Deno.readFile(c.d("p.png"))).subarray(1, 4);
      assertEquals(new TextDecoder().decode(head), "PNG");
    },
  });

  // ---- tools --------------------------------------------------------------------------------
  fail(
    "--ffmpeg /nonexistent",
    1,
    /ffmpeg not found at '\/nonexistent' \(--ffmpeg\); install ffmpeg/,
    (c) => comp(c, ["--ffmpeg", "/nonexistent"]),
  );
  fail(
    "--ffprobe /nonexistent",
    1,
    /ffprobe not found at '\/nonexistent'/,
    (c) => comp(c, ["--ffprobe", "/nonexistent"]),
  );
  fail(
    "ffmpeg not on an empty PATH",
    1,
    /ffmpeg was not found on PATH; install ffmpeg/,
    (c) => comp(c),
    {
      env: () => ({ PATH: "", VIDKOMPY_FFMPEG: undefined, VIDKOMPY_FFPROBE: undefined }),
    },
  );
  fail(
    "$VIDKOMPY_FFMPEG not executable",
    1,
    /ffmpeg not found at '.*' \(VIDKOMPY_FFMPEG\)/,
    (c) => comp(c),
    {
      env: (c) => ({ VIDKOMPY_FFMPEG: c.f("text.mp4") }),
    },
  );
  fail(
    "ffmpeg encoder killed mid-run",
    1,
    /the ffmpeg encoder was killed \(SIGKILL\).*; run again/,
    (c) => comp(c, ["--preset", "placebo"], c.f("bg-long.mp4"), c.f("fg-long.mp4")),
    {
      during: midRun((_cli, enc) => Deno.kill(enc, "SIGKILL")),
    },
  );
  fail(
    "ffmpeg decoder killed mid-run",
    1,
    /the ffmpeg decoder for fg was killed \(SIGKILL\)/,
    (c) => comp(c, ["--preset", "placebo"], c.f("bg-long.mp4"), c.f("fg-long.mp4")),
    {
      during: midRun(async (cli) => {
        const dec = await waitForFfmpeg(cli, "fg-long.mp4");
        Deno.kill(dec, "SIGKILL");
      }),
    },
  );
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    fail(
      `${sig} mid-run`,
      130,
      new RegExp(`interrupted by ${sig}; no output was written`),
      (c) => comp(c, ["--preset", "placebo"], c.f("bg-long.mp4"), c.f("fg-long.mp4")),
      {
        during: midRun((cli) => Deno.kill(cli, sig)),
      },
    );
  }

  // ---- alignment ----------------------------------------------------------------------------
  // The one case that runs the automatic search: testsrc2 against mandelbrot must be refused.
  fail(
    "unrelated fg and bg",
    3,
    /same footage|--force/,
    (
      c,
    ) => [
      "comp",
      "--bg",
      c.f("bg.mp4"),
      "--fg",
      c.f("mandelbrot.mp4"),
      "-q",
      "--preset",
      "ultrafast",
    ],
  );
  const withAlignment = (name: string, message: RegExp, json: string | null, code = 2) =>
    fail(
      `alignment file: ${name}`,
      code,
      message,
      (
        c,
      ) => [
        "comp",
        "--bg",
        c.f("bg.mp4"),
        "--fg",
        c.f("fg.mp4"),
        "--alignment",
        "map.json",
        "-q",
        "--preset",
        "ultrafast",
      ],
      {
        setup: (c) => json === null ? undefined : Deno.writeTextFile(c.d("map.json"), json),
      },
    );
  withAlignment("missing", /cannot read alignment file 'map\.json'; check the path/, null);
  withAlignment(
    "malformed JSON",
    /is not valid JSON .*; regenerate it/,
    '{"vidkompy": 1, "spatial": ',
  );
  withAlignment("not an alignment", /is not a vidkompy alignment/, '{"hello": "world"}');
  withAlignment(
    "wrong frame count",
    /maps 19 fg frames but fg has 20/,
    alignmentJson({ temporal: { map: Array.from({ length: 19 }, (_, i) => i) } }),
  );
  withAlignment(
    "out-of-range index",
    /map\[3\] = 999 is not a bg frame index \(0\.\.29\)/,
    alignmentJson({ temporal: { map: Array.from({ length: 20 }, (_, i) => (i === 3 ? 999 : i)) } }),
  );
  withAlignment(
    "decreasing map",
    /map decreases at fg frame 10/,
    alignmentJson({
      temporal: { map: Array.from({ length: 20 }, (_, i) => (i < 10 ? i + 5 : i - 5)) },
    }),
  );
  withAlignment(
    "absurd footprint",
    /footprint 100000x75000 is absurdly large/,
    alignmentJson({ spatial: { width: 100000, height: 75000 } }),
  );
  withAlignment(
    "fg placed outside bg",
    /lies entirely outside bg \(160x120\)/,
    alignmentJson({ spatial: { x: 500, y: 0 } }),
  );
  list.push({
    name: "alignment file: valid (control)",
    code: 0,
    message: null,
    args: () => [
      "comp",
      "--bg",
      "bg.mp4",
      "--fg",
      "fg.mp4",
      "--alignment",
      "map.json",
      "-q",
      "--preset",
      "ultrafast",
    ],
    setup: async (c) => {
      await copyInto(c, "bg.mp4", "bg.mp4");
      await copyInto(c, "fg.mp4", "fg.mp4");
      await Deno.writeTextFile(c.d("map.json"), alignmentJson({}));
    },
    outputs: ["bg_overlay_fg.mp4"],
  });

  // ---- options ------------------------------------------------------------------------------
  const usage = (name: string, message: RegExp, extra: string[]) =>
    fail(`usage: ${name}`, 2, message, (c) => comp(c, extra));
  usage("--crf abc", /--crf must be a number, got 'abc'; run 'vidkompy comp --help'/, [
    "--crf",
    "abc",
  ]);
  usage("--crf 99", /--crf must be ≤ 63/, ["--crf", "99"]);
  usage("--scale -1", /--scale must be ≥ 0\.01/, ["--scale", "-1"]);
  usage("--x 1.5", /--x must be a whole number/, ["--x", "1.5"]);
  usage("unknown option", /unknown option '--bogus'/, ["--bogus"]);
  usage("--audio wat", /argument 'wat' is invalid\. Allowed choices are auto, fg, bg, none/, [
    "--audio",
    "wat",
  ]);
  usage(
    "--codec nonesuch",
    /--codec 'nonesuch' is not an encoder this ffmpeg has.*ffmpeg -encoders/,
    [
      "--codec",
      "nonesuch",
    ],
  );
  usage("--preset wat", /encoder libx264 refused the settings \(--preset wat/, ["--preset", "wat"]);
  usage("--audio fg without fg audio", /--audio fg: fg '.*' has no audio; use --audio bg/, [
    "--audio",
    "fg",
  ]);
  usage("--canvas wat", /argument 'wat' is invalid\. Allowed choices are bg, fg/, [
    "--canvas",
    "wat",
  ]);
  usage(
    "--canvas fg beyond the size limits",
    /--canvas fg: keeping fg's resolution \(scale 0\.0100 in bg\) needs a 16000x12000 canvas.*; use --canvas bg/,
    ["--scale", "0.01", "--canvas", "fg"],
  );
  usage("fg placed outside bg", /fg placed at 1000,30 .* lies entirely outside bg/, [
    "--x",
    "1000",
  ]);
  fail(
    "usage: missing --bg",
    2,
    /required option '--bg <file>' not specified; run 'vidkompy comp --help'/,
    (c) => ["comp", "--fg", c.f("fg.mp4"), ...KNOWN],
  );
  fail(
    "usage: unknown command",
    2,
    /unknown command 'compose'/,
    (c) => ["compose", "--bg", c.f("bg.mp4"), "--fg", c.f("fg.mp4")],
  );
  fail("align: output = fg", 2, /output '.*fg\.mp4' is the fg input/, (c) => {
    const known = ["--x", "40", "--y", "30", "--time-offset", "0", "-q"];
    return ["align", "--bg", c.f("bg.mp4"), "--fg", c.f("fg.mp4"), ...known, "-o", c.f("fg.mp4")];
  });

  // ---- awkward names ------------------------------------------------------------------------
  const log = (c: Ctx) => path.join(c.root, `args-${path.basename(c.dir)}.log`);
  const dashSetup = async (c: Ctx) => {
    await copyInto(c, "bg.mp4", "-i.mp4");
    await copyInto(c, "fg.mp4", "--help.mp4");
    wrappers.set(c.dir, await loggingWrappers(c, log(c)));
  };
  list.push({
    name: "names with leading dashes: ./-i.mp4, ./--help.mp4, -o -y.mp4",
    code: 0,
    message: null,
    setup: dashSetup,
    args: (c) => {
      const w = wrappers.get(c.dir)!;
      return comp(
        c,
        ["-o", "-y.mp4", "--ffmpeg", w.ffmpeg, "--ffprobe", w.ffprobe],
        "./-i.mp4",
        "./--help.mp4",
      );
    },
    env: (c) => ({ VK_ARGLOG: log(c) }),
    outputs: ["-y.mp4"],
    check: async (c) => {
      assertEquals((await frameTimes(c.d("-y.mp4"))).length, FG_FRAMES);
      await checkNoInjection(log(c));
    },
  });
  list.push({
    name: "names with leading dashes: --bg=-i.mp4 --fg=--help.mp4, default output",
    code: 0,
    message: null,
    setup: dashSetup,
    args: (c) => {
      const w = wrappers.get(c.dir)!;
      return [
        "comp",
        "--bg=-i.mp4",
        "--fg=--help.mp4",
        ...KNOWN,
        `--ffmpeg=${w.ffmpeg}`,
        `--ffprobe=${w.ffprobe}`,
      ];
    },
    env: (c) => ({ VK_ARGLOG: log(c) }),
    outputs: ["-i_overlay_--help.mp4"],
    check: async (c) => {
      assertEquals((await frameTimes(c.d("-i_overlay_--help.mp4"))).length, FG_FRAMES);
      await checkNoInjection(log(c));
    },
  });
  fail(
    "names with leading dashes: missing ./-x.mp4",
    1,
    /bg file not found: '\.\/-x\.mp4'/,
    (c) => comp(c, [], "./-x.mp4"),
  );
  const odd = "bg with spaces ü 日本 'q' \"dq\" $HOME.mp4";
  list.push({
    name: "names with spaces, quotes and unicode",
    code: 0,
    message: null,
    setup: async (c) => {
      await copyInto(c, "bg.mp4", odd);
      await copyInto(c, "fg.mp4", "fg ünï.mp4");
    },
    args: (c) => comp(c, ["-o", "out ü 日本 $x.mp4"], odd, "fg ünï.mp4"),
    outputs: ["out ü 日本 $x.mp4"],
    check: async (c) =>
      assertEquals((await frameTimes(c.d("out ü 日本 $x.mp4"))).length, FG_FRAMES),
  });
  fail(
    "names with unicode: existing output without -y",
    2,
    /output '日本\.mp4' already exists/,
    (c) => comp(c, ["-o", "日本.mp4"]),
    { setup: (c) => Deno.writeTextFile(c.d("日本.mp4"), "keep") },
  );
  return list;
}

/** Logging wrappers per case folder (made in setup for the dash cases). */
const wrappers = new Map<string, { ffmpeg: string; ffprobe: string }>();

async function makeFixtures(fx: string): Promise<void> {
  const f = (n: string) => path.join(fx, n);
  const x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];
  const src = "testsrc2=s=160x120:r=25";
  await Promise.all([
    ffmpeg(["-f", "lavfi", "-i", src, "-frames:v", String(BG_FRAMES), ...x264, f("bg.mp4")]),
    ffmpeg([
      "-f",
      "lavfi",
      "-i",
      src,
      "-vf",
      "crop=64:48:40:30",
      "-frames:v",
      String(FG_FRAMES),
      ...x264,
      f("fg.mp4"),
    ]),
    ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "mandelbrot=s=64x48:r=25",
      "-frames:v",
      String(FG_FRAMES),
      ...x264,
      f("mandelbrot.mp4"),
    ]),
    // long enough (≈ 10 s at preset placebo) to be interrupted mid-run
    ffmpeg(["-f", "lavfi", "-i", src, "-frames:v", "600", ...x264, f("bg-long.mp4")]),
    ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=64x48:r=25",
      "-frames:v",
      "600",
      ...x264,
      f("fg-long.mp4"),
    ]),
    ffmpeg(["-f", "lavfi", "-i", src, "-frames:v", "50", ...x264, f("whole.mp4")]),
    ffmpeg([
      "-f",
      "lavfi",
      "-i",
      src,
      "-frames:v",
      "50",
      ...x264,
      "-movflags",
      "+faststart",
      f("whole-fs.mp4"),
    ]),
    ffmpeg(["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", f("tone.m4a")]),
    ffmpeg(["-f", "lavfi", "-i", src, "-frames:v", "1", f("still.png")]),
    ffmpeg(["-f", "lavfi", "-i", src, "-frames:v", "0", "-c:v", "mpeg4", f("zero.avi")]),
    ffmpeg(["-f", "lavfi", "-i", src, "-frames:v", "10", "-c:v", "mpeg4", f("mpeg4.avi")]),
  ]);
  await Deno.writeFile(f("empty.mp4"), new Uint8Array(0));
  await Deno.writeTextFile(f("text.mp4"), "this is a text file, not a video\n");
  // cut in half: the mp4 index (moov) sits at the end and is lost
  const whole = await Deno.readFile(f("whole.mp4"));
  await Deno.writeFile(f("cut.mp4"), whole.subarray(0, whole.length >> 1));
  // index first (faststart), then 40 % of the data: the index promises frames that are gone
  const wholeFs = await Deno.readFile(f("whole-fs.mp4"));
  await Deno.writeFile(
    f("cut-faststart.mp4"),
    wholeFs.subarray(0, Math.floor(wholeFs.length * 0.4)),
  );
  await Deno.remove(f("whole.mp4"));
  await Deno.remove(f("whole-fs.mp4"));
  // relabel the MPEG-4 AVI's FourCC (header and stream format) so no usable decoder is found
  const avi = await Deno.readFile(f("mpeg4.avi"));
  const relabel = (tag: string) => {
    const out = avi.slice();
    const from = new TextEncoder().encode("FMP4"), to = new TextEncoder().encode(tag);
    let n = 0;
    for (let i = 0; i + 4 <= out.length; i++) {
      if (
        out[i] === from[0] && out[i + 1] === from[1] && out[i + 2] === from[2] &&
        out[i + 3] === from[3]
      ) {
        out.set(to, i);
        n++;
      }
    }
    assert(n > 0, "no FMP4 FourCC in the AVI");
    return out;
  };
  await Deno.writeFile(f("avs2.avi"), relabel("AVS2"));
  await Deno.writeFile(f("zzzz.avi"), relabel("ZZZZ"));
  await Deno.remove(f("mpeg4.avi"));
  // raw YUV4MPEG whose header declares an absurd size, then a little payload
  const y4m = (w: number, h: number) =>
    new Uint8Array([
      ...new TextEncoder().encode(`YUV4MPEG2 W${w} H${h} F25:1 Ip A1:1 C420jpeg\nFRAME\n`),
      ...new Uint8Array(4096).fill(128),
    ]);
  await Deno.writeFile(f("absurd.y4m"), y4m(100000, 100000));
  await Deno.writeFile(f("huge.y4m"), y4m(16000, 16000));
  // sanity: the fixtures are what the cases assume
  assertEquals((await frameTimes(f("bg.mp4"))).length, BG_FRAMES);
  assertEquals((await frameTimes(f("fg.mp4"))).length, FG_FRAMES);
  assertEquals(
    (await ffprobe(["-show_entries", "stream=codec_type", "-of", "csv=p=0", f("zero.avi")])).trim(),
    "video",
  );
}

/** The environment for the CLI: ours, with `over` applied (undefined deletes). */
function envWith(over: Record<string, string | undefined>): Record<string, string> {
  const env = Deno.env.toObject();
  env.NO_COLOR = "1";
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

async function runCase(k: Case, c: Ctx): Promise<void> {
  const extra = (await k.setup?.(c)) ?? [];
  try {
    const watched = [c.dir, c.fx, ...extra];
    const before = new Map<string, Map<string, string>>();
    for (const w of watched) before.set(w, await snapshotDir(w));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-all", "--config", CONFIG, MAIN, ...k.args(c)],
      cwd: c.dir,
      env: envWith(k.env?.(c) ?? {}),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdoutP = new Response(child.stdout).text();
    const stderrP = new Response(child.stderr).text();
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let duringError: unknown = null;
    try {
      await k.during?.(child.pid, c);
    } catch (e) {
      duringError = e;
    }
    const [st, stdout, stderr] = await Promise.all([child.status, stdoutP, stderrP]);
    clearTimeout(timer);
    if (duringError) throw duringError;
    const show = `\n--- stderr ---\n${stderr}--- stdout ---\n${stdout}`;
    // VIDKOMPY_TEST_SHOW=1 lists what each case printed
    if (Deno.env.get("VIDKOMPY_TEST_SHOW") === "1") {
      c.note.push(`exit ${st.code}: ${stderr.trim()}`);
    }

    assertEquals(st.code, k.code, `exit code${show}`);
    const lines = stderr.split("\n").filter((l) => l.trim() !== "");
    if (k.message === null) {
      assertEquals(lines, [], `stderr of a quiet success${show}`);
    } else {
      const verbose = k.args(c).includes("--verbose");
      if (!verbose) {
        assertEquals(lines.length, 1, `exactly one stderr line${show}`);
        assert(!/^\s+at /m.test(stderr), `stack trace without --verbose${show}`);
      }
      const line = lines.find((l) => l.startsWith("vidkompy: "));
      assert(line !== undefined, `no 'vidkompy: ' message on stderr${show}`);
      assert(!verbose || line === lines[0], `the message comes first${show}`);
      assert(k.message.test(line), `message should match ${k.message}${show}`);
      assert(ADVICE.test(line), `message should say what to do${show}`);
      assertEquals(stdout, "", `stdout of a failure${show}`);
    }

    // files: inputs untouched, only the expected outputs, no temp file anywhere watched
    for (const w of watched) {
      const d = await diffDir(w, before.get(w)!);
      const expectAdded = w === c.dir ? (k.outputs ?? []).slice().sort() : [];
      const expectChanged = w === c.dir ? (k.replaces ?? []).slice().sort() : [];
      assertEquals(d.added, expectAdded, `new files in ${w}${show}`);
      assertEquals(d.removed, [], `files removed from ${w}`);
      assertEquals(d.changed, expectChanged, `files changed in ${w}`);
      for (const e of Deno.readDirSync(w)) {
        assert(!/\.vidkompy-\d+-.*\.partial/.test(e.name), `temp file left: ${e.name}`);
      }
    }

    // processes: nothing that mentions or runs in our folders outlives the CLI
    let left = await processesMatching(c.root);
    for (let i = 0; i < 30 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await processesMatching(c.root);
    }
    if (left.length > 0) {
      for (const l of left) Deno.kill(Number(l.split(" ")[0]), "SIGKILL");
    }
    assertEquals(left, [], "processes left running");
    await k.check?.(c, stderr);
  } finally {
    await k.teardown?.(c);
  }
}

Deno.test({
  name: "cli: every bad input and fault fails clearly, leaves nothing behind",
  ignore: Deno.build.os !== "linux",
  async fn(t) {
    const t0 = performance.now();
    const root = await Deno.makeTempDir({ prefix: "vidkompy-clierr-" });
    const fx = path.join(root, "fx");
    await Deno.mkdir(fx);
    try {
      await makeFixtures(fx);
      console.log(`fixtures: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      let n = 0;
      for (const k of cases()) {
        const dir = path.join(root, `case-${String(++n).padStart(2, "0")}`);
        await Deno.mkdir(dir);
        const c: Ctx = {
          root,
          fx,
          dir,
          f: (name) => path.join(fx, name),
          d: (name) => path.join(dir, name),
          note: [],
        };
        await t.step(k.name, () => runCase(k, c));
        if (c.note.length) console.log(`${k.name}: ${c.note.join("; ")}`);
      }
      console.log(`total: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      await cleanup(root);
    }
  },
});
