/**
 * Speed bench (issue 5): `vidkompy comp` with automatic alignment against an ffmpeg-only
 * command that makes the same output when the alignment is known (same decoder, overlay
 * position, libx264 settings, fg's frames and audio). Synthetic 720p/1080p pairs and pairs made
 * from ../shared/footage when it is there.
 * @module
 */
import * as path from "node:path";
import {
  DENO,
  encodeVia,
  exists,
  ff,
  ffmpegOverlayArgs,
  table,
  type Timed,
  timed,
  vidkompyArgs,
} from "./util.ts";

/** The part of `vidkompy comp --json`'s placement that the bench checks. */
interface Spatial {
  x: number;
  y: number;
  scale: number;
}

/** One bench pair with its known alignment. */
interface SpeedPair {
  name: string;
  bg: string;
  fg: string;
  x: number;
  y: number;
  /** bg seconds at fg's first frame. */
  offset: number;
  /** bg display size. */
  size: string;
}

/** Encodes `seconds` of the lavfi video `graph` with a 440 Hz tone (libx264 veryfast crf 23, AAC). */
function encodeSource(graph: string, seconds: number, out: string): Promise<void> {
  return ff([
    "-f",
    "lavfi",
    "-i",
    graph,
    "-f",
    "lavfi",
    "-i",
    "sine=f=440:sample_rate=48000",
    "-t",
    String(seconds),
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-crf",
    "23",
    "-c:a",
    "aac",
    "-shortest",
    out,
  ]);
}

export async function makeSynthetic(
  dir: string,
  w: number,
  h: number,
  seconds: number,
  prefix = "",
): Promise<SpeedPair> {
  // named by size and length: a folder of kept inputs (--inputs) serves any --seconds
  const bg = path.join(dir, `${prefix}speed_bg_${h}p_${seconds}s.mp4`);
  const fg = path.join(dir, `${prefix}speed_fg_${h}p_${seconds}s.mp4`);
  const fw = Math.round(w * 2 / 3 / 2) * 2, fh = Math.round(h * 2 / 3 / 2) * 2;
  // even offsets: ffmpeg's crop rounds odd ones down on yuv420p
  const x = Math.round(w / 12) * 2, y = Math.round(h / 14) * 2;
  const pair = { name: `synthetic ${h}p`, bg, fg, x, y, offset: 2, size: `${w}x${h}` };
  // kept from an earlier run (--inputs): fg is made after bg, so both are complete
  if (await exists(bg) && await exists(fg)) return pair;
  // a slow zoom blended with a moving test pattern and grain: every frame differs
  const src = `mandelbrot=s=${Math.round(w / 4)}x${Math.round(h / 4)}:rate=30,` +
    `scale=${w}:${h},format=yuv420p[m];testsrc2=s=${w}x${h}:r=30[t];` +
    `[m][t]blend=all_mode=average,noise=alls=3:allf=t`;
  await encodeSource(src, seconds + 3, bg);
  await encodeVia(bg, fg, `crop=${fw}:${fh}:${x}:${y}`, { ss: 2, t: seconds });
  return pair;
}

/**
 * A 1080p30 pair of `seconds` of steady footage, fg a 2/3 crop of it starting 2 s later: a
 * mandelbrot picture zooming so slowly that it is nearly still (texture in both directions;
 * `testsrc2` alone has vertical bars, along which placements at other heights match as well)
 * blended with `testsrc2`'s moving parts and frame counter, plus grain. Longer than the other
 * pairs, so that fixed costs spread over more frames; its moving parts repeat, so coarse
 * samples seconds apart cannot fix the moments and the spatial search's time scan runs.
 */
