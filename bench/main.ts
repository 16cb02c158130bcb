/**
 * `deno task bench [name …] [--seconds N] [--preset P]`: speed and accuracy benches.
 * Names: composite (1080p composite vs ffmpeg-only), accuracy (alignment accuracy table).
 * Writes bench/results.md as well as printing.
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
      preset: { type: "string", default: "medium" },
      keep: { type: "boolean", default: false },
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
  const md = `# vidkompy bench results\n\n${
    new Date().toISOString()
  }, ${navigator.hardwareConcurrency} cores\n\n${sections.join("\n\n")}\n`;
  await Deno.writeTextFile(new URL("./results.md", import.meta.url), md);
}
