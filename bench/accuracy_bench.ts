/**
 * Alignment accuracy and analysis speed on pairs with exact ground truth: synthetic pairs
 * (lavfi master, see tests/truth.ts) and, when present, pairs derived from ../shared/footage.
 * @module
 */
import * as path from "node:path";
import { autoAlign } from "../src/auto_align.ts";
import { VidkompyError } from "../src/errors.ts";
import { probeVideo } from "../src/probe.ts";
import { resolveTools } from "../src/tools.ts";
import { deriveVideo, mandelbrotMaster, type Master, scoreMap } from "../tests/truth.ts";
import { table } from "./util.ts";

interface PairSpec {
  name: string;
  master: Master;
  bg: { temporal?: string; spatial?: string; crf?: number };
  fg: { temporal?: string; spatial?: string; crf?: number };
  expect: { x: number; y: number; scale: number } | null;
}

function footageMaster(file: string, fps: number, frames: number, w: number, h: number): Master {
  // a movie source as the master: frame-accurate through the same temporal chains
  return { graph: `movie='${file.replace(/'/g, "\\'")}',scale=${w}:${h},fps=${fps}`, fps, frames };
}

/** Runs the accuracy bench; returns the markdown table. */
export async function accuracyBench(opts: { dir: string }): Promise<string> {
  const tools = resolveTools();
  const synth = mandelbrotMaster(960, 540, 30, 300);
  const specs: PairSpec[] = [
    {
      name: "synthetic crop 100 %",
      master: synth,
      bg: {},
      fg: {
        temporal: "trim=start_frame=45:end_frame=255,setpts=PTS-STARTPTS",
        spatial: "crop=480:270:200:120",
      },
      expect: { x: 200, y: 120, scale: 1 },
    },
    {
      name: "synthetic scale 0.5 fg, 24 fps, graded",
      master: synth,
      bg: { crf: 32 },
      fg: {
        temporal: "fps=24",
        spatial: "crop=640:360:160:90,scale=320:180,eq=brightness=0.06:contrast=1.2",
      },
      expect: { x: 160, y: 90, scale: 2 },
    },
    {
      name: "synthetic bg drops frames",
      master: synth,
      bg: { temporal: "select='not(between(mod(n\\,50)\\,20\\,24))',setpts=N/30/TB" },
      fg: { spatial: "crop=480:270:300:200" },
      expect: { x: 300, y: 200, scale: 1 },
    },
  ];
  const shared = new URL("../../shared/footage/", import.meta.url).pathname;
  const film = path.join(shared, "film-1280x720-24fps-audio.mp4");
  const tree = path.join(shared, "tree.avi");
  try {
    Deno.statSync(film);
    const m = footageMaster(film, 24, 190, 1280, 720);
    specs.push(
      {
        name: "film crop 100 %, later start",
        master: m,
        bg: {},
        fg: {
          temporal: "trim=start_frame=24,setpts=PTS-STARTPTS",
          spatial: "crop=640:360:320:200",
        },
        expect: { x: 320, y: 200, scale: 1 },
      },
      {
        name: "film whole picture at 640x360, 30 fps",
        master: m,
        bg: {},
        fg: { temporal: "fps=30", spatial: "scale=640:360" },
        expect: { x: 0, y: 0, scale: 0.5 },
      },
      {
        // moving footage: a placement shifted by the motion, one or two frames off, nearly
        // matches too (found 4 px off before the window search refined neighbouring frames)
        name: "film crop at 0.75, 30 fps, gamma graded, crf 28, later start",
        master: m,
        bg: {},
        fg: {
          temporal: "trim=start_frame=31,setpts=PTS-STARTPTS,fps=30",
          spatial: "crop=800:450:300:150,scale=600:338,eq=gamma=1.3:saturation=0.6",
          crf: 28,
        },
        expect: { x: 300, y: 150, scale: 4 / 3 },
      },
      {
        // a dark region: the first fg sample is near black (it crashed the window search)
        name: "film dark crop upscaled 2x (scale 0.5)",
        master: m,
        bg: {},
        fg: { spatial: "crop=320:180:500:260,scale=640:360" },
        expect: { x: 500, y: 260, scale: 0.5 },
      },
      {
        // 960x540 shrunk to 640x358 (the height rounded): 1.5 across, 1.508 down; one scale
        // had placed it 3 px too wide
        name: "film crop 960x540 shrunk to 640x358",
        master: m,
        bg: {},
        fg: { spatial: "crop=960:540:160:90,scale=640:358" },
        expect: { x: 160, y: 90, scale: 1.5 },
      },
      {
        // a face moving ~4 px a frame: the window search had stopped on the frame before the
        // true one, 4 px off (the probe of the next frame found no slope at full resolution)
        name: "film small crop on a moving face",
        master: m,
        bg: {},
        fg: { spatial: "crop=320:180:200:150" },
        expect: { x: 200, y: 150, scale: 1 },
      },
      {
        // runs of 4 dropped bg frames; the first ten frames (a fade from black) carry no timing
        name: "film crop, bg drops 4 frames in 40",
        master: m,
        bg: { temporal: "select='not(between(mod(n\\,40)\\,10\\,13))',setpts=N/24/TB" },
        fg: { spatial: "crop=640:360:320:200" },
        expect: { x: 320, y: 200, scale: 1 },
      },
      {
        // resampling smooths fg's noise: a 99.8 % footprint had outscored the true 100 %
        name: "film crop, middle half, hue shift and grain",
        master: m,
        bg: {},
        fg: {
          temporal: "trim=start_frame=50:end_frame=140,setpts=PTS-STARTPTS",
          spatial: "crop=800:500:200:100,hue=h=30,noise=alls=8:allf=t",
        },
        expect: { x: 200, y: 100, scale: 1 },
      },
      {
        // a near-black sample matched a wrong place at NCC 0.996 when it was searched first
        name: "film dark crop, grey pillarbox",
        master: m,
        bg: {},
        fg: { spatial: "crop=480:360:400:200,pad=640:360:80:0:color=gray" },
        expect: { x: 320, y: 200, scale: 1 },
      },
    );
  } catch { /* no footage: synthetic only */ }
  try {
    Deno.statSync(tree);
    const m = footageMaster(tree, 15, 440, 320, 240);
    specs.push(
      {
        name: "tree crop, heavy re-encode, later start",
        master: m,
        bg: { crf: 35 },
        fg: {
          temporal: "trim=start_frame=60:end_frame=360,setpts=PTS-STARTPTS",
          spatial: "crop=160:120:100:60",
        },
        expect: { x: 100, y: 60, scale: 1 },
      },
    );
  } catch { /* no footage */ }
  const rows: (string | number)[][] = [];
  for (const s of specs) {
    const bgFile = path.join(opts.dir, "acc_bg.mp4"), fgFile = path.join(opts.dir, "acc_fg.mp4");
    const [bgTruth, fgTruth] = await Promise.all([
      deriveVideo(s.master, bgFile, s.bg),
      deriveVideo(s.master, fgFile, s.fg),
    ]);
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const t0 = performance.now();
    try {
      const { alignment: a } = await autoAlign({ tools, bg, fg });
      const sec = (performance.now() - t0) / 1000;
      const sc = scoreMap(a.temporal.map, a.temporal.held, fgTruth, bgTruth);
      const posErr = s.expect
        ? Math.max(Math.abs(a.spatial.x - s.expect.x), Math.abs(a.spatial.y - s.expect.y))
        : NaN;
      const dur = Math.max(bg.duration, fg.duration);
      rows.push([
        s.name,
        `${fg.width}x${fg.height}→${bg.width}x${bg.height}`,
        `${a.spatial.x},${a.spatial.y} @${
          a.spatial.scale.toFixed(3)
        } (${a.spatial.width}x${a.spatial.height})`,
        posErr,
        (a.spatial.confidence ?? 0).toFixed(3),
        `${(sc.exact * 100).toFixed(1)} %`,
        sc.maxErr,
        (a.temporal.confidence ?? 0).toFixed(3),
        sec.toFixed(1),
        ((fg.duration + bg.duration) / sec).toFixed(1) + "×",
        dur.toFixed(1),
      ]);
    } catch (e) {
      rows.push([
        s.name,
        "",
        e instanceof VidkompyError ? `refused: ${e.message}` : String(e),
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
      ]);
    }
    console.error(rows[rows.length - 1].join(" | "));
  }
  return table(
    [
      "pair",
      "sizes",
      "found x,y @scale (footprint)",
      "pos err px",
      "spatial ncc",
      "exact frames",
      "max err",
      "temporal conf",
      "analysis s",
      "analysis speed (input s / s)",
      "longest input s",
    ],
    rows,
  );
}
