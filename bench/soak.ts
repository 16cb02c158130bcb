/**
 * Soak test: many short composites in a row in one process (through `runCli`, as the CLI does),
 * checking that memory stays flat, that no ffmpeg child outlives its run and that no file is
 * left behind. Every `--failures`-th run is followed by a failing run (a truncated input) so
 * the error path is soaked too.
 *
 * `deno run --allow-all bench/soak.ts [--runs 50] [--failures 10] [--keep]`
 *
 * Prints RSS per run; exits 1 when a check fails: a run's exit code, a leftover process or file,
 * or the mean RSS of the last 10 runs above 120 % of the mean of runs 5–15.
 * @module
 */
import { parseArgs } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import * as path from "node:path";
import { runCli } from "../src/cli.ts";
import { liveChildCount } from "../src/process.ts";

/** Runs ffmpeg quietly; throws with its stderr on failure. */
async function ff(args: string[]): Promise<void> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-hide_banner", "-nostdin", "-v", "error", "-y", ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** Processes whose parent is this one (from /proc; empty where there is no /proc). */
function osChildren(): string[] {
  const kids: string[] = [];
  try {
    Deno.readTextFileSync("/proc/self/stat");
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      throw new Error("bench/soak.ts reads /proc: run it with --allow-all");
    }
    return kids; // no /proc here
  }
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(rest[1]) === Deno.pid && rest[0] !== "Z") {
          kids.push(`${e.name} ${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}`);
        }
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return kids;
}

/**
 * A full garbage collection, so RSS reflects live memory rather than V8's lazy heap growth
 * (without it RSS steps up by ~20 MB somewhere past 60 runs while live memory stays flat).
 */
function findGc(): (() => void) | null {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === "function") return g;
  try {
    v8.setFlagsFromString("--expose-gc");
    const f = vm.runInNewContext("gc");
    return typeof f === "function" ? f : null;
  } catch {
    return null;
  }
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

const mb = (b: number) => (b / 2 ** 20).toFixed(1).padStart(7);

/** Runs the CLI in-process with stderr captured (runCli prints its one error line there). */
async function runQuiet(args: string[]): Promise<{ code: number; stderr: string[] }> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.map(String).join(" "));
  try {
    return { code: await runCli(args), stderr: lines };
  } finally {
    console.error = orig;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "50" },
      failures: { type: "string", default: "10" },
      keep: { type: "boolean", default: false },
    },
  });
  const runs = Math.max(1, Number(values.runs));
  const gc = findGc();
  const failEvery = Math.max(0, Number(values.failures));
  const dir = await Deno.makeTempDir({ prefix: "vidkompy-soak-" });
  const problems: string[] = [];
  const rss: number[] = [];
  try {
    const bg = path.join(dir, "bg.mp4"), fg = path.join(dir, "fg.mp4");
    const cut = path.join(dir, "cut.mp4");
    const x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"];
    await Promise.all([
      ff([
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-frames:v",
        "60",
        "-t",
        "2.4",
        ...x264,
        "-c:a",
        "aac",
        bg,
      ]),
      ff([
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25",
        "-vf",
        "crop=160:120:80:60",
        "-frames:v",
        "40",
        ...x264,
        "-movflags",
        "+faststart",
        fg,
      ]),
    ]);
    const fgBytes = await Deno.readFile(fg);
    await Deno.writeFile(cut, fgBytes.subarray(0, Math.floor(fgBytes.length * 0.5)));
    const inputs = ["bg.mp4", "cut.mp4", "fg.mp4"];
    const listing = () => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

    console.log(`soak: ${runs} composites (320x240 bg, 160x120 fg, 40 frames) in ${dir}`);
    console.log(`memory measured after ${gc ? "a full GC" : "no forced GC"} each run (MB)`);
    console.log("run     rss  heap used  heap total external  seconds");
    for (let i = 1; i <= runs; i++) {
      const out = path.join(dir, `out-${i}.mp4`);
      const t0 = performance.now();
      const res = await runQuiet([
        "comp",
        "--bg",
        bg,
        "--fg",
        fg,
        "--x",
        String(80 + (i % 5)),
        "--y",
        "60",
        "--time-offset",
        "0.4",
        "-q",
        "--preset",
        "ultrafast",
        "-o",
        out,
      ]);
      const secs = (performance.now() - t0) / 1000;
      if (res.code !== 0) problems.push(`run ${i}: exit ${res.code}: ${res.stderr.join(" | ")}`);
      const left = listing();
      const expected = [...inputs, `out-${i}.mp4`].sort();
      if (JSON.stringify(left) !== JSON.stringify(expected)) {
        problems.push(`run ${i}: folder holds ${left.join(", ")}`);
      }
      await Deno.remove(out).catch(() => {});
      if (failEvery > 0 && i % failEvery === 0) {
        const bad = await runQuiet([
          "comp",
          "--bg",
          bg,
          "--fg",
          cut,
          "--x",
          "80",
          "--y",
          "60",
          "--time-offset",
          "0.4",
          "-q",
          "--preset",
          "ultrafast",
          "-o",
          out,
        ]);
        if (bad.code !== 1 || bad.stderr.length !== 1) {
          problems.push(
            `run ${i} (failing input): exit ${bad.code}, stderr ${JSON.stringify(bad.stderr)}`,
          );
        }
        if (JSON.stringify(listing()) !== JSON.stringify(inputs)) {
          problems.push(`run ${i} (failing input): folder holds ${listing().join(", ")}`);
        }
      }
      gc?.();
      const kids = osChildren();
      if (liveChildCount() !== 0 || kids.length > 0) {
        problems.push(
          `run ${i}: ${liveChildCount()} registered children, OS children: ${kids.join(", ")}`,
        );
      }
      const m = Deno.memoryUsage();
      rss.push(m.rss);
      console.log(
        `${String(i).padStart(3)} ${mb(m.rss)}  ${mb(m.heapUsed)}  ${mb(m.heapTotal)}  ${
          mb(m.external)
        }  ${secs.toFixed(2).padStart(7)}`,
      );
    }

    // memory: the mean of the last 10 runs within +20 % of the mean of runs 5–15
    const base = rss.slice(4, 15), last = rss.slice(-10);
    const ratio = mean(last) / mean(base);
    const verdict = `RSS runs 5–15 mean ${mb(mean(base)).trim()} MB, last 10 mean ${
      mb(mean(last)).trim()
    } MB (${((ratio - 1) * 100).toFixed(1)} %)`;
    if (runs < 20) console.log(`${verdict}; fewer than 20 runs: memory trend not judged`);
    else if (!(ratio <= 1.2)) problems.push(`memory grows: ${verdict}`);
    else console.log(`${verdict}: flat`);
  } finally {
    if (!values.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  if (problems.length) {
    console.log(`soak FAILED (${problems.length} problems):`);
    for (const p of problems) console.log(`  ${p}`);
    Deno.exit(1);
  }
  console.log(`soak ok: ${runs} runs, no leaked process, no leftover file`);
}
