/**
 * Foundation bench: a 1080p composite with a known offset, vidkompy vs an ffmpeg-only command
 * producing the same output (same decoder, overlay position, libx264 settings). Target ratio
 * ≤ 1.25.
 * @module
 */
import * as path from "node:path";
import { DENO, ff, ffmpegOverlayArgs, table, timed, vidkompyArgs } from "./util.ts";

/** Runs the bench; returns the markdown table. */
export async function compositeBench(
  opts: { seconds: number; preset: string; dir: string },
): Promise<string> {
  const { dir } = opts;
  const bg = path.join(dir, "bench_bg_1080p.mp4");
  const fg = path.join(dir, "bench_fg_720p.mp4");
  const dur = opts.seconds;
  console.error(`making ${dur} s 1080p bg and 720p fg …`);
  await ff([
    "-f",
    "lavfi",
    "-i",
    `testsrc2=s=1920x1080:r=30,noise=alls=4:allf=t`,
    "-f",
    "lavfi",
    "-i",
    "sine=f=440:sample_rate=48000",
    "-t",
    String(dur + 2),
    "-c:v",
    "libx264",
    "-crf",
    "23",
    "-preset",
    "ultrafast",
    "-c:a",
    "aac",
    bg,
  ]);
  await ff([
    "-ss",
    "2",
    "-i",
    bg,
    "-t",
    String(dur),
    "-vf",
    "crop=1280:720:320:180",
    "-c:v",
    "libx264",
    "-crf",
    "20",
    "-preset",
    "ultrafast",
    "-c:a",
    "aac",
    fg,
  ]);
  const x = 320, y = 180, offset = 2;
  const outA = path.join(dir, "out_vidkompy.mp4");
  const outB = path.join(dir, "out_ffmpeg.mp4");
  console.error("running vidkompy comp …");
  const a = await timed(
    DENO,
    vidkompyArgs([
      "comp",
      "--bg",
      bg,
      "--fg",
      fg,
      "-o",
      outA,
      "-y",
      "--x",
      String(x),
      "--y",
      String(y),
      "--time-offset",
      String(offset),
      "--preset",
      opts.preset,
      "--crf",
      "18",
      "-q",
    ]),
  );
  if (a.code !== 0) throw new Error(`vidkompy failed: ${a.stderr}`);
  console.error("running ffmpeg-only overlay …");
  const b = await timed(
    "ffmpeg",
    ffmpegOverlayArgs({ bg, fg, x, y, offset, frames: dur * 30, preset: opts.preset, out: outB }),
  );
  if (b.code !== 0) throw new Error(`ffmpeg failed: ${b.stderr}`);
  const frames = dur * 30;
  return table(
    ["run", "frames", "wall s", "fps", "peak RSS MB", "ratio to ffmpeg"],
    [
      [
        "vidkompy comp (known alignment)",
        frames,
        a.seconds.toFixed(1),
        (frames / a.seconds).toFixed(1),
        a.peakRssMb?.toFixed(0) ?? "n/a",
        (a.seconds / b.seconds).toFixed(3),
      ],
      [
        "ffmpeg -filter_complex overlay",
        frames,
        b.seconds.toFixed(1),
        (frames / b.seconds).toFixed(1),
        b.peakRssMb?.toFixed(0) ?? "n/a",
        "1.000",
      ],
    ],
  );
}
