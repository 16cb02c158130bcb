/**
 * Automatic alignment on ffmpeg-made pairs with exact ground truth (see truth.ts).
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { autoAlign, type AutoAlignOptions } from "../src/auto_align.ts";
import { ExitCode, VidkompyError } from "../src/errors.ts";
import { probeVideo } from "../src/probe.ts";
import { resolveTools } from "../src/tools.ts";
import { silentProgress } from "../src/progress.ts";
import { cleanup, ffmpeg, p, tempDir } from "./fixtures.ts";
import { deriveVideo, mandelbrotMaster, type Master, scoreMap } from "./truth.ts";

const tools = resolveTools();
const master = mandelbrotMaster(480, 270, 30, 180);

interface Case {
  bg?: { temporal?: string; spatial?: string; crf?: number };
  fg: { temporal?: string; spatial?: string; crf?: number };
  master?: Master;
  opts?: Partial<AutoAlignOptions>;
}

async function run(dir: string, name: string, c: Case) {
  const m = c.master ?? master;
  const bgFile = p(dir, `${name}_bg.mp4`), fgFile = p(dir, `${name}_fg.mp4`);
  const [bgTruth, fgTruth] = await Promise.all([
    deriveVideo(m, bgFile, c.bg ?? {}),
    deriveVideo(m, fgFile, c.fg),
  ]);
  const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
  const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
  const { alignment } = await autoAlign({ tools, bg, fg, ...c.opts });
  const score = scoreMap(alignment.temporal.map, alignment.temporal.held, fgTruth, bgTruth);
  console.log(
    `${name}: x=${alignment.spatial.x} y=${alignment.spatial.y} scale=${
      alignment.spatial.scale.toFixed(4)
    } ` +
      `ncc=${alignment.spatial.confidence?.toFixed(3)} tconf=${
        alignment.temporal.confidence?.toFixed(3)
      } ` +
      `exact=${
        (score.exact * 100).toFixed(1)
      }% maxErr=${score.maxErr} nearestErr=${score.maxErrNearest} ` +
      `heldWrong=${score.heldWrong}/${fgTruth.length}`,
  );
  return { alignment, score };
}

function near(actual: number, expected: number, tol: number, what: string) {
  assert(
    Math.abs(actual - expected) <= tol,
    `${what}: expected ${expected} ± ${tol}, got ${actual}`,
  );
}

function assertTemporal(score: ReturnType<typeof scoreMap>, opts: { exact?: number } = {}) {
  assert(score.exact >= (opts.exact ?? 0.99), `exact ${score.exact} < ${opts.exact ?? 0.99}`);
  assert(score.maxErr <= 1, `max error ${score.maxErr} > 1 frame`);
  assert(score.maxErrNearest <= 1, `nearest error ${score.maxErrNearest} > 1 frame`);
}

Deno.test("align: crop at 100 %, fg starts later, bg has extra footage before and after", async () => {
  const dir = await tempDir();
  try {
    const { alignment, score } = await run(dir, "crop", {
      fg: {
        temporal: "trim=start_frame=30:end_frame=150,setpts=PTS-STARTPTS",
        spatial: "crop=240:136:100:60",
      },
    });
    near(alignment.spatial.x, 100, 1, "x");
    near(alignment.spatial.y, 60, 1, "y");
    assertEquals(alignment.spatial.scale, 1);
    assertTemporal(score);
    near(alignment.temporal.offset, 1.0, 0.02, "offset");
    assertEquals(score.heldWrong, 0);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: an overlay in fg (logo, caption bar) is left out of the comparison", async (t) => {
  // fg carries something bg lacks: without the mask its edges dominate fg's frame embeddings
  // (temporal match 0.46-0.53, near or below the "unrelated inputs" refusal at 0.5)
  const dir = await tempDir();
  try {
    for (
      const [name, box] of [
        ["logo", "drawbox=x=8:y=8:w=40:h=24:color=white:t=fill"],
        ["caption", "drawbox=x=40:y=108:w=160:h=16:color=white@0.4:t=fill"],
        // a solid box with a bar inside: its edges win the first spatial search (refused at
        // 0.43 / 0.56); the second attempt, with fg's templates clipped, places it
        [
          "box",
          "drawbox=x=20:y=100:w=140:h=20:color=white:t=fill," +
          "drawbox=x=28:y=106:w=124:h=8:color=black:t=fill",
        ],
      ]
    ) {
      await t.step(name, async () => {
        const notices: string[] = [];
        const { alignment, score } = await run(dir, name, {
          fg: {
            temporal: "trim=start_frame=30:end_frame=150,setpts=PTS-STARTPTS",
            spatial: `crop=240:136:100:60,${box}`,
          },
          opts: { notice: (m) => notices.push(m) },
        });
        // only the box needs the second attempt, which says so
        assertEquals(notices.map((m) => m.includes("clipped")), name === "box" ? [true] : []);
        assertEquals(
          [alignment.spatial.x, alignment.spatial.y, alignment.spatial.scale],
          [100, 60, 1],
        );
        assertTemporal(score);
        assert((alignment.temporal.confidence ?? 0) > 0.9, "temporal confidence");
      });
    }
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: downscaled fg (scale 2 in bg) and upscaled fg (scale 0.625)", async () => {
  const dir = await tempDir();
  try {
    const a = await run(dir, "down", { fg: { spatial: "crop=320:180:80:40,scale=160:90" } });
    near(a.alignment.spatial.x, 80, 2, "x");
    near(a.alignment.spatial.y, 40, 2, "y");
    near(a.alignment.spatial.scale, 2, 0.02, "scale");
    assertTemporal(a.score);
    const b = await run(dir, "up", { fg: { spatial: "crop=200:112:140:80,scale=320:180" } });
    near(b.alignment.spatial.x, 140, 2, "x");
    near(b.alignment.spatial.y, 80, 2, "y");
    near(b.alignment.spatial.scale, 0.625, 0.01, "scale");
    assertTemporal(b.score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: fg is the whole bg picture at another resolution", async () => {
  const dir = await tempDir();
  try {
    const { alignment, score } = await run(dir, "whole", { fg: { spatial: "scale=640:360" } });
    near(alignment.spatial.x, 0, 1, "x");
    near(alignment.spatial.y, 0, 1, "y");
    near(alignment.spatial.scaleX, 0.75, 0.005, "scaleX");
    assertTemporal(score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: 24 fps graded fg against a heavily compressed 30 fps bg", async () => {
  const dir = await tempDir();
  try {
    const { alignment, score } = await run(dir, "fps24", {
      bg: { crf: 38 },
      fg: {
        temporal: "trim=start_frame=20,setpts=PTS-STARTPTS,fps=24",
        spatial: "crop=256:144:120:70,eq=brightness=0.08:contrast=1.25:saturation=0.6",
      },
    });
    near(alignment.spatial.x, 120, 1, "x");
    near(alignment.spatial.y, 70, 1, "y");
    assertTemporal(score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: 30 fps fg against a 25 fps bg (bg frames repeat)", async () => {
  const dir = await tempDir();
  try {
    const { score } = await run(dir, "fps25", {
      bg: { temporal: "fps=25" },
      fg: {
        temporal: "trim=start_frame=15:end_frame=165,setpts=PTS-STARTPTS",
        spatial: "crop=240:136:60:100",
      },
    });
    assertTemporal(score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: bg with dropped frames gets a non-uniform map", async () => {
  const dir = await tempDir();
  try {
    const { score } = await run(dir, "drops", {
      // two capture glitches: 3 and 4 frames lost, timestamps closed up
      bg: { temporal: "select='not(between(n\\,50\\,52)+between(n\\,120\\,123))',setpts=N/30/TB" },
      fg: { spatial: "crop=240:136:100:60" },
    });
    assertTemporal(score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: letterboxed fg is placed by its content, bars ignored", async () => {
  const dir = await tempDir();
  try {
    const { alignment, score } = await run(dir, "letterbox", {
      fg: { spatial: "crop=240:136:100:60,pad=240:176:0:20:black" },
    });
    near(alignment.spatial.x, 100, 1, "x");
    near(alignment.spatial.y, 40, 1, "y");
    assertEquals(alignment.spatial.scale, 1);
    assertTemporal(score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: fg running past bg's end holds bg's last frame, flagged", async () => {
  const dir = await tempDir();
  try {
    const { alignment, score } = await run(dir, "pastend", {
      bg: { temporal: "trim=end_frame=120" },
      fg: { temporal: "trim=start_frame=60,setpts=PTS-STARTPTS", spatial: "crop=240:136:100:60" },
    });
    assertTemporal(score);
    assert(score.heldWrong <= 1, `held flags wrong on ${score.heldWrong} frames`);
    const held = alignment.temporal.held ?? [];
    assert(held.slice(-20).every((h) => h === 2), "last fg frames should be held after bg's end");
    assertEquals(alignment.temporal.map[alignment.temporal.map.length - 1], 119);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: scene cut in the footage", async () => {
  const dir = await tempDir();
  try {
    const cut: Master = {
      graph: "mandelbrot=s=480x270:r=30:start_scale=0.6:end_scale=0.3:end_pts=2400[m];" +
        "testsrc2=s=480x270:r=30[t];[m][t]blend=all_mode=average,trim=end_frame=90[a];" +
        "mandelbrot=s=480x270:r=30:start_x=-0.1:start_y=0.9:start_scale=0.05:end_scale=0.04:end_pts=2400[m2];" +
        "testsrc2=s=480x270:r=30,hflip,hue=h=90[t2];[m2][t2]blend=all_mode=average,trim=end_frame=90[b];" +
        "[a][b]concat=n=2:v=1:a=0",
      fps: 30,
      frames: 180,
    };
    const { score } = await run(dir, "cut", {
      master: cut,
      fg: {
        temporal: "trim=start_frame=40:end_frame=150,setpts=PTS-STARTPTS",
        spatial: "crop=240:136:100:60",
      },
    });
    assertTemporal(score);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: fast-changing footage with bg samples 1.5 s apart is placed by the time scan", async (t) => {
  // 93 s of a fast zoom + moving pattern + grain: the coarse pass's 60 bg samples are 1.5 s
  // apart and none is close enough in time to an fg sample for the true placement to win
  // (before the time scan this pair was refused as unrelated)
  const dir = await tempDir();
  try {
    const fast: Master = {
      graph: "mandelbrot=s=80x45:r=30,scale=320:180,format=yuv420p[m];testsrc2=s=320x180:r=30[t];" +
        "[m][t]blend=all_mode=average,noise=alls=3:allf=t",
      fps: 30,
      frames: 2790,
    };
    const bgFile = p(dir, "fast_bg.mp4"), fgFile = p(dir, "fast_fg.mp4");
    const [bgTruth, fgTruth] = await Promise.all([
      deriveVideo(fast, bgFile, { crf: 23 }),
      deriveVideo(fast, fgFile, {
        temporal: "trim=start_frame=60:end_frame=2760,setpts=PTS-STARTPTS",
        spatial: "crop=200:112:60:34",
        crf: 23,
      }),
    ]);
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const check = async (opts: Partial<AutoAlignOptions>, width?: number | "wider") => {
      const log: string[] = [];
      const progress = { ...silentProgress, log: (m: string) => log.push(m) };
      const { alignment } = await autoAlign({ tools, bg, fg, progress, ...opts });
      const score = scoreMap(alignment.temporal.map, alignment.temporal.held, fgTruth, bgTruth);
      assert(log.some((l) => l.startsWith("spatial: scanned ")), "the time scan did not run");
      if (width !== undefined) {
        // bg decoded for the scan at `width` px (128; narrower within a tiny budget; wider
        // within a larger one), and whether those pictures then gave the embedding thumbnails
        // (no second decode of bg: only when wider than 128 here)
        const at = log.map((l) => /all of bg at (\d+)x(\d+) to scan/.exec(l)).find(Boolean);
        assert(at, log.join("\n"));
        const reused = log.some((l) =>
          l.includes(`thumbnails from its ${at[1]}x${at[2]} pictures`)
        );
        const w = Number(at[1]);
        assertEquals(
          [width === "wider" ? w > 128 : w, reused],
          [width === "wider" ? true : width, width === "wider"],
          log.join("\n"),
        );
      }
      assertEquals([alignment.spatial.x, alignment.spatial.y, alignment.spatial.scale], [
        60,
        34,
        1,
      ]);
      near(alignment.temporal.offset, 2, 0.02, "offset");
      assertTemporal(score);
    };
    // bg spooled whole at 320 px (short input): the scan reads the spool
    await t.step("bg spooled", () => check({}));
    // no spool (as for long inputs; 26 MB holds the scan's 128 px pictures, 25.7 MB, not a
    // spool of the coarse pass): bg is decoded at 128 px for the scan, which also runs the
    // coarse search again on those pictures
    await t.step("bg sampled by seeking", () => check({ maxSpoolBytes: 26e6 }, 128));
    // no room at all (as for a very long bg): the narrowest pictures the scan decodes
    await t.step(
      "bg sampled by seeking, narrow scan pictures",
      () => check({ maxSpoolBytes: 0 }, 80),
    );
    // no spool of the coarse pass (320 px would take 160 MB): the scan's pictures are decoded
    // as wide as 100 MB allows (252 px), where fg's footprint gives 64 px thumbnails
    await t.step(
      "bg sampled by seeking, wider scan pictures",
      () => check({ maxSpoolBytes: 100e6 }, "wider"),
    );
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: a picture with vertical bars (testsrc2) is placed at the right height", async () => {
  // testsrc2's bars match at every height at the window search's coarse size; its moving parts
  // line up at another height at another moment. Before, this pair was composited 44 px too
  // high at spatial 0.899 / temporal 0.952; now a weak window match is searched again at
  // precision 3. fg is cut from the encoded bg (as a copy of a copy), which is what made the
  // wrong height win: bg frame = fg frame + 60.
  const dir = await tempDir();
  try {
    const bgFile = p(dir, "bars_bg.mp4"), fgFile = p(dir, "bars_fg.mp4");
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=960x540:r=30,noise=alls=2:allf=t",
      "-t",
      "10",
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-crf",
      "23",
      bgFile,
    ]);
    await ffmpeg([
      "-ss",
      "2",
      "-i",
      bgFile,
      "-t",
      "7",
      "-vf",
      "crop=640:360:160:78",
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-crf",
      "20",
      fgFile,
    ]);
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const { alignment } = await autoAlign({ tools, bg, fg });
    assertEquals([alignment.spatial.x, alignment.spatial.y, alignment.spatial.scale], [
      160,
      78,
      1,
    ]);
    const map = alignment.temporal.map;
    const off = map.filter((b, i) => b !== i + 60).length;
    assertEquals([map.length, off], [fg.frameCount, 0]);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: --match border compares a ring along fg's edge", async () => {
  const dir = await tempDir();
  try {
    const { score } = await run(dir, "border", {
      fg: {
        temporal: "trim=start_frame=30:end_frame=150,setpts=PTS-STARTPTS",
        spatial: "crop=240:136:100:60",
      },
      opts: { match: "border", margin: 12 },
    });
    assertTemporal(score, { exact: 0.95 });
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: fg whose first sampled frames are black is placed by the others", async () => {
  const dir = await tempDir();
  try {
    // 2.4 s of black, then footage: fg's samples at 10 % and 30 % are black. bg is wider than
    // 800 px, so each window is searched at 640 px first (where a black sample has nothing to
    // search with: that threw before, "unexpected error")
    const fade: Master = {
      graph: "color=black:s=960x540:r=25:d=2.4[k];" +
        "mandelbrot=s=960x540:r=25:start_scale=0.6:end_scale=0.3:end_pts=2000[m];" +
        "testsrc2=s=960x540:r=25[t];[m][t]blend=all_mode=average,trim=end_frame=140[c];" +
        "[k][c]concat=n=2:v=1:a=0",
      fps: 25,
      frames: 200,
    };
    const { alignment, score } = await run(dir, "black_start", {
      master: fade,
      fg: { spatial: "crop=480:270:200:100" },
    });
    assertEquals([alignment.spatial.x, alignment.spatial.y], [200, 100]);
    near(alignment.spatial.scale, 1, 0.002, "scale");
    // the black frames match any black bg frame: score the frames with footage
    assert(score.exact >= 0.6, `exact ${score.exact}`);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: a flat (black) fg is refused with exit code 3 and says why", async () => {
  const dir = await tempDir();
  try {
    const bgFile = p(dir, "f_bg.mp4"), fgFile = p(dir, "f_fg.mp4");
    await deriveVideo(master, bgFile, {});
    await deriveVideo({ graph: "color=black:s=240x136:r=30", fps: 30, frames: 90 }, fgFile, {});
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const err = await assertRejects(() => autoAlign({ tools, bg, fg }));
    assert(err instanceof VidkompyError, String(err));
    assertEquals(err.exitCode, ExitCode.NoAlignment);
    assert(err.message.includes("no detail"), err.message);
    assert(err.message.includes("--x/--y"), err.message);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: unrelated footage is refused with exit code 3", async () => {
  const dir = await tempDir();
  try {
    const other: Master = {
      graph: "cellauto=s=480x270:r=30:rule=30:scroll=1,gblur=sigma=1",
      fps: 30,
      frames: 120,
    };
    const bgFile = p(dir, "u_bg.mp4"), fgFile = p(dir, "u_fg.mp4");
    await deriveVideo(master, bgFile, {});
    await deriveVideo(other, fgFile, { spatial: "crop=240:136:100:60" });
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const err = await assertRejects(() => autoAlign({ tools, bg, fg }));
    assert(err instanceof VidkompyError, String(err));
    assertEquals(err.exitCode, ExitCode.NoAlignment);
    console.log(`unrelated: ${err.message}`);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("align: CPU and WebGPU backends (embedding, FFT search, band distance) agree", async (t) => {
  const { acquireGpu, gpuUnavailableReason } = await import("../src/gpu/device.ts");
  const gpu = await acquireGpu();
  if (!gpu) {
    console.log(`skipped: no WebGPU adapter (${gpuUnavailableReason()})`);
    return;
  }
  const dir = await tempDir();
  try {
    const bgFile = p(dir, "b_bg.mp4"), fgFile = p(dir, "b_fg.mp4");
    await deriveVideo(master, bgFile, {});
    await deriveVideo(master, fgFile, {
      temporal: "trim=start_frame=30:end_frame=150,setpts=PTS-STARTPTS,fps=24",
      spatial: "crop=240:136:100:60",
    });
    const bg = await probeVideo(tools.ffprobe, bgFile, "bg");
    const fg = await probeVideo(tools.ffprobe, fgFile, "fg");
    const cpu = await autoAlign({ tools, bg, fg, backend: "cpu" });
    const web = await autoAlign({ tools, bg, fg, backend: "webgpu" });
    await t.step("backends ran", () => {
      for (const stage of ["embedding", "spatial", "distance"]) {
        assertEquals(cpu.backend[stage], "cpu", stage);
        assertEquals(web.backend[stage], "webgpu", stage);
      }
    });
    assertEquals(web.alignment.spatial, cpu.alignment.spatial);
    assertEquals(web.alignment.temporal.map, cpu.alignment.temporal.map);
    await t.step("comp runs every stage in WGSL and reports it", async () => {
      const out = p(dir, "web.mp4");
      const res = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("../main.ts", import.meta.url).pathname,
          "comp",
          "--bg",
          bgFile,
          "--fg",
          fgFile,
          "-o",
          out,
          "--backend",
          "webgpu",
          "--preset",
          "ultrafast",
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(res.code, 0, new TextDecoder().decode(res.stderr));
      const rep = JSON.parse(new TextDecoder().decode(res.stdout));
      assertEquals(rep.backend.embedding, "webgpu");
      assertEquals(rep.backend.spatial, "webgpu");
      assertEquals(rep.backend.distance, "webgpu");
      assertEquals(rep.alignment.spatial.x, cpu.alignment.spatial.x);
      assertEquals(rep.alignment.spatial.y, cpu.alignment.spatial.y);
      assertEquals(rep.alignment.temporal.frames, fg.frameCount);
      assert((await Deno.stat(out)).size > 0);
    });
  } finally {
    await cleanup(dir);
  }
});
