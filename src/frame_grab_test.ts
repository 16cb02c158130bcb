import { assert, assertEquals } from "../tests/assert.ts";
import { cleanup, ffmpeg, tempDir } from "../tests/fixtures.ts";
import { grabGrayFrames, nearKeyframes, planGrab, seekTimeOf } from "./frame_grab.ts";
import { probeVideo } from "./probe.ts";

Deno.test("planGrab decodes forward while cheaper than a seek", () => {
  const keys = Int32Array.from([0, 100, 200, 300]);
  assertEquals(planGrab([5, 10, 20], keys), [{ start: 0, indices: [5, 10, 20] }]);
  // far frames right after keyframes are reached by seeking
  assertEquals(planGrab([5, 205, 210, 301], keys), [
    { start: 0, indices: [5] },
    { start: 205, indices: [205, 210] },
    { start: 301, indices: [301] },
  ]);
  // a wanted frame late in a long group is cheaper to reach by decoding on
  assertEquals(planGrab([150, 190], keys).length, 1);
  assertEquals(planGrab([3, 250], undefined), [{ start: 0, indices: [3, 250] }]);
});

Deno.test("seeking grabs the same frames as decoding from the start", async () => {
  const dir = await tempDir();
  try {
    const a = `${dir}/a.mp4`, cut = `${dir}/cut.mp4`, vfr = `${dir}/vfr.mkv`;
    // every frame distinct (moving pattern + temporal noise), B-frames, short GOPs
    await ffmpeg([
      "-f",
      "lavfi",
      "-i",
      "testsrc2=s=160x96:r=25,noise=alls=20:allf=t",
      "-t",
      "6",
      "-c:v",
      "libx264",
      "-g",
      "12",
      "-bf",
      "3",
      "-pix_fmt",
      "yuv420p",
      a,
    ]);
    // stream copy from the middle of a group: an edit list with discarded leading frames
    await ffmpeg(["-ss", "1.3", "-i", a, "-c", "copy", cut]);
    // variable frame rate: drop some frames, keep timestamps
    await ffmpeg([
      "-i",
      a,
      "-vf",
      "select='not(eq(mod(n\\,7)\\,3))'",
      "-fps_mode",
      "vfr",
      "-c:v",
      "libx264",
      "-g",
      "10",
      vfr,
    ]);
    for (const file of [a, cut, vfr]) {
      const info = await probeVideo("ffprobe", file, "fg");
      assert(info.keyframes && info.keyframes.length > 1, `${file}: keyframes found`);
      const n = info.frameCount;
      // some right at keyframes (sought to exactly), some just after
      const keys = [...info.keyframes].filter((k) => k > 0);
      const want = [1, 13, 14, 40, Math.floor(n / 2), n - 20, n - 2, keys[1], keys[2] + 1];
      want.push(keys[keys.length - 1]);
      const seg = planGrab([...new Set(want)].sort((x, y) => x - y), info.keyframes, 0);
      assert(seg.length > 2, `${file}: the plan seeks (${JSON.stringify(seg)})`);
      assert(seekTimeOf(info, 0) === 0);
      assertEquals(seekTimeOf(info, keys[1]), info.frameTimes[keys[1]] - info.startTime);
      const opts = { ffmpeg: "ffmpeg", width: 80, height: 48 };
      const seq = await grabGrayFrames(info, want, { ...opts, sequential: true }, "fg");
      const sought = await grabGrayFrames(info, want, { ...opts, spawnCost: 0 }, "fg");
      assertEquals(sought.length, want.length);
      for (let k = 0; k < want.length; k++) {
        let diff = 0;
        for (let i = 0; i < seq[k].data.length; i++) {
          diff += Math.abs(seq[k].data[i] - sought[k].data[i]);
        }
        assertEquals(diff, 0, `${file}: frame ${want[k]} differs after a seek`);
      }
    }
  } finally {
    await cleanup(dir);
  }
});

Deno.test("nearKeyframes snaps sparse samples to keyframes within half their spacing", () => {
  const info = { keyframes: Int32Array.from([0, 250, 500, 750]) } as unknown as Parameters<
    typeof nearKeyframes
  >[1];
  assertEquals(nearKeyframes([0, 300, 600, 899], info), [0, 250, 500, 750]);
  assertEquals(nearKeyframes([10, 25, 40], info), [10, 25, 40]);
  assertEquals(nearKeyframes([0, 100, 200], info), [0, 100, 200]);
  assertEquals(nearKeyframes([240, 260], info, 200), [250]);
});
