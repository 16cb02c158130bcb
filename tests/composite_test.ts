import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert.ts";
import { manualSpatial, offsetTemporal, summarize } from "../src/alignment.ts";
import { composite } from "../src/composite.ts";
import { probeVideo } from "../src/probe.ts";
import { liveChildCount } from "../src/process.ts";
import { resolveTools } from "../src/tools.ts";
import {
  audioSamples,
  bgIndexFromLuma,
  cleanup,
  ffmpeg,
  frameTimes,
  grayFrames,
  listDir,
  makeNumberedBg,
  makeTexturedFg,
  meanAbsDiff,
  p,
  regionMean,
  tempDir,
  withRotation,
} from "./fixtures.ts";

const tools = resolveTools();

async function setup(
  dir: string,
  fgOpts: Partial<Parameters<typeof makeTexturedFg>[1]> = {},
  bgAudio?: string,
) {
  const bgFile = p(dir, "bg.mp4"), fgFile = p(dir, "fg.mp4");
  await makeNumberedBg(bgFile, { width: 320, height: 240, fps: 25, frames: 70, audio: bgAudio });
  await makeTexturedFg(fgFile, { width: 128, height: 96, fps: 25, frames: 40, ...fgOpts });
  const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
  const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
  return { bgFile, fgFile, bg, fg };
}

