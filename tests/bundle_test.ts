/**
 * The one-file bundle (`deno task bundle`, scripts/bundle.ts) runs on its own: it is built into a
 * temp folder, only `vidkompy.js` is copied into an empty folder, and it is run there with a clean
 * environment (empty HOME, so an empty Deno cache; no config, no lockfile). This proves that the
 * shaders, the default model and the npm dependencies are inlined and that nothing is read from
 * the source tree. (`deno compile` needs the `denort` runtime, which cannot be downloaded here;
 * the compiled binary is checked by scripts/smoke-binary.sh in the release workflow.)
 * @module
 */
import * as path from "node:path";
import { buildBundle } from "../scripts/bundle.ts";
import { assert, assertEquals } from "./assert.ts";
import { ffmpeg, ffprobe } from "./fixtures.ts";

async function frameCount(file: string): Promise<number> {
  const out = await ffprobe([
    "-select_streams",
    "v:0",
    "-count_packets",
    "-show_entries",
    "stream=nb_read_packets",
    "-of",
    "csv=p=0",
    file,
  ]);
  return Number(out.trim());
}

/** Directories holding ffmpeg/ffprobe, for the clean environment's PATH. */
function toolPath(): string {
  const dirs = new Set(["/usr/bin", "/bin"]);
  for (const v of ["VIDKOMPY_FFMPEG", "VIDKOMPY_FFPROBE"]) {
    const p = Deno.env.get(v);
    if (p && p.includes("/")) dirs.add(path.dirname(p));
  }
  for (const d of (Deno.env.get("PATH") ?? "").split(path.delimiter)) {
    if (!d) continue;
    try {
      Deno.statSync(path.join(d, "ffmpeg"));
      dirs.add(d);
    } catch {
      // not here
    }
  }
  return [...dirs].join(path.delimiter);
}

Deno.test({
  name: "bundle: dist/vidkompy.js alone composites and aligns from an empty folder",
  ignore: Deno.build.os === "windows",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const build = await Deno.makeTempDir({ prefix: "vidkompy-bundle-build-" });
    const run = await Deno.makeTempDir({ prefix: "vidkompy-bundle-run-" });
    try {
      try {
        await buildBundle(path.join(build, "vidkompy.js"), false);
      } catch (e) {
        const msg = (e as Error).message;
        // deno bundle fetches esbuild from npm the first time; without network and cache, skip
        if (/error sending request|dns error|failed to (fetch|download)|network/i.test(msg)) {
          console.log(`skipped: deno bundle cannot fetch esbuild offline (${msg.split("\n")[0]})`);
          return;
        }
        throw e;
      }
      await Deno.copyFile(path.join(build, "vidkompy.js"), path.join(run, "vidkompy.js"));
      const bg = path.join(run, "bg.mp4");
      const fg = path.join(run, "fg.mp4");
      await ffmpeg([
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x120:r=25,noise=alls=6:allf=t",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        bg,
      ]);
      await ffmpeg([
        "-ss",
        "0.4",
        "-i",
        bg,
        "-t",
        "1.2",
        "-vf",
        "crop=64:48:40:30",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        fg,
      ]);
      const fgFrames = await frameCount(fg);
      assert(fgFrames > 20, `fg has ${fgFrames} frames`);

      const env = {
        PATH: toolPath(),
        HOME: run,
        NO_COLOR: "1",
        VIDKOMPY_NO_GPU: "1",
      };
      const vk = async (args: string[]) => {
        const res = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "--no-config", "--no-lock", "vidkompy.js", ...args],
          cwd: run,
          clearEnv: true,
          env,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: res.code, stdout: dec.decode(res.stdout), stderr: dec.decode(res.stderr) };
      };

      // known alignment: the composite path only
      const comp = await vk([
        "comp",
        "--bg",
        "bg.mp4",
        "--fg",
        "fg.mp4",
        "-o",
        "out.mp4",
        "--x",
        "40",
        "--y",
        "30",
        "--time-offset",
        "0.4",
        "-q",
      ]);
      assertEquals(comp.code, 0, `comp exit code (stderr: ${comp.stderr.trim()})`);
      assertEquals(await frameCount(path.join(run, "out.mp4")), fgFrames, "output frames");

      // full alignment search (spatial + temporal, embedded kernels)
      const align = await vk(["align", "--bg", "bg.mp4", "--fg", "fg.mp4", "-o", "map.json"]);
      assertEquals(align.code, 0, `align exit code (stderr: ${align.stderr.trim()})`);
      const map = JSON.parse(await Deno.readTextFile(path.join(run, "map.json")));
      assert(Math.abs(map.spatial.x - 40) <= 1 && Math.abs(map.spatial.y - 30) <= 1, "placement");
      assert(Math.abs(map.temporal.offset - 0.4) <= 0.05, `offset ${map.temporal.offset}`);

      // nothing but the bundle and what the runs wrote
      const names = [...Deno.readDirSync(run)].map((e) => e.name).filter((n) => n !== ".cache");
      assertEquals(names.sort(), ["bg.mp4", "fg.mp4", "map.json", "out.mp4", "vidkompy.js"]);
    } finally {
      await Deno.remove(build, { recursive: true }).catch(() => {});
      await Deno.remove(run, { recursive: true }).catch(() => {});
    }
  },
});
