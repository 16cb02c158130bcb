/**
 * The command line: a thin layer over the library (parsing, output, exit codes).
 * @module
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import * as path from "node:path";
import {
  type Alignment,
  alignmentToJson,
  manualSpatial,
  offsetTemporal,
  readAlignment,
  type SpatialAlignment,
  summarize,
} from "./alignment.ts";
import { autoAlign } from "./auto_align.ts";
import type { Backend } from "./backend.ts";
import { type AudioMode, type CanvasMode, composite } from "./composite.ts";
import { ExitCode, usageError, VidkompyError } from "./errors.ts";
import { checkEncoder } from "./encode.ts";
import { findImage } from "./find.ts";
import { writePreview } from "./preview.ts";
import { AtomicOutput, checkOutput, defaultOutputName } from "./output_path.ts";
import { MAX_DIMENSION, MAX_PIXELS, probeBoth, type VideoInfo } from "./probe.ts";
import { type ProgressSink, silentProgress, StderrProgress } from "./progress.ts";
import { resolveTools } from "./tools.ts";
import { VERSION } from "./version.ts";

function parseNumber(what: string, min?: number, max?: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${what} must be a number, got '${v}'.`);
    }
    if (min !== undefined && n < min) throw new InvalidArgumentError(`${what} must be ≥ ${min}.`);
    if (max !== undefined && n > max) throw new InvalidArgumentError(`${what} must be ≤ ${max}.`);
    return n;
  };
}

function parseInteger(what: string, min?: number, max?: number) {
  const p = parseNumber(what, min, max);
  return (v: string): number => {
    const n = p(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${what} must be a whole number.`);
    return n;
  };
}

/** Shared option values of `comp` and `align`. */
interface CommonOptions {
  bg: string;
  fg: string;
  ffmpeg?: string;
  ffprobe?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  x?: number;
  y?: number;
  zeroShift?: boolean;
  scale?: number;
  timeOffset?: number;
  match: string;
  margin: number;
  force?: boolean;
  unscaled?: boolean;
  backend: string;
  model?: string;
  preview?: string;
  overwrite?: boolean;
}

/** How the `--preview` path is named in messages. */
const PREVIEW_ROLE = { what: "preview", flag: "--preview" };

/**
 * Checks and reserves the `--preview` target (null without the option) the way the output is
 * checked: not an input (bg, fg, the alignment file) nor another output of the run (`outputs`,
 * e.g. `-o`), no existing file without `-y`, a folder that exists and is writable. Called right
 * after the output check, before any analysis, so a bad path fails early and writes nothing.
 */
function checkPreview(
  o: CommonOptions & { alignment?: string },
  outputs: { role: string; path: string }[],
): string | null {
  if (!o.preview) return null;
  const target = checkOutput(
    o.preview,
    [
      { role: "bg", path: o.bg },
      { role: "fg", path: o.fg },
      ...(o.alignment ? [{ role: "alignment file (--alignment)", path: o.alignment }] : []),
      ...outputs,
    ],
    o.overwrite ?? false,
    PREVIEW_ROLE,
  );
  new AtomicOutput(target, PREVIEW_ROLE).discard();
  return target;
}

function progressFor(o: CommonOptions): ProgressSink {
  if (o.json || o.quiet) {
    return o.verbose && !o.json ? new StderrProgress({ verbose: true }) : silentProgress;
  }
  return new StderrProgress({ verbose: o.verbose });
}

async function probeInputs(o: CommonOptions, alongside?: Promise<unknown>) {
  const tools = resolveTools({ ffmpeg: o.ffmpeg, ffprobe: o.ffprobe });
  try {
    const { bg, fg } = await probeBoth(tools.ffprobe, o.bg, o.fg);
    return { tools, bg, fg };
  } catch (e) {
    await alongside; // leave no check running behind the error
    throw e;
  }
}

