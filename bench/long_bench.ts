/**
 * Long-input bench (issue 5): a synthetic 1080p fg of M minutes against a bg of M + M/6
 * minutes (60 vs 70 at `--minutes 60`), aligned with `vidkompy align`: wall time, time per
 * input minute (linear in length?), peak RSS (< 500 MB?) and how many fg frames map to the
 * right bg frame.
 *
 * bg is `testsrc` (a moving pattern with a frame counter: every frame differs) encoded with
 * libx264 ultrafast; fg is a stream copy of bg from a later start (an MP4 edit list makes the
 * cut frame-exact), so the true map is bg = fg + a constant number of frames.
 * @module
 */
import * as path from "node:path";
import { DENO, exists, ff, table, timed, vidkompyArgs } from "./util.ts";

async function makeLongPair(dir: string, minutes: number) {
  const bgMin = minutes + minutes / 6;
  const bg = path.join(dir, `long_bg_${minutes}.mp4`);
  const fg = path.join(dir, `long_fg_${minutes}.mp4`);
  // half a frame before frame `startFrame`: the copy starts exactly there (edit list)
  const startFrame = Math.round(minutes * 60 / 12 * 30);
  const startS = (startFrame - 0.5) / 30;
  if (await exists(bg) && await exists(fg)) {
    console.error(`reusing ${bg} and ${fg}`);
    return { bg, fg, startFrame };
  }
  console.error(`making a ${bgMin.toFixed(1)}-minute 1080p bg …`);
  const t0 = performance.now();
  await ff([
    "-f",
    "lavfi",
    "-i",
    "testsrc=s=1920x1080:r=30",
    "-t",
    String(bgMin * 60),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-crf",
    "30",
    "-g",
    "250",
    "-pix_fmt",
    "yuv420p",
    bg,
  ]);
  console.error(`  ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await ff(["-ss", String(startS), "-i", bg, "-t", String(minutes * 60), "-c", "copy", fg]);
  return { bg, fg, startFrame };
}

/**
 * Runs the bench for each length in `minutesList`; returns the markdown table. With `inputs`,
 * the synthetic inputs are made there once and kept (a 70-minute 1080p bg takes ~25 minutes to
 * encode on 2 cores), else in `dir` and deleted after each run.
 */
export async function longBench(
  opts: { dir: string; minutesList: number[]; inputs?: string },
): Promise<string> {
  const rows: (string | number)[][] = [];
  for (const minutes of opts.minutesList) {
    if (opts.inputs) await Deno.mkdir(opts.inputs, { recursive: true });
    const { bg, fg, startFrame } = await makeLongPair(opts.inputs ?? opts.dir, minutes);
    const map = path.join(opts.dir, "long_map.json");
    console.error(`aligning ${minutes} min fg against ${(minutes * 7 / 6).toFixed(1)} min bg …`);
    const r = await timed(
      DENO,
      vidkompyArgs(["align", "--bg", bg, "--fg", fg, "-o", map, "-y", "--json", "-q"]),
    );
    if (r.code !== 0) throw new Error(`vidkompy align failed: ${r.stderr}`);
    const rep = JSON.parse(r.stdout);
    const a = JSON.parse(await Deno.readTextFile(map));
    const m: number[] = a.temporal.map;
    // fg frame i = bg frame startFrame + i
    const first = m.length ? m[0] : 0;
    let exact = 0;
    for (let i = 0; i < m.length; i++) if (m[i] === startFrame + i) exact++;
    const stages = rep.stages as Record<string, number>;
    rows.push([
      `${minutes} / ${(minutes * 7 / 6).toFixed(0)}`,
      m.length,
      r.seconds.toFixed(0),
      (r.seconds / minutes).toFixed(1),
      (minutes * 60 / r.seconds).toFixed(1) + "×",
      r.peakRssMb?.toFixed(0) ?? "n/a",
      `${(100 * exact / Math.max(1, m.length)).toFixed(2)} % (first → ${first})`,
      rep.backend?.temporal ?? "n/a",
      Object.entries(stages).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", "),
    ]);
    if (!opts.inputs) {
      await Deno.remove(bg).catch(() => {});
      await Deno.remove(fg).catch(() => {});
    }
  }
  return table(
    [
      "fg / bg minutes (1080p30)",
      "fg frames",
      "align wall s",
      "s per fg minute",
      "speed (× real time)",
      "peak RSS MB",
      "exact frames",
      "neighbour search",
      "stages s",
    ],
    rows,
  );
}