export async function makeSteady(dir: string, seconds: number): Promise<SpeedPair> {
  const w = 1920, h = 1080;
  const bg = path.join(dir, `steady_bg_${h}p_${seconds}s.mp4`);
  const fg = path.join(dir, `steady_fg_${h}p_${seconds}s.mp4`);
  const fw = 1280, fh = 720, x = 320, y = 154;
  const pair = {
    name: `steady 1080p, ${seconds} s`,
    bg,
    fg,
    x,
    y,
    offset: 2,
    size: `${w}x${h}`,
  };
  if (await exists(bg) && await exists(fg)) return pair;
  await encodeSource(
    `mandelbrot=s=${w / 4}x${h / 4}:rate=30:end_pts=${30 * 3600},scale=${w}:${h},` +
      `format=yuv420p[m];testsrc2=s=${w}x${h}:r=30[t];` +
      `[m][t]blend=all_mode=average,noise=alls=2:allf=t`,
    seconds + 3,
    bg,
  );
  await encodeVia(bg, fg, `crop=${fw}:${fh}:${x}:${y}`, { ss: 2, t: seconds });
  return pair;
}

export async function makeFromFootage(dir: string, film: string, h: number): Promise<SpeedPair> {
  const w = Math.round(h * 16 / 9 / 2) * 2;
  const bg = path.join(dir, `film_bg_${h}p.mp4`);
  const fg = path.join(dir, `film_fg_${h}p.mp4`);
  await encodeVia(film, bg, `scale=${w}:${h}`);
  const fw = Math.round(w / 2 / 2) * 2, fh = Math.round(h / 2 / 2) * 2;
  const x = Math.round(w / 8) * 2, y = Math.round(h / 10) * 2;
  await encodeVia(bg, fg, `crop=${fw}:${fh}:${x}:${y}`, { ss: 1, crf: 23 });
  return { name: `film ${h}p (real footage)`, bg, fg, x, y, offset: 1, size: `${w}x${h}` };
}

async function countFrames(file: string): Promise<{ frames: number; seconds: number }> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-count_packets",
      "-show_entries",
      "stream=nb_read_packets:format=duration",
      "-of",
      "json",
      file,
    ],
    stdout: "piped",
  }).output();
  const j = JSON.parse(new TextDecoder().decode(out.stdout));
  return { frames: Number(j.streams[0].nb_read_packets), seconds: Number(j.format.duration) };
}