/** Refuses `--audio fg|bg` when that input has no audio (before any analysis). */
function checkAudioChoice(audio: string, bg: VideoInfo, fg: VideoInfo): void {
  if (audio === "fg" && !fg.audio) {
    throw usageError(`--audio fg: fg '${fg.path}' has no audio; use --audio bg, auto or none`);
  }
  if (audio === "bg" && !bg.audio) {
    throw usageError(`--audio bg: bg '${bg.path}' has no audio; use --audio fg, auto or none`);
  }
}

/**
 * Refuses a placement that cannot be rendered: a footprint of absurd size (e.g. from an edited
 * alignment file) or one that lies entirely outside bg, where fg would not be seen at all.
 */
function checkPlacement(s: SpatialAlignment, bg: VideoInfo, fromFile?: string): void {
  const where = fromFile ? `alignment file '${fromFile}'` : "--x/--y/--scale";
  const fix = fromFile ? "fix or regenerate it with 'vidkompy align'" : "check --x/--y/--scale";
  if (s.width > MAX_DIMENSION || s.height > MAX_DIMENSION || s.width * s.height > MAX_PIXELS) {
    throw usageError(`${where}: fg's footprint ${s.width}x${s.height} is absurdly large; ${fix}`);
  }
  if (s.x >= bg.width || s.y >= bg.height || s.x + s.width <= 0 || s.y + s.height <= 0) {
    throw usageError(
      `${where}: fg placed at ${s.x},${s.y} (${s.width}x${s.height}) lies entirely outside bg ` +
        `(${bg.width}x${bg.height}); ${fix}`,
    );
  }
}

/**
 * The scale of an explicit placement (--x/--y/--zero-shift): --scale when given, else 1, except
 * that a fg larger than bg is scaled down to fit inside it (min(bgW/fgW, bgH/fgH)), as the
 * automatic search would, with a one-line notice (`note`).
 */
function placementScale(
  o: CommonOptions & { canvas?: string },
  bg: VideoInfo,
  fg: VideoInfo,
  note: (message: string) => void,
): number {
  if (o.scale !== undefined) return o.scale;
  if (fg.width <= bg.width && fg.height <= bg.height) return 1;
  const fit = Math.min(bg.width / fg.width, bg.height / fg.height);
  const keep = o.canvas === "fg"
    ? "; --canvas fg: bg is upscaled, fg keeps its resolution"
    : o.canvas === "bg"
    ? "; --canvas fg would keep fg's resolution"
    : "";
  note(
    `fg (${fg.width}x${fg.height}) is larger than bg (${bg.width}x${bg.height}): ` +
      `placed at scale ${fit.toFixed(4)} to fit (pass --scale to choose)${keep}`,
  );
  return fit;
}

async function buildAlignment(
  o: CommonOptions & { alignment?: string; canvas?: string },
  tools: ReturnType<typeof resolveTools>,
  bg: VideoInfo,
  fg: VideoInfo,
  progress: ProgressSink,
): Promise<
  {
    alignment: Alignment;
    stages: Record<string, number>;
    backend: Record<string, string>;
    notices: string[];
  }
