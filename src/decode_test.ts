import { assert, assertEquals } from "../tests/assert.ts";
import { cleanup, ffmpeg, meanAbsDiff, tempDir } from "../tests/fixtures.ts";
import { decodeArgs, type DecodeOptions, FrameReader, skipsLoopFilter } from "./decode.ts";
import { probeVideo, type VideoInfo } from "./probe.ts";

const info = { path: "in.mp4", width: 1920, height: 1080, sar: 1 } as VideoInfo;
const base: DecodeOptions = { ffmpeg: "ffmpeg", info, format: "gray", width: 640, height: 360 };

Deno.test("the deblocking filter is skipped only for gray pictures reduced >= 2x", () => {
  assertEquals(skipsLoopFilter(base), true);
  assertEquals(skipsLoopFilter({ ...base, width: 960, height: 540 }), true);
  assertEquals(skipsLoopFilter({ ...base, width: 961, height: 540 }), false);
  assertEquals(skipsLoopFilter({ ...base, width: 1920, height: 1080 }), false);
  assertEquals(skipsLoopFilter({ ...base, format: "yuv420p" }), false);
  assertEquals(skipsLoopFilter({ ...base, exact: true }), false);
  // reduced from the crop, not the whole picture
  const crop = { x: 100, y: 100, width: 200, height: 120 };
  assertEquals(skipsLoopFilter({ ...base, crop, width: 64, height: 64 }), false);
  assertEquals(skipsLoopFilter({ ...base, crop, width: 100, height: 60 }), true);
  const args = decodeArgs(base, "pipe:1");
  const k = args.indexOf("-skip_loop_filter");
  assert(k >= 0 && args[k + 1] === "all" && k < args.indexOf("-i"), "an input option");
  assertEquals(
    decodeArgs({ ...base, width: 1920, height: 1080 }, "pipe:1").includes(
      "-skip_loop_filter",
    ),
    false,
  );
});

Deno.test("reduced pictures decoded without deblocking match the exact decode", async () => {
  const dir = await tempDir();
  try {
    // heavy compression: the deblocking filter changes the full-size picture a lot
    const file = `${dir}/a.mp4`;
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=640x360:r=25,noise=alls=25:allf=t",
      "-frames:v",
      "20",
      "-c:v",
      "libx264",
      "-crf",
      "40",
      "-pix_fmt",
      "yuv420p",
      file,
    ]);
    const v = await probeVideo("ffprobe", file);
    const read = async (o: DecodeOptions, exact: boolean) => {
      const r = FrameReader.open({ ...o, exact }, "test");
      const out: Uint8Array[] = [];
      try {
        for (let f = await r.read(); f; f = await r.read()) out.push(f.slice());
      } finally {
        await r.close();
      }
      return out;
    };
    const small: DecodeOptions = {
      ffmpeg: "ffmpeg",
      info: v,
      format: "gray",
      width: 160,
      height: 90,
    };
    const [fast, exact] = [await read(small, false), await read(small, true)];
    assertEquals(fast.length, 20);
    assertEquals(exact.length, 20);
    const diffs = fast.map((f, i) => meanAbsDiff(f, exact[i]));
    const full: DecodeOptions = { ...small, width: 640, height: 360 };
    const [fullFast, fullExact] = [await read(full, false), await read(full, true)];
    // full size: decoded exactly either way (the rule keeps the filter on)
    assertEquals(fullFast.map((f, i) => meanAbsDiff(f, fullExact[i])).every((d) => d === 0), true);
    assert(Math.max(...diffs) < 1.5, `reduced pictures differ by ${Math.max(...diffs).toFixed(2)}`);
    assert(diffs.some((d) => d > 0), "the flag had no effect: the test would not notice");
  } finally {
    await cleanup(dir);
  }
});