Deno.test("composite: one output frame per fg frame at fg's timestamps, fg pixels pasted, bg follows offset", async () => {
  const dir = await tempDir();
  try {
    const { bg, fg } = await setup(dir);
    const out = p(dir, "out.mp4");
    const alignment = {
      vidkompy: 1 as const,
      bg: summarize(bg),
      fg: summarize(fg),
      spatial: manualSpatial(fg, 40, 30, 1),
      temporal: offsetTemporal(fg, bg, 0.4),
    };
    const res = await composite({
      tools,
      bg,
      fg,
      alignment,
      output: out,
      crf: 10,
      preset: "ultrafast",
    });
    assertEquals(res.frames, 40);
    const ft = await frameTimes(p(dir, "fg.mp4"));
    const ot = await frameTimes(out);
    assertEquals(ot.length, ft.length);
    for (let i = 0; i < ft.length; i++) assertAlmostEquals(ot[i] - ot[0], ft[i] - ft[0], 1e-3);
    const outFrames = await grayFrames(out, 320, 240);
    const fgFrames = await grayFrames(p(dir, "fg.mp4"), 128, 96);
    assertEquals(outFrames.length, 40);
    for (let i = 0; i < 40; i += 7) {
      // bg index readable outside the fg: offset 0.4 s at 25 fps = 10 frames
      const luma = regionMean(outFrames[i], 320, 250, 200, 40, 30);
      assertEquals(bgIndexFromLuma(luma), i + 10, `frame ${i}`);
      // the pasted region is fg's pixels up to codec loss
      const crop = new Uint8Array(128 * 96);
      for (let y = 0; y < 96; y++) {
        crop.set(outFrames[i].subarray((30 + y) * 320 + 40, (30 + y) * 320 + 168), y * 128);
      }
      assert(meanAbsDiff(crop, fgFrames[i]) < 4, `fg pixels differ at frame ${i}`);
    }
    assertEquals(listDir(dir), ["bg.mp4", "fg.mp4", "out.mp4"]);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("composite: scaled fg and a non-uniform frame map; fg past bg's end holds the last frame", async () => {
  const dir = await tempDir();
  try {
    const { bg, fg } = await setup(dir);
    const out = p(dir, "out.mp4");
    // drop-like map: repeat and skip bg frames, and run past bg's end (70 frames)
    const map = Array.from(
      { length: 40 },
      (_, i) => Math.min(69, i < 20 ? Math.floor(i * 1.5) : 30 + i * 2),
    );
    const alignment = {
      vidkompy: 1 as const,
      bg: summarize(bg),
      fg: summarize(fg),
      spatial: manualSpatial(fg, 100, 20, 0.5),
      temporal: { offset: 0, rate: 1, confidence: null, map, method: "file" },
    };
    const res = await composite({
      tools,
      bg,
      fg,
      alignment,
      output: out,
      crf: 10,
      preset: "ultrafast",
    });
    assertEquals(res.frames, 40);
    const outFrames = await grayFrames(out, 320, 240);
    const small = p(dir, "small.mp4");
    await ffmpeg([
      "-i",
      p(dir, "fg.mp4"),
      "-vf",
      "scale=64:48:flags=bicubic",
      "-c:v",
      "libx264",
      "-crf",
      "4",
      "-preset",
      "ultrafast",
      small,
    ]);
    const fgSmall = await grayFrames(small, 64, 48);
    for (let i = 0; i < 40; i++) {
      const luma = regionMean(outFrames[i], 320, 250, 200, 40, 30);
      assertEquals(bgIndexFromLuma(luma), map[i], `frame ${i}`);
    }
    // the footprint (64x48 at 100,20) holds fg scaled to half size
    for (const i of [3, 17, 31]) {
      const crop = new Uint8Array(64 * 48);
      for (let y = 0; y < 48; y++) {
        crop.set(outFrames[i].subarray((20 + y) * 320 + 100, (20 + y) * 320 + 164), y * 64);
      }
      assert(meanAbsDiff(crop, fgSmall[i]) < 6, `scaled fg pixels differ at frame ${i}`);
    }
  } finally {
    await cleanup(dir);
  }
});

Deno.test("composite: audio from fg, or bg's shifted into sync", async () => {
  const dir = await tempDir();
  try {
    // bg beeps 1000 Hz between 2.0 and 2.2 s; with offset 1.2 s the beep lands at 0.8 s
    const beep = "aevalsrc='if(between(t,2.0,2.2),0.8*sin(2*PI*1000*t),0)':s=48000:d=3";
    const { bg, fg } = await setup(dir, {}, beep);
    const alignment = {
      vidkompy: 1 as const,
      bg: summarize(bg),
      fg: summarize(fg),
      spatial: manualSpatial(fg, 0, 0, 1),
      temporal: offsetTemporal(fg, bg, 1.2),
    };
    const out = p(dir, "out.mp4");
    const res = await composite({
      tools,
      bg,
      fg,
      alignment,
      output: out,
      crf: 20,
      preset: "ultrafast",
    });
    assertEquals(res.audio, "bg");
    const a = await audioSamples(out);
    const first = a.findIndex((v) => Math.abs(v) > 0.2);
    assert(first >= 0, "beep missing");
    assertAlmostEquals(first / 8000, 0.8, 0.03);
    // fg audio wins when fg has some
    const fgA = p(dir, "fga.mp4");
    await makeTexturedFg(fgA, {
      width: 128,
      height: 96,
      fps: 25,
      frames: 40,
      audio: "sine=f=440:d=2",
    });
    const fg2 = await probeVideo(tools.ffprobe, fgA, "fg");
    const out2 = p(dir, "out2.mp4");
    const res2 = await composite({
      tools,
      bg,
      fg: fg2,
      alignment: { ...alignment, fg: summarize(fg2) },
      output: out2,
      preset: "ultrafast",
    });
    assertEquals(res2.audio, "fg");
    const a2 = await audioSamples(out2);
    assert(a2.length > 8000 * 1.4, "fg audio too short");
    const res3 = await composite({
      tools,
      bg,
      fg,
      alignment,
      output: p(dir, "out3.mp4"),
      preset: "ultrafast",
      audio: "none",
    });
    assertEquals(res3.audio, "none");
    assertEquals((await ffprobe3(p(dir, "out3.mp4"))).includes("audio"), false);
  } finally {
    await cleanup(dir);
  }
});

async function ffprobe3(file: string): Promise<string> {
  const out = await new Deno.Command("ffprobe", {
    args: ["-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", file],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("composite: variable-frame-rate fg keeps its timestamps", async () => {
  const dir = await tempDir();
  try {
    const bgFile = p(dir, "bg.mp4"), fgFile = p(dir, "fg.mkv");
    await makeNumberedBg(bgFile, { width: 320, height: 240, fps: 25, frames: 60 });
    // every 4th interval is three times as long
    await makeTexturedFg(fgFile, {
      width: 128,
      height: 96,
      fps: 25,
      frames: 30,
      vf: "setpts='(N+2*floor(N/4))/25/TB'",
      extra: ["-fps_mode", "passthrough"],
    });
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    assert(fg.vfr, "fixture should be VFR");
    const out = p(dir, "out.mp4");
    const alignment = {
      vidkompy: 1 as const,
      bg: summarize(bg),
      fg: summarize(fg),
      spatial: manualSpatial(fg, 10, 10, 1),
      temporal: offsetTemporal(fg, bg, 0),
    };
    await composite({ tools, bg, fg, alignment, output: out, preset: "ultrafast" });
    const ft = await frameTimes(fgFile), ot = await frameTimes(out);
    assertEquals(ot.length, ft.length);
    for (let i = 0; i < ft.length; i++) assertAlmostEquals(ot[i] - ot[0], ft[i] - ft[0], 2e-3);
    // bg frame under fg frame i is the one nearest to fg's time
    const outFrames = await grayFrames(out, 320, 240);
    for (let i = 0; i < 30; i += 5) {
      const want = Math.round((ft[i] - ft[0]) * 25);
      assertEquals(bgIndexFromLuma(regionMean(outFrames[i], 320, 250, 200, 40, 30)), want);
    }
  } finally {
    await cleanup(dir);
  }
});

Deno.test("composite: rotated fg is used upright", async () => {
  const dir = await tempDir();
  try {
    const bgFile = p(dir, "bg.mp4"), fgFile = p(dir, "fg.mp4"), upright = p(dir, "up.mp4");
    await makeNumberedBg(bgFile, { width: 320, height: 240, fps: 25, frames: 30 });
    await makeTexturedFg(p(dir, "plain.mp4"), { width: 128, height: 96, fps: 25, frames: 20 });
    await withRotation(p(dir, "plain.mp4"), fgFile, 90);
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    assertEquals([fg.width, fg.height], [96, 128]);
    await ffmpeg(["-i", fgFile, "-c:v", "libx264", "-crf", "4", "-preset", "ultrafast", upright]);
    const out = p(dir, "out.mp4");
    await composite({
      tools,
      bg,
      fg,
      alignment: {
        vidkompy: 1,
        bg: summarize(bg),
        fg: summarize(fg),
        spatial: manualSpatial(fg, 20, 50, 1),
        temporal: offsetTemporal(fg, bg, 0),
      },
      output: out,
      preset: "ultrafast",
      crf: 8,
    });
    const o = await grayFrames(out, 320, 240, { x: 20, y: 50, w: 96, h: 128 });
    const u = await grayFrames(upright, 96, 128);
    assert(meanAbsDiff(o[3], u[3]) < 5, "rotated fg not upright in output");
  } finally {
    await cleanup(dir);
  }
});

Deno.test("composite: an encoder failure leaves no output, no temp file and no ffmpeg running", async () => {
  const dir = await tempDir();
  try {
    const { bg, fg } = await setup(dir);
    const out = p(dir, "out.mp4");
    const alignment = {
      vidkompy: 1 as const,
      bg: summarize(bg),
      fg: summarize(fg),
      spatial: manualSpatial(fg, 0, 0, 1),
      temporal: offsetTemporal(fg, bg, 0),
    };
    await assertRejects(() =>
      composite({ tools, bg, fg, alignment, output: out, codec: "no_such_codec" })
    );
    assertEquals(listDir(dir), ["bg.mp4", "fg.mp4"]);
    assertEquals(liveChildCount(), 0);
  } finally {
    await cleanup(dir);
  }
});
