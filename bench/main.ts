/**
 * `deno task bench [name …] [--seconds N] [--preset P] [--repeat R] [--long-seconds S]
 * [--steady-seconds S] [--minutes M,…] [--inputs DIR]`: speed and accuracy benches. Names:
 * composite (1080p composite vs ffmpeg-only, known alignment), speed (automatic alignment end to
 * end vs ffmpeg-only on 720p/1080p pairs; `--repeat` interleaved runs of each, the fastest kept,
 * default 2; `--long-seconds` adds a 1080p pair that long, `--steady-seconds` a steady 1080p
 * pair that long), long (hour-long inputs: time and memory), neighbours
 * (HNSW vs exact neighbour search), accuracy (alignment accuracy table), kernels (per-kernel and
 * per-stage throughput, CPU vs WGSL; `--seconds` per cell, at most 2). `--inputs DIR` (speed,
 * long) makes the synthetic inputs there once and reuses them on later runs. Prints each table
 * and replaces its section in bench/results.md (other sections are kept).
 * @module
 */
import { parseArgs } from "node:util";
import { compositeBench } from "./composite_bench.ts";

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      seconds: { type: "string", default: "30" },
      repeat: { type: "string", default: "2" },
      "long-seconds": { type: "string", default: "0" },
      "steady-seconds": { type: "string", default: "0" },
      preset: { type: "string", default: "medium" },
      keep: { type: "boolean", default: false },
      minutes: { type: "string", default: "60" },
      inputs: { type: "string" },
    },
  });
  const names = positionals.length ? positionals : ["composite", "accuracy"];
  const dir = await Deno.makeTempDir({ prefix: "vidkompy-bench-" });
  const sections: string[] = [];
  try {
    for (const name of names) {
      if (name === "composite") {
        const t = await compositeBench({
          seconds: Number(values.seconds),
          preset: values.preset!,
          dir,
        });
        sections.push(
          `## composite (1080p, ${values.seconds} s, libx264 ${values.preset})\n\n${t}`,
        );
      } else if (name === "speed") {
        const { speedBench } = await import("./speed_bench.ts");
        const t = await speedBench({
          dir,
          preset: values.preset!,
          seconds: Math.min(Number(values.seconds), 60),
          repeat: Number(values.repeat),
          longSeconds: Number(values["long-seconds"]),
          steadySeconds: Number(values["steady-seconds"]),
          inputs: values.inputs,
        });
        sections.push(
          `## speed: automatic alignment end to end (libx264 ${values.preset})\n\n${t}`,
        );
      } else if (name === "long") {
        const { longBench } = await import("./long_bench.ts");
        const minutesList = values.minutes!.split(",").map(Number);
        const t = await longBench({ dir, minutesList, inputs: values.inputs });
        sections.push(`## long inputs\n\n${t}`);
      } else if (name === "neighbours") {
        const { neighbourBench } = await import("./neighbour_bench.ts");
        sections.push(`## neighbour search (HNSW vs exact)\n\n${await neighbourBench()}`);
      } else if (name === "kernels") {
        const { kernelsBench } = await import("./kernels_bench.ts");
        const t = await kernelsBench({ seconds: Math.min(Number(values.seconds), 2) });
        sections.push(`## kernel throughput (CPU vs WGSL)\n\n${t}`);
      } else if (name === "accuracy") {
        const { accuracyBench } = await import("./accuracy_bench.ts");
        sections.push(`## alignment accuracy\n\n${await accuracyBench({ dir })}`);
      } else {
        console.error(`unknown bench '${name}'`);
        Deno.exit(2);
      }
      console.log(sections[sections.length - 1] + "\n");
    }
  } finally {
    if (!values.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  await writeResults(sections);
}

/** Replaces (or appends) each `## title` section in bench/results.md, keeping the others. */
async function writeResults(sections: string[]): Promise<void> {
  const file = new URL("./results.md", import.meta.url);
  let old = "";
  try {
    old = await Deno.readTextFile(file);
  } catch {
    // first run
  }
  const parts = old.split(/\n(?=## )/).slice(1).map((p) => p.trim());
  const stamp = `_${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores_`;
  for (const sec of sections) {
    const title = sec.split("\n")[0];
    const body = `${title}\n\n${stamp}\n\n${sec.slice(title.length).trim()}`;
    const at = parts.findIndex((p) => p.split("\n")[0] === title);
    if (at >= 0) parts[at] = body;
    else parts.push(body);
  }
  await Deno.writeTextFile(file, `# vidkompy bench results\n\n${parts.join("\n\n")}\n`);
}
