import { assert, assertEquals } from "../tests/assert.ts";
import { cleanup, ffmpeg, tempDir } from "../tests/fixtures.ts";
import { resampledThumbnails } from "./embed_video.ts";
import { grabGrayFrames } from "./frame_grab.ts";
import { probeVideo } from "./probe.ts";
import { ThumbnailSpool } from "./thumbnail_spool.ts";

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.stat(file);
    return true;
  } catch {
    return false;
  }
}

/** The spool files (vidkompy-thumbs-*) in the temp folder now. */
function spoolFiles(): Set<string> {
  const dir = Deno.env.get("TMPDIR") ?? "/tmp";
  const out = new Set<string>();
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.startsWith("vidkompy-thumbs-")) out.add(`${dir}/${e.name}`);
  }
  return out;
}

Deno.test("a whole-picture spool gives the frames a grab gives, in order and by index", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/a.mp4`;
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=160x96:r=25,noise=alls=20:allf=t",
      "-frames:v",
      "40",
      "-c:v",
      "libx264",
      "-g",
      "10",
      "-pix_fmt",
      "yuv420p",
      file,
    ]);
    const info = await probeVideo("ffprobe", file, "bg");
    const before = spoolFiles();
    const spool = ThumbnailSpool.start(info, "ffmpeg", undefined, "bg", { width: 160, height: 96 });
    const created = [...spoolFiles()].filter((f) => !before.has(f));
    assertEquals(created.length, 1);
    const want = [0, 17, 39, 3, 17];
    const got = await spool.grab([...want, 100]);
    const ref = await grabGrayFrames(info, want, { ffmpeg: "ffmpeg", sequential: true }, "bg");
    assertEquals(got.length, want.length + 1);
    for (let k = 0; k < want.length; k++) {
      assertEquals(got[k].data, ref[k].data, `frame ${want[k]}`);
    }
    // past the end: the last frame
    assertEquals(got[want.length].data, got[2].data);
    // every picture in order, in chunks, keeping the file
    const seen: number[] = [];
    let e17: Uint8Array | null = null;
    const count = await spool.forEach((i, pic) => {
      seen.push(i);
      if (i === 17) e17 = pic.slice();
    }, 160 * 96 * 3 + 7); // 3 pictures per read: 40 = 13 full reads and a last short one
    assertEquals(count, 40);
    assertEquals(seen, Array.from({ length: 40 }, (_, i) => i));
    assertEquals(e17, ref[1].data);
    assert(await exists(created[0]), "forEach keeps the spool file");
    // then read back in order (the same file); closing deletes it
    const src = await spool.frames();
    let n = 0;
    let f17: Uint8Array | null = null;
    for (let f = await src.read(); f; f = await src.read()) {
      if (n === 17) f17 = f.slice();
      n++;
    }
    await src.close();
    assertEquals(n, 40);
    assertEquals(f17, ref[1].data);
    assert(!(await exists(created[0])), "spool file deleted");
  } finally {
    await cleanup(dir);
  }
});

Deno.test("thumbnails resampled from a reduced spool match thumbnails of the crop", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/b.mp4`;
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=640x360:r=25",
      "-frames:v",
      "12",
      "-c:v",
      "libx264",
      "-crf",
      "12",
      "-pix_fmt",
      "yuv420p",
      file,
    ]);
    const info = await probeVideo("ffprobe", file, "bg");
    const crop = { x: 100, y: 60, width: 400, height: 240 };
    const direct = ThumbnailSpool.start(info, "ffmpeg", crop, "bg");
    assert(direct.matches(crop));
    const reduced = ThumbnailSpool.start(info, "ffmpeg", undefined, "bg", {
      width: 320,
      height: 180,
    });
    assert(!reduced.matches(crop));
    const a = await direct.frames();
    const b = resampledThumbnails(await reduced.frames(), 320, 180, {
      x: 50,
      y: 30,
      width: 200,
      height: 120,
    });
    let frames = 0, diff = 0;
    for (let fa = await a.read(); fa; fa = await a.read()) {
      const fb = await b.read();
      assert(fb, "as many thumbnails");
      for (let i = 0; i < fa.length; i++) diff += Math.abs(fa[i] - fb[i]);
      frames++;
    }
    await a.close();
    await b.close();
    assertEquals(frames, 12);
    const mean = diff / (frames * 64 * 64);
    assert(mean < 3, `mean difference ${mean.toFixed(2)} grey levels`);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("discarding a spool stops its decoder and deletes its file", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/c.mp4`;
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=320x180:r=25",
      "-frames:v",
      "250",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      file,
    ]);
    const info = await probeVideo("ffprobe", file, "bg");
    const before = spoolFiles();
    const spool = ThumbnailSpool.start(info, "ffmpeg", undefined, "bg", {
      width: 320,
      height: 180,
    });
    const created = [...spoolFiles()].filter((f) => !before.has(f));
    await spool.discard();
    assertEquals(created.length, 1);
    assert(!(await exists(created[0])), "spool file deleted");
  } finally {
    await cleanup(dir);
  }
});