> {
  // notices go to stderr (not with -q or --json) and into --json's report
  const notices: string[] = [];
  const note = (m: string) => {
    notices.push(m);
    if (!o.quiet && !o.json) console.error(`note: ${m}`);
  };
  const hasPos = o.x !== undefined || o.y !== undefined || o.zeroShift;
  if (o.alignment) {
    const a = await readAlignment(o.alignment, fg, bg).catch((e) => {
      // every message says what to do: add the remedy where the reader's message has none
      if (e instanceof VidkompyError && !/;\s*(regenerate|fix|check)\b/.test(e.message)) {
        throw new VidkompyError(
          `${e.message}; fix it or regenerate it with 'vidkompy align'`,
          e.exitCode,
          { detail: e.detail, cause: e },
        );
      }
      throw e;
    });
    if (hasPos || o.scale !== undefined) {
      a.spatial = manualSpatial(fg, o.x ?? 0, o.y ?? 0, o.scale ?? a.spatial.scale);
    }
    if (o.timeOffset !== undefined) a.temporal = offsetTemporal(fg, bg, o.timeOffset);
    checkPlacement(a.spatial, bg, hasPos || o.scale !== undefined ? undefined : o.alignment);
    return { alignment: a, stages: {}, backend: {}, notices };
  }
  const manual = hasPos
    ? manualSpatial(fg, o.x ?? 0, o.y ?? 0, placementScale(o, bg, fg, note))
    : null;
  if (manual) checkPlacement(manual, bg);
  if (manual && o.timeOffset !== undefined) {
    return {
      alignment: {
        vidkompy: 1,
        bg: summarize(bg),
        fg: summarize(fg),
        spatial: manual,
        temporal: offsetTemporal(fg, bg, o.timeOffset),
      },
      stages: {},
      backend: {},
      notices,
    };
  }
  const res = await autoAlign({
    tools,
    bg,
    fg,
    spatial: manual ?? undefined,
    scale: hasPos ? undefined : o.scale,
    timeOffset: o.timeOffset,
    match: o.match === "border" ? "border" : "fg",
    margin: o.margin,
    force: o.force ?? false,
    unscaledOnly: o.unscaled ?? false,
    backend: o.backend as Backend,
    model: o.model,
    progress,
    notice: note,
  });
  return { alignment: res.alignment, stages: res.stages, backend: res.backend, notices };
}

function writeJson(obj: unknown): void {
  console.log(JSON.stringify(obj, null, 2));
}

function alignmentSummary(a: Alignment) {
  const held = a.temporal.held ?? [];
  return {
    spatial: a.spatial,
    temporal: {
      offset: a.temporal.offset,
      rate: a.temporal.rate,
      confidence: a.temporal.confidence,
      method: a.temporal.method,
      frames: a.temporal.map.length,
      heldBefore: held.filter((h) => h === 1).length,
      heldAfter: held.filter((h) => h === 2).length,
    },
  };
}

function addCommon<T extends Command>(cmd: T) {
  return cmd
    .requiredOption("--bg <file>", "background video")
    .requiredOption("--fg <file>", "foreground video (pasted onto bg)")
    .option("--x <px>", "fg's left edge in bg (skips spatial search)", parseInteger("--x"))
    .option("--y <px>", "fg's top edge in bg (skips spatial search)", parseInteger("--y"))
    .option("--zero-shift", "place fg at 0,0 (skips spatial search)")
    .option("--scale <s>", "fg's scale inside bg (0.01–16)", parseNumber("--scale", 0.01, 16))
    .option("--unscaled", "search only 100 % scale")
    .option(
      "--time-offset <s>",
      "bg time = fg time + S seconds (skips temporal search)",
      parseNumber("--time-offset"),
    )
    .addOption(
      new Option("--match <area>", "what to compare in time: fg's area or a ring of bg around it")
        .choices(["fg", "border"] as const).default("fg" as const),
    )
    .option(
      "--margin <px>",
      "width of the border ring / feather (px)",
      parseInteger("--margin", 0, 1000),
      8,
    )
    .option("--force", "composite even when fg and bg do not seem to match")
    .option("--json", "print a machine-readable report on stdout (no progress)")
    .option("-v, --verbose", "log details and full errors")
    .option("-q, --quiet", "no progress output")
    .option("--ffmpeg <path>", "ffmpeg executable (else $VIDKOMPY_FFMPEG, else PATH)")
    .option("--ffprobe <path>", "ffprobe executable (else $VIDKOMPY_FFPROBE, else PATH)")
    .addOption(
      new Option(
        "--backend <name>",
        "compute for the embedding, FFT search and DTW distances: auto, webgpu or cpu",
      )
        .choices(["auto", "webgpu", "cpu"] as const).default("auto" as const),
    )
    .option(
      "--model <file.onnx>",
      "your own embedding network (ONNX: 1x1x64x64 gray in, vector out)",
    )
    .option(
      "--preview <file.png>",
      "also write a PNG: fg's outline on a bg frame and the time map",
    );
}

