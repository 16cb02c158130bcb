/**
 * Alignment fixtures with exact ground truth. A master clip is rendered from lavfi sources;
 * fg and bg are derived from it with ffmpeg filter chains split into a temporal part (trim,
 * fps, drops, setpts …) and a spatial part (crop, scale, grade, bars …). The same temporal chain
 * is applied to a "numbered" clip whose pixels encode the master frame index, so every derived
 * frame's master frame is known exactly.
 * @module
 */
import { FFMPEG, ffmpeg } from "./fixtures.ts";

/** A master clip description (a lavfi graph producing `frames` frames at `fps`). */
export interface Master {
  /** lavfi source graph (its output is the master picture). */
  graph: string;
  /** Frame rate. */
  fps: number;
  /** Number of master frames. */
  frames: number;
}

/**
 * A textured master of `frames` frames at `fps`, size `w`x`h`, like a static camera on a busy
 * scene: a slowly zooming fractal (texture everywhere) blended with testsrc2's moving objects,
 * plus per-frame grain.
 */
export function mandelbrotMaster(w: number, h: number, fps: number, frames: number): Master {
  return {
    graph: `mandelbrot=s=${w}x${h}:r=${fps}:start_scale=0.6:end_scale=0.3:end_pts=${
      Math.round((frames / fps) * 400)
    }[a];testsrc2=s=${w}x${h}:r=${fps}[b];[a][b]blend=all_mode=average,noise=alls=3:allf=t`,
    fps,
    frames,
  };
}

/** Renders the master through `temporal` and `spatial` chains and encodes it to `out`. */
export async function deriveVideo(
  master: Master,
  out: string,
  opts: { temporal?: string; spatial?: string; crf?: number; extra?: string[]; preOut?: string[] },
): Promise<number[]> {
  const chain = [`trim=end_frame=${master.frames}`, opts.temporal, opts.spatial].filter(Boolean)
    .join(",");
  await ffmpeg([
    "-f",
    "lavfi",
    "-i",
    master.graph,
    "-vf",
    chain,
    "-fps_mode",
    "passthrough",
    "-c:v",
    "libx264",
    "-crf",
    String(opts.crf ?? 14),
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    ...(opts.extra ?? []),
    out,
  ]);
  return await truthIndices(master, opts.temporal);
}

/** The master frame index of every frame that `temporal` keeps. */
export async function truthIndices(master: Master, temporal?: string): Promise<number[]> {
  const chain = [
    "format=yuv444p",
    "geq=lum='mod(N,256)':cb='floor(N/256)':cr=128",
    `trim=end_frame=${master.frames}`,
    temporal,
  ].filter(Boolean).join(",");
  const out = await new Deno.Command(FFMPEG, {
    args: [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      `nullsrc=s=16x16:r=${master.fps}`,
      "-vf",
      chain,
      "-fps_mode",
      "passthrough",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "yuv444p",
      "pipe:1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const fs = 16 * 16 * 3;
  const n = out.stdout.length / fs;
  const idx: number[] = [];
  for (let i = 0; i < n; i++) idx.push(out.stdout[i * fs] + 256 * out.stdout[i * fs + 256]);
  return idx;
}

/** How a frame map compares with the truth. */
export interface MapScore {
  /** Share of fg frames whose true bg frame exists that got exactly it. */
  exact: number;
  /** Worst error in bg frames where the true frame exists. */
  maxErr: number;
  /** Worst error in bg frames to the nearest-in-time bg frame, for all matched fg frames. */
  maxErrNearest: number;
  /** fg frames whose true frame exists in bg. */
  considered: number;
  /** fg frames flagged held although bg has their moment, or the reverse. */
  heldWrong: number;
}

/** Scores a frame map against the truth (master indices of every fg and bg frame). */
export function scoreMap(
  map: number[],
  held: number[] | undefined,
  fgTruth: number[],
  bgTruth: number[],
): MapScore {
  const positions = new Map<number, number[]>();
  bgTruth.forEach((s, j) => {
    const l = positions.get(s);
    if (l) l.push(j);
    else positions.set(s, [j]);
  });
  const first = bgTruth[0], last = bgTruth[bgTruth.length - 1];
  let exact = 0, maxErr = 0, maxErrNearest = 0, considered = 0, heldWrong = 0;
  for (let i = 0; i < fgTruth.length; i++) {
    const s = fgTruth[i];
    const inside = s >= first && s <= last;
    if (held) {
      const h = held[i] ?? 0;
      const edge = Math.abs(s - first) <= 1 || Math.abs(s - last) <= 1;
      if (!edge && (h !== 0) === inside) heldWrong++;
    }
    if (!inside) continue;
    const js = positions.get(s);
    if (js) {
      considered++;
      const err = Math.min(...js.map((j) => Math.abs(map[i] - j)));
      if (err === 0) exact++;
      maxErr = Math.max(maxErr, err);
    }
    // nearest bg frame in master time
    let best = 0, bestD = Infinity;
    for (let j = 0; j < bgTruth.length; j++) {
      const d = Math.abs(bgTruth[j] - s);
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    const ties = bgTruth.map((v, j) => (Math.abs(v - s) === bestD ? j : -1)).filter((j) => j >= 0);
    maxErrNearest = Math.max(maxErrNearest, Math.min(...ties.map((j) => Math.abs(map[i] - j))), 0);
    void best;
  }
  return { exact: exact / Math.max(1, considered), maxErr, maxErrNearest, considered, heldWrong };
}