/** Runs the bench; returns the markdown table. */
export async function speedBench(
  opts: {
    dir: string;
    preset: string;
    seconds: number;
    /** Runs of each command (interleaved); the fastest of each is reported (default 2). */
    repeat?: number;
    /** Also a synthetic 1080p pair this long (s; 0: none): fixed costs amortise on it. */
    longSeconds?: number;
    /** Also a steady 1080p pair ({@link makeSteady}) this long (s; 0: none). */
    steadySeconds?: number;
    /** Where the synthetic pairs are made and kept for the next run (default: `dir`). */
    inputs?: string;
  },
): Promise<string> {
  const { dir } = opts;
  const synth = opts.inputs ?? dir;
  if (opts.inputs) await Deno.mkdir(opts.inputs, { recursive: true });
  const pairs: SpeedPair[] = [];
  console.error(`making ${opts.seconds} s synthetic 720p and 1080p pairs …`);
  pairs.push(await makeSynthetic(synth, 1280, 720, opts.seconds));
  pairs.push(await makeSynthetic(synth, 1920, 1080, opts.seconds));
  if (opts.longSeconds && opts.longSeconds > opts.seconds) {
    console.error(`making a ${opts.longSeconds} s synthetic 1080p pair …`);
    const long = await makeSynthetic(synth, 1920, 1080, opts.longSeconds, "long_");
    pairs.push({ ...long, name: `synthetic 1080p, ${opts.longSeconds} s` });
  }
  if (opts.steadySeconds && opts.steadySeconds > 0) {
    console.error(`making a ${opts.steadySeconds} s steady 1080p pair …`);
    pairs.push(await makeSteady(synth, opts.steadySeconds));
  }
  const film = new URL("../../shared/footage/film-1280x720-24fps-audio.mp4", import.meta.url)
    .pathname;
  try {
    Deno.statSync(film);
    pairs.push(await makeFromFootage(dir, film, 720));
    pairs.push(await makeFromFootage(dir, film, 1080));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    console.error("../shared/footage not found: footage pairs skipped");
  }
  const rows: (string | number)[][] = [];
  const repeat = Number.isFinite(opts.repeat) ? Math.max(1, Math.round(opts.repeat!)) : 2;
  for (const p of pairs) {
    const fgInfo = await countFrames(p.fg);
    const bgInfo = await countFrames(p.bg);
    const outA = path.join(dir, "out_vidkompy.mp4");
    const outB = path.join(dir, "out_ffmpeg.mp4");
    // this machine's speed drifts by tens of percent over minutes: the two commands run
    // interleaved, `repeat` times each, and the fastest run of each is compared
    let a: Timed | null = null, b: Timed | null = null;
    let rep: { stages: Record<string, number>; alignment: { spatial: Spatial } } | null = null;
    let failed: string | null = null;
    for (let r = 0; r < repeat; r++) {
      console.error(`${p.name}: vidkompy comp (automatic alignment), run ${r + 1}/${repeat} …`);
      const ta = await timed(
        DENO,
        vidkompyArgs([
          "comp",
          "--bg",
          p.bg,
          "--fg",
          p.fg,
          "-o",
          outA,
          "-y",
          "--preset",
          opts.preset,
          "--crf",
          "18",
          "--json",
        ]),
      );
      if (ta.code !== 0) {
        // a refused or failed pair is a result too: its row says so and the bench goes on
        failed = `failed (exit ${ta.code}): ${ta.stderr.trim().split("\n")[0]}`;
        break;
      }
      if (!a || ta.seconds < a.seconds) {
        a = ta;
        rep = JSON.parse(ta.stdout);
      }
      console.error(`${p.name}: ffmpeg-only overlay with the known alignment, run ${r + 1} …`);
      const tb = await timed(
        "ffmpeg",
        ffmpegOverlayArgs({ ...p, frames: fgInfo.frames, preset: opts.preset, out: outB }),
      );
      if (tb.code !== 0) throw new Error(`ffmpeg failed on ${p.name}: ${tb.stderr}`);
      if (!b || tb.seconds < b.seconds) b = tb;
    }
    if (failed !== null) {
      console.error(`${p.name}: ${failed}`);
      const none = Array(7).fill("—");
      rows.push([p.name, p.size, `${fgInfo.frames} / ${bgInfo.frames}`, ...none, failed, "—"]);
      continue;
    }
    const stages = rep!.stages;
    const analysis = Object.entries(stages)
      .filter(([k]) => k !== "composite")
      .reduce((s, [, v]) => s + v, 0);
    const sp = rep!.alignment.spatial;
    const placed = sp.x === p.x && sp.y === p.y && Math.abs(sp.scale - 1) < 0.01;
    rows.push([
      p.name,
      p.size,
      `${fgInfo.frames} / ${bgInfo.frames}`,
      (fgInfo.frames / analysis).toFixed(0),
      `${(fgInfo.seconds / analysis).toFixed(1)}×`,
      (fgInfo.frames / a!.seconds).toFixed(1),
      (fgInfo.frames / b!.seconds).toFixed(1),
      (a!.seconds / b!.seconds).toFixed(2),
      ((stages.composite ?? 0) / b!.seconds).toFixed(2),
      a!.peakRssMb?.toFixed(0) ?? "n/a",
      placed ? "exact" : `off: ${sp.x},${sp.y}@${sp.scale.toFixed(3)}`,
      Object.entries(stages).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", "),
    ]);
  }
  return table(
    [
      "clip",
      "bg resolution",
      "frames fg / bg",
      "analysis fps (fg frames/s)",
      "analysis speed (× real time)",
      "end-to-end fps",
      "ffmpeg-only fps",
      "ratio to ffmpeg-only",
      "composite stage / ffmpeg-only",
      "peak RSS MB",
      "placement",
      "stages s",
    ],
    rows,
  );
}