/** Builds the commander program (exported for tests). */
export function buildProgram() {
  const program = new Command()
    .name("vidkompy")
    .description(
      "Overlay a foreground video onto a background video of the same footage, finding where " +
        "(space) and when (time) they line up. The output has one frame per fg frame, at fg's timing.",
    )
    .version(VERSION, "-V, --version")
    .exitOverride()
    // runCli prints usage errors itself, as one line with a hint
    .configureOutput({ outputError: () => {} });

  const comp = addCommon(
    program.command("comp").description("composite fg onto bg (aligning automatically)"),
  )
    .option("-o, --output <file>", "output file (default: {bg}_overlay_{fg}.mp4 here)")
    .option("-y, --overwrite", "replace an existing output file")
    .option(
      "--alignment <file>",
      "use an alignment JSON (from 'vidkompy align') instead of searching",
    )
    .option("--codec <name>", "video encoder", "libx264")
    .option("--crf <n>", "encoder quality (lower is better)", parseInteger("--crf", 0, 63), 18)
    .option("--preset <name>", "encoder preset", "medium")
    .addOption(
      new Option(
        "--audio <src>",
        "audio: fg's, bg's (shifted into sync), none, or auto (fg else bg)",
      )
        .choices(["auto", "fg", "bg", "none"] as const).default("auto" as const),
    )
    .addOption(
      new Option(
        "--canvas <res>",
        "output resolution: bg's, or fg's (bg scaled so fg is pasted 1:1)",
      ).choices(["bg", "fg"] as const).default("bg" as const),
    )
    .option("--smooth", "feather fg's edges into bg over --margin px")
    .option("--trim", "output only the fg frames that have bg content")
    .addHelpText(
      "after",
      `
Examples:
  vidkompy comp --bg wide.mp4 --fg crop.mp4
  vidkompy comp --bg wide.mp4 --fg crop.mp4 -o out.mp4 --smooth --margin 12
  vidkompy comp --bg wide.mp4 --fg crop.mp4 --x 320 --y 180 --time-offset 1.5
  vidkompy comp --bg small.mp4 --fg sharp.mp4 --canvas fg     # output at fg's resolution
  vidkompy align --bg wide.mp4 --fg crop.mp4 -o map.json && vidkompy comp --bg wide.mp4 --fg crop.mp4 --alignment map.json`,
    )
    .action(async (o) => {
      const t0 = performance.now();
      const progress = progressFor(o);
      // refuse an unknown --codec or a preset the encoder rejects before any analysis (a one-frame
      // trial encode, run while the inputs are probed)
      const encoderProblem = checkEncoder({
        ffmpeg: resolveTools({ ffmpeg: o.ffmpeg, ffprobe: o.ffprobe }).ffmpeg,
        codec: o.codec,
        crf: o.crf,
        preset: o.preset,
        width: 64,
        height: 64,
      }).then(() => null, (e: unknown) => e);
      const { tools, bg, fg } = await probeInputs(o, encoderProblem);
      checkAudioChoice(o.audio, bg, fg);
      const outName = o.output ?? defaultOutputName(o.bg, o.fg);
      const target = checkOutput(
        outName,
        [
          { role: "bg", path: o.bg },
          { role: "fg", path: o.fg },
          ...(o.alignment ? [{ role: "alignment file (--alignment)", path: o.alignment }] : []),
        ],
        o.overwrite ?? false,
      );
      // reserve the output early: fail before minutes of analysis if the folder is not writable
      new AtomicOutput(target).discard();
      const previewTarget = checkPreview(o, [{ role: "output (-o)", path: target }]);
      const encoderError = await encoderProblem;
      if (encoderError) throw encoderError;
      const tProbe = (performance.now() - t0) / 1000;
      const { alignment, stages, backend, notices } = await buildAlignment(
        o,
        tools,
        bg,
        fg,
        progress,
      );
      const res = await composite({
        tools,
        bg,
        fg,
        alignment,
        output: target,
        codec: o.codec,
        crf: o.crf,
        preset: o.preset,
        audio: o.audio as AudioMode,
        feather: o.smooth ? o.margin : 0,
        trim: o.trim ?? false,
        canvas: o.canvas as CanvasMode,
        progress,
      });
      if (previewTarget) await writePreview(tools, bg, alignment, previewTarget);
      if (o.json) {
        writeJson({
          vidkompy: VERSION,
          command: "comp",
          bg: { ...summarize(bg), audio: bg.audio !== null, vfr: bg.vfr },
          fg: { ...summarize(fg), audio: fg.audio !== null, vfr: fg.vfr },
          alignment: alignmentSummary(alignment),
          canvas: res.canvas,
          backend,
          notices,
          stages: { probe: tProbe, ...stages, composite: res.seconds },
          seconds: (performance.now() - t0) / 1000,
          output: res,
        });
      } else if (!o.quiet) {
        console.error(
          `wrote ${
            path.relative(Deno.cwd(), res.output) || res.output
          } (${res.frames} frames, ${res.width}x${res.height} on a ${res.canvas.kind} canvas, ` +
            `audio: ${res.audio})`,
        );
      }
    });
  void comp;

  addCommon(
    program.command("align").description("find the alignment and write it as JSON (no rendering)"),
  )
    .option("-o, --output <file>", "write the alignment JSON here (default: stdout)")
    .option("-y, --overwrite", "replace an existing output file")
    .action(async (o) => {
      const t0 = performance.now();
      const progress = progressFor(o);
      const { tools, bg, fg } = await probeInputs(o);
      let target: string | null = null;
      if (o.output) {
        target = checkOutput(
          o.output,
          [{ role: "bg", path: o.bg }, { role: "fg", path: o.fg }],
          o.overwrite ?? false,
        );
        new AtomicOutput(target).discard();
      }
      const previewTarget = checkPreview(
        o,
        target ? [{ role: "alignment output (-o)", path: target }] : [],
      );
      const { alignment, stages, backend, notices } = await buildAlignment(
        o,
        tools,
        bg,
        fg,
        progress,
      );
      if (previewTarget) await writePreview(tools, bg, alignment, previewTarget);
      const text = alignmentToJson(alignment);
      if (target) {
        const out = new AtomicOutput(target);
        try {
          await Deno.writeTextFile(out.temp, text + "\n");
          out.commit();
        } catch (e) {
          out.discard();
          throw e;
        }
      }
      if (o.json) {
        writeJson({
          vidkompy: VERSION,
          command: "align",
          bg: summarize(bg),
          fg: summarize(fg),
          alignment: target ? alignmentSummary(alignment) : alignment,
          backend,
          notices,
          stages,
          seconds: (performance.now() - t0) / 1000,
          output: target,
        });
      } else if (!target) {
        console.log(text);
      } else if (!o.quiet) {
        const s = alignment.spatial, t = alignment.temporal;
        console.error(
          `wrote ${o.output}: x=${s.x} y=${s.y} scale=${s.scale.toFixed(4)} (confidence ${
            s.confidence?.toFixed(3) ?? "n/a"
          }), time offset ${t.offset.toFixed(3)} s (confidence ${
            t.confidence?.toFixed(3) ?? "n/a"
          })`,
        );
      }
    });

  program
    .command("find")
    .description("find an image or a video frame (needle) inside another image or video")
    .argument("<needle>", "the picture to look for (png/jpg/webp/…, or a video)")
    .argument("<haystack>", "the picture to look in (image or video)")
    .option(
      "--precision <n>",
      "0 (fast) … 4 (thorough)",
      parseInteger("--precision", 0, 4),
      2,
    )
    .option("--unscaled", "search only 100 % scale")
    .option(
      "--frame <n>",
      "frame of a needle video (default: its middle frame)",
      parseInteger("--frame", 0),
    )
    .option(
      "--haystack-frame <n>",
      "frame of a haystack video (default: its middle frame)",
      parseInteger("--haystack-frame", 0),
    )
    .option("--force", "exit 0 even when the confidence is below 0.4")
    .option("--json", "print a machine-readable report on stdout")
    .option("-v, --verbose", "log details and full errors")
    .option("-q, --quiet", "no log output")
    .option("--ffmpeg <path>", "ffmpeg executable (else $VIDKOMPY_FFMPEG, else PATH)")
    .option("--ffprobe <path>", "ffprobe executable (else $VIDKOMPY_FFPROBE, else PATH)")
    .addHelpText(
      "after",
      `
Prints x, y (needle's top-left in haystack pixels), scale and confidence; exit 3 when the
confidence is below 0.4 (not found) unless --force.

Examples:
  vidkompy find logo.png frame.jpg
  vidkompy find crop.mp4 wide.mp4 --frame 100 --haystack-frame 160 --json`,
    )
    .action(async (needle, haystack, o) => {
      const tools = resolveTools({ ffmpeg: o.ffmpeg, ffprobe: o.ffprobe });
      const r = await findImage({
        tools,
        needle,
        haystack,
        precision: o.precision,
        unscaled: o.unscaled ?? false,
        needleFrame: o.frame,
        haystackFrame: o.haystackFrame,
      });
      if (o.json) {
        writeJson({ vidkompy: VERSION, command: "find", ...r });
      } else {
        console.log(
          `x=${r.x} y=${r.y} scale=${r.scale.toFixed(4)} confidence=${r.confidence.toFixed(3)}`,
        );
      }
      if (!r.found && !o.force) {
        throw new VidkompyError(
          `needle not found in haystack (best confidence ${r.confidence.toFixed(3)} < 0.4); ` +
            "check the inputs, try --precision 4, or pass --force to accept the best guess",
          ExitCode.NoAlignment,
        );
      }
    });

  return program;
}

