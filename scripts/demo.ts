/**
 * `deno task demo`: makes a bg/fg pair with ffmpeg (lavfi sources) in a temp folder, lets
 * vidkompy find the alignment and composite it, and prints where the result is.
 *
 * bg: 960x540 @ 30 fps, 8 s, textured and moving, with a 440 Hz tone.
 * fg: a 480x270 crop of bg at (240, 136), starting 1.5 s into bg, 5 s long, brightened,
 *     without audio (so the output takes bg's audio shifted into sync).
 * @module
 */
import * as path from "node:path";
import { runCli } from "../src/cli.ts";
import { resolveTools } from "../src/tools.ts";

async function ff(ffmpeg: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(ffmpeg, {
    args: ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

if (import.meta.main) {
  const tools = resolveTools();
  const dir = await Deno.makeTempDir({ prefix: "vidkompy-demo-" });
  const bg = path.join(dir, "demo_bg.mp4");
  const fg = path.join(dir, "demo_fg.mp4");
  const out = path.join(dir, "demo_bg_overlay_demo_fg.mp4");
  console.error(`making demo inputs in ${dir} …`);
  await ff(tools.ffmpeg, [
    "-f",
    "lavfi",
    "-i",
    "testsrc2=s=960x540:r=30,noise=alls=6:allf=t",
    "-f",
    "lavfi",
    "-i",
    "sine=f=440:sample_rate=48000",
    "-t",
    "8",
    "-c:v",
    "libx264",
    "-crf",
    "26",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "aac",
    bg,
  ]);
  await ff(tools.ffmpeg, [
    "-ss",
    "1.5",
    "-i",
    bg,
    "-t",
    "5",
    "-an",
    "-vf",
    "crop=480:270:240:136,eq=brightness=0.06:contrast=1.1",
    "-c:v",
    "libx264",
    "-crf",
    "16",
    "-preset",
    "veryfast",
    "-pix_fmt",
    "yuv420p",
    fg,
  ]);
  console.error("expected: x=240 y=136 scale=1, time offset 1.5 s");
  const code = await runCli([
    "comp",
    "--bg",
    bg,
    "--fg",
    fg,
    "-o",
    out,
    "--smooth",
    "--verbose",
    ...Deno.args,
  ]);
  if (code === 0) console.log(out);
  Deno.exit(code);
}
