/**
 * Issue 6 features with known ground truth: feathering (`--smooth --margin`), explicit placement
 * (`--x/--y/--zero-shift/--scale`, clipped at the canvas), `--trim`, `vidkompy find`,
 * `--preview` and `--canvas`. Fixtures are tiny ffmpeg lavfi clips; placement and timing are
 * given on the command line so no alignment search runs (except `find`, on small stills).
 * @module
 */
import { assert, assertAlmostEquals, assertEquals } from "./assert.ts";
import { runCli } from "../src/cli.ts";
import { findImage } from "../src/find.ts";
import { resolveTools } from "../src/tools.ts";
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

Deno.test("features: find locates a crop, a scaled crop and a video frame; unrelated → exit 3", async () => {
  const dir = await tempDir();
  const tools = resolveTools();
  try {
    const hay = p(dir, "hay.png");
    await ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", hay]);
    await ffmpeg(["-i", hay, "-vf", "crop=80:60:100:70", p(dir, "crop.png")]);
    // 120x90 at 60,50 shrunk to 80x60: footprint 120x90, scale 1.5
    await ffmpeg(["-i", hay, "-vf", "crop=120:90:60:50,scale=80:60", p(dir, "big.png")]);
    // 80x60 at 100,70 enlarged to 120x90 (jpg): scale 2/3
    await ffmpeg([
      "-i",
      hay,
      "-vf",
      "crop=80:60:100:70,scale=120:90",
      "-q:v",
      "2",
      p(dir, "up.jpg"),
    ]);
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "mandelbrot=s=100x80",
      "-frames:v",
      "1",
      p(dir, "other.webp"),
    ]);
    const exact = await findImage({ tools, needle: p(dir, "crop.png"), haystack: hay });
    assertEquals([exact.x, exact.y, exact.width, exact.height], [100, 70, 80, 60]);
    assertAlmostEquals(exact.scale, 1, 1e-9);
    assert(exact.confidence > 0.9 && exact.found, `confidence ${exact.confidence}`);
    assertEquals(exact.needle.kind, "image");
    const up = await findImage({ tools, needle: p(dir, "up.jpg"), haystack: hay });
    assertAlmostEquals(up.x, 100, 1, "scaled x");
    assertAlmostEquals(up.y, 70, 1, "scaled y");
    assertAlmostEquals(up.scale, 2 / 3, 0.02, "scale 2/3");
    const big = await findImage({
      tools,
      needle: p(dir, "big.png"),
      haystack: hay,
      precision: 4,
    });
    assertAlmostEquals(big.x, 60, 1, "x at scale 1.5");
    assertAlmostEquals(big.y, 50, 1, "y at scale 1.5");
    assertAlmostEquals(big.scale, 1.5, 0.03, "scale 1.5");
    // a video haystack: its middle frame (testsrc2 moves, so only that frame matches)
    const vid = p(dir, "hay.mp4");
    await makeTexturedFg(vid, { width: 320, height: 240, fps: 25, frames: 9 });
    await ffmpeg([
      "-i",
      vid,
      "-vf",
      "select=eq(n\\,4),crop=96:72:150:100",
      "-frames:v",
      "1",
      p(dir, "f4.png"),
    ]);
    const v = await findImage({ tools, needle: p(dir, "f4.png"), haystack: vid });
    assertEquals([v.x, v.y, v.haystack.frame, v.haystack.kind], [150, 100, 4, "video"]);
    // the CLI: exit 0 when found, 3 when not (unless --force), 2 for a bad --precision
    assertEquals(await cli("find", p(dir, "crop.png"), hay, "-q"), 0);
    assertEquals(await cli("find", p(dir, "crop.png"), hay, "--unscaled", "--precision", "0"), 0);
    assertEquals(await cli("find", p(dir, "other.webp"), hay), 3);
    assertEquals(await cli("find", p(dir, "other.webp"), hay, "--force"), 0);
    assertEquals(await cli("find", p(dir, "crop.png"), hay, "--precision", "5"), 2);
    assertEquals(await cli("find", p(dir, "crop.png"), vid, "--haystack-frame", "99"), 2);
    assertEquals(await cli("find", p(dir, "missing.png"), hay), 1);
  } finally {
    await cleanup(dir);
  }
});

/** Decodes a PNG to rgb24; returns size and bytes. */
async function readPng(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const [width, height] = (await ffprobe([
    "-show_entries",
    "stream=width,height",
    "-of",
    "csv=p=0",
    file,
  ])).trim().split(",").map(Number);
  const out = await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    stdout: "piped",
  }).output();
  return { width, height, data: out.stdout };
}

Deno.test("features: --preview draws fg's outline on the bg frame and the time map", async () => {
  const dir = await tempDir();
  try {
    const bg = p(dir, "bg.mp4"), fg = p(dir, "fg.mp4");
    await makeNumberedBg(bg, { width: 160, height: 120, fps: 25, frames: 20 });
    await makeTexturedFg(fg, { width: 64, height: 48, fps: 25, frames: 30 });
    const out = p(dir, "out.mp4"), png = p(dir, "prev.png"), png2 = p(dir, "align.png");
    const known = ["--x", "40", "--y", "30", "--time-offset", "0.2", ...FAST];
    assertEquals(
      await cli("comp", "--bg", bg, "--fg", fg, "-o", out, "--preview", png, ...known),
      0,
    );
    const img = await readPng(png);
    assertEquals([img.width, img.height], [160, 120 + 160]);
    const px = (
      x: number,
      y: number,
    ) => [...img.data.subarray((y * 160 + x) * 3, (y * 160 + x) * 3 + 3)];
    const yellow = [255, 230, 0];
    // outline corners and edges where the placement says (40,30)-(103,77)
    for (
      const [x, y] of [[40, 30], [103, 30], [40, 77], [103, 77], [72, 30], [41, 50], [102, 60]]
    ) {
      assertEquals(px(x, y), yellow, `outline at ${x},${y}`);
    }
    assertEquals(px(72, 50)[0], px(72, 50)[2], "inside the outline: gray bg");
    assertEquals(px(39, 50)[0], px(39, 50)[2], "outside the outline: gray bg");
    // bg frame under fg's middle frame (14 + 5 = 19): luma of numbered frame 19
    assertEquals(bgIndexFromLuma(px(10, 10)[0]), 19, "bg frame shown");
    // the plot: the first fg frames map to bg 5.., the last ones run past bg's end (held, grey)
    let grey = 0, scored = 0;
    for (let y = 120; y < 280; y++) {
      for (let x = 0; x < 160; x++) {
        const c = px(x, y);
        if (c[0] === 128 && c[1] === 128 && c[2] === 128) grey++;
        if (c[0] === 60 && c[1] === 140 && c[2] === 255) scored++;
      }
    }
    assert(grey > 0 && scored > 0, `plot points: ${grey} held, ${scored} matched`);
    // align --preview too
    assertEquals(
      await cli(
        "align",
        "--bg",
        bg,
        "--fg",
        fg,
        "-o",
        p(dir, "a.json"),
        "--preview",
        png2,
        ...known.slice(0, 6),
        "-q",
      ),
      0,
    );
    assertEquals((await readPng(png2)).width, 160);
    assertEquals(listDir(dir), ["a.json", "align.png", "bg.mp4", "fg.mp4", "out.mp4", "prev.png"]);
  } finally {
    await cleanup(dir);
  }
});