/** Collapses a message to one line (ffmpeg and runtime messages may contain newlines). */
function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/** The subcommand named in `args` (for the usage hint), or "" when none. */
function subcommandOf(args: string[]): string {
  for (const a of args) {
    if (a === "--") break;
    if (a === "comp" || a === "align" || a === "find") return a + " ";
  }
  return "";
}

/**
 * Runs the CLI with `args`; returns the exit code (never throws). Every failure prints exactly
 * one line on stderr (`vidkompy: what went wrong; what to do`); `--verbose` adds ffmpeg's
 * stderr and the stack.
 */
export async function runCli(args: string[]): Promise<number> {
  const program = buildProgram();
  const verbose = args.includes("--verbose") || args.includes("-v");
  try {
    await program.parseAsync(args, { from: "user" });
    return ExitCode.Ok;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      if (
        err.code === "commander.helpDisplayed" || err.code === "commander.version" ||
        err.code === "commander.help"
      ) {
        return ExitCode.Ok;
      }
      const msg = oneLine(String(err.message ?? err.code)).replace(/^error:\s*/i, "").replace(
        /\.$/,
        "",
      );
      console.error(`vidkompy: ${msg}; run 'vidkompy ${subcommandOf(args)}--help' for usage`);
      return ExitCode.Usage;
    }
    if (e instanceof VidkompyError) {
      console.error(`vidkompy: ${oneLine(e.message)}`);
      if (verbose && e.detail) console.error(e.detail);
      if (verbose && e.stack) console.error(e.stack);
      return e.exitCode;
    }
    console.error(
      `vidkompy: unexpected error: ${oneLine((e as Error)?.message ?? String(e))}` +
        (verbose ? "" : " (run with --verbose for details)"),
    );
    if (verbose) console.error((e as Error)?.stack);
    return ExitCode.Failure;
  }
}
