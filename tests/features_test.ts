/**
 * Issue 6 features with known ground truth: feathering (`--smooth --margin`), explicit placement
 * (`--x/--y/--zero-shift/--scale`, clipped at the canvas), `--trim`, `vidkompy find`,
 * `--preview` and `--canvas`. Fixtures are tiny ffmpeg lavfi clips; placement and timing are
 * given on the command line so no alignment search runs (except `find`, on small stills).
 * @module
 */
import { assert, assertAlmostEquals, assertEquals } from "./assert.ts";
import { runCli } from "../src/cli.ts";
import {
  audioSamples,
  bgIndexFromLuma,
  cleanup,
  ffmpeg,
  ffprobe,
  grayFrames,
  listDir,
  makeNumberedBg,
  makeTexturedFg,
  meanAbsDiff,
  p,
  regionMean,
  tempDir,
} from "./fixtures.ts";

/** Fast, quiet, lossless encoding: output pixels are the composited pixels up to YUV→gray. */
const FAST = ["-q", "--preset", "ultrafast", "--crf", "0"];

/** A flat yuv420p clip of luma `y` (limited range), `frames` frames at 25 fps. */
async function makeFlat(file: string, w: number, h: number, y: number, frames: number) {
  await ffmpeg([
    "-f",
    "lavfi",
    "-i",
    `nullsrc=s=${w}x${h}:r=25,geq=lum=${y}:cb=128:cr=128`,
    "-frames:v",
    String(frames),
    "-c:v",
    "libx264",
    "-crf",
    "0",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    file,
  ]);
}

/** Full-range gray value ffmpeg gives for limited-range luma `y`. */
function grayOf(y: number): number {
  return Math.min(255, Math.max(0, ((y - 16) * 255) / 219));
}

/** The crop (x, y, w, h) of a gray frame of width `fw`. */
function cropOf(f: Uint8Array, fw: number, x: number, y: number, w: number, h: number) {
  const out = new Uint8Array(w * h);
  for (let j = 0; j < h; j++) out.set(f.subarray((y + j) * fw + x, (y + j) * fw + x + w), j * w);
  return out;
}

/** Runs the CLI in-process; returns the exit code. */
async function cli(...args: string[]): Promise<number> {
  return await runCli(args);
}

Deno.test("features: --smooth --margin feathers fg over a linear ramp where bg is visible", async () => {
  const dir = await tempDir();
  try {
    const bg = p(dir, "bg.mp4"), fg = p(dir, "fg.mp4");
    const BG_Y = 40, FG_Y = 220, M = 8;
    await makeFlat(bg, 160, 120, BG_Y, 6);
    await makeFlat(fg, 64, 48, FG_Y, 4);
    // fg inside bg: every edge feathered
    const out = p(dir, "in.mp4");
    const args = ["--time-offset", "0", "--smooth", "--margin", String(M), ...FAST];
    assertEquals(
      await cli("comp", "--bg", bg, "--fg", fg, "--x", "40", "--y", "30", "-o", out, ...args),
      0,
    );
    const [f] = await grayFrames(out, 160, 120);
    const expect = (a: number) => {
      // the blend composite.ts does in the luma plane, then ffmpeg's limited→full range
      const yv = Math.floor((BG_Y * (255 - a) + FG_Y * a + 127) / 255);
      return grayOf(yv);
    };
    const alpha = (d: number) => Math.round(255 * Math.min(1, (d + 0.5) / M));
    const midRow = 30 + 24;
    for (let d = 0; d < 12; d++) {
      // left edge ramp (distance d from fg's left edge), right edge, top and bottom
      assertAlmostEquals(f[midRow * 160 + 40 + d], expect(alpha(d)), 2, `left ramp at ${d}`);
      assertAlmostEquals(f[midRow * 160 + 40 + 63 - d], expect(alpha(d)), 2, `right ramp at ${d}`);
      assertAlmostEquals(f[(30 + d) * 160 + 72], expect(alpha(d)), 2, `top ramp at ${d}`);
      assertAlmostEquals(f[(30 + 47 - d) * 160 + 72], expect(alpha(d)), 2, `bottom ramp at ${d}`);
    }
    // corner: the minimum of both ramps
    assertAlmostEquals(f[(30 + 2) * 160 + 40 + 5], expect(alpha(2)), 2, "corner takes the minimum");
    // outside fg: bg untouched
    assertAlmostEquals(f[midRow * 160 + 39], grayOf(BG_Y), 2, "bg left of fg");
    // fg touching the canvas' left/top edges: those edges stay hard, the others ramp
    const out2 = p(dir, "corner.mp4");
    assertEquals(await cli("comp", "--bg", bg, "--fg", fg, "--zero-shift", "-o", out2, ...args), 0);
    const [g] = await grayFrames(out2, 160, 120);
    assertAlmostEquals(g[24 * 160 + 0], grayOf(FG_Y), 2, "left edge at the canvas stays hard");
    assertAlmostEquals(g[0 * 160 + 30], grayOf(FG_Y), 2, "top edge at the canvas stays hard");
    assertAlmostEquals(g[24 * 160 + 63], expect(alpha(0)), 2, "right edge ramps");
    assertAlmostEquals(g[47 * 160 + 30], expect(alpha(0)), 2, "bottom edge ramps");
    // without --smooth the edges are hard
    const out3 = p(dir, "hard.mp4");
    assertEquals(
      await cli(
        "comp",
        "--bg",
        bg,
        "--fg",
        fg,
        "--x",
        "40",
        "--y",
        "30",
        "--time-offset",
        "0",
        "-o",
        out3,
        ...FAST,
      ),
      0,
    );
    const [h] = await grayFrames(out3, 160, 120);
    assertAlmostEquals(h[midRow * 160 + 40], grayOf(FG_Y), 2, "hard edge");
  } finally {
    await cleanup(dir);
  }
});

