/**
 * vidkompy as a library: probe inputs, find or give an alignment, composite.
 *
 * ```ts
 * import { autoAlign, composite, probeVideo, resolveTools } from "./src/mod.ts";
 * const tools = resolveTools();
 * const bg = await probeVideo(tools.ffprobe, "bg.mp4");
 * const fg = await probeVideo(tools.ffprobe, "fg.mp4");
 * const { alignment } = await autoAlign({ tools, bg, fg });
 * await composite({ tools, bg, fg, alignment, output: "/tmp/out.mp4" });
 * ```
 * @module
 */
export * from "./alignment.ts";
export { autoAlign, type AutoAlignOptions, type AutoAlignResult } from "./auto_align.ts";
export {
  type AudioMode,
  canvasSize,
  composite,
  type CompositeOptions,
  type CompositeResult,
} from "./composite.ts";
export { featherMask, pasteYuv420, type YuvFrame } from "./compose.ts";
export { ExitCode, VidkompyError } from "./errors.ts";
export { checkOutput, defaultOutputName } from "./output_path.ts";
export { probeVideo, type VideoInfo } from "./probe.ts";
export { type ProgressSink, silentProgress, StderrProgress } from "./progress.ts";
export { resolveTools, type Tools } from "./tools.ts";
export { VERSION } from "./version.ts";