Deno.test("features: --x/--y/--zero-shift/--scale place fg; fg partly outside the canvas is clipped", async () => {
  const dir = await tempDir();
  try {
    const bg = p(dir, "bg.mp4"), fg = p(dir, "fg.mp4");
    await makeNumberedBg(bg, { width: 160, height: 120, fps: 25, frames: 12 });
    await makeTexturedFg(fg, { width: 64, height: 48, fps: 25, frames: 6 });
    const fgF = await grayFrames(fg, 64, 48);
    const cases: { name: string; args: string[]; x: number; y: number }[] = [
      { name: "negative offsets", args: ["--x", "-20", "--y", "-10"], x: -20, y: -10 },
      { name: "overhang right/bottom", args: ["--x", "130", "--y", "100"], x: 130, y: 100 },
      { name: "zero shift", args: ["--zero-shift"], x: 0, y: 0 },
    ];
    for (const c of cases) {
      const out = p(dir, `o${c.x}.mp4`);
      assertEquals(
        await cli(
          "comp",
          "--bg",
          bg,
          "--fg",
          fg,
          ...c.args,
          "--time-offset",
          "0.16",
          "-o",
          out,
          ...FAST,
        ),
        0,
        c.name,
      );
      const o = await grayFrames(out, 160, 120);
      assertEquals(o.length, 6, c.name);
      // the visible part of fg
      const x0 = Math.max(0, c.x), y0 = Math.max(0, c.y);
      const x1 = Math.min(160, c.x + 64), y1 = Math.min(120, c.y + 48);
      for (const i of [0, 5]) {
        const got = cropOf(o[i], 160, x0, y0, x1 - x0, y1 - y0);
        const want = cropOf(fgF[i], 64, x0 - c.x, y0 - c.y, x1 - x0, y1 - y0);
        assert(meanAbsDiff(got, want) < 3, `${c.name}: fg pixels differ at frame ${i}`);
        // bg around it: numbered frame i + 4 (offset 0.16 s at 25 fps)
        const bx = c.x > 40 ? 4 : 110, by = c.y > 40 ? 4 : 70;
        assertEquals(bgIndexFromLuma(regionMean(o[i], 160, bx, by, 16, 16)), i + 4, c.name);
      }
    }
    // --scale 0.5: a 32x24 footprint at 10,20
    const out = p(dir, "scaled.mp4");
    assertEquals(
      await cli(
        "comp",
        "--bg",
        bg,
        "--fg",
        fg,
        "--x",
        "10",
        "--y",
        "20",
        "--scale",
        "0.5",
        "--time-offset",
        "0",
        "-o",
        out,
        ...FAST,
      ),
      0,
    );
    const small = p(dir, "small.mp4");
    await ffmpeg([
      "-i",
      fg,
      "-vf",
      "scale=32:24:flags=bicubic",
      "-c:v",
      "libx264",
      "-crf",
      "0",
      "-preset",
      "ultrafast",
      small,
    ]);
    const sF = await grayFrames(small, 32, 24);
    const o = await grayFrames(out, 160, 120);
    assert(meanAbsDiff(cropOf(o[2], 160, 10, 20, 32, 24), sF[2]) < 4, "scaled fg");
    assertEquals(bgIndexFromLuma(regionMean(o[2], 160, 60, 60, 16, 16)), 2, "bg beside scaled fg");
  } finally {
    await cleanup(dir);
  }
});

Deno.test("features: --trim keeps only fg frames with bg content, audio cut to match", async () => {
  const dir = await tempDir();
  try {
    const bg = p(dir, "bg.mp4"), fg = p(dir, "fg.mp4");
    // bg: 30 frames; fg: 40 frames with 2 s of audio, starting 5 frames before bg (offset
    // -0.2 s): fg frames 5..34 show bg frames 0..29, frames 0-4 and 35-39 have no bg content
    await makeNumberedBg(bg, { width: 160, height: 120, fps: 25, frames: 30 });
    await makeTexturedFg(fg, {
      width: 64,
      height: 48,
      fps: 25,
      frames: 40,
      audio: "sine=f=440:d=2:sample_rate=48000",
    });
    const out = p(dir, "trim.mp4");
    const base = ["--x", "10", "--y", "10", "--time-offset", "-0.2", ...FAST];
    assertEquals(await cli("comp", "--bg", bg, "--fg", fg, "--trim", "-o", out, ...base), 0);
    const o = await grayFrames(out, 160, 120);
    assertEquals(o.length, 30, "trimmed frame count");
    const fgF = await grayFrames(fg, 64, 48);
    for (const i of [0, 13, 29]) {
      assert(meanAbsDiff(cropOf(o[i], 160, 10, 10, 64, 48), fgF[i + 5]) < 3, `fg frame ${i + 5}`);
      assertEquals(bgIndexFromLuma(regionMean(o[i], 160, 100, 80, 30, 20)), i, `bg frame ${i}`);
    }
    const dur = Number(
      (await ffprobe(["-show_entries", "format=duration", "-of", "csv=p=0", out])).trim(),
    );
    assertAlmostEquals(dur, 1.2, 0.08, "container duration");
    const a = await audioSamples(out);
    assertAlmostEquals(a.length / 8000, 1.2, 0.08, "audio duration");
    // untrimmed: all 40 frames
    const full = p(dir, "full.mp4");
    assertEquals(await cli("comp", "--bg", bg, "--fg", fg, "-o", full, ...base), 0);
    assertEquals((await grayFrames(full, 160, 120)).length, 40);
    assertEquals(listDir(dir), ["bg.mp4", "fg.mp4", "full.mp4", "trim.mp4"]);
  } finally {
    await cleanup(dir);
  }
});
