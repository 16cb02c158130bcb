/**
 * `deno task bundle [--output PATH]`: builds `dist/vidkompy.js`, the whole CLI as one JavaScript
 * file (`deno bundle`, esbuild underneath; experimental in Deno 2.9), runnable anywhere Deno is
 * with `deno run --allow-all vidkompy.js comp …` and nothing else from this repository.
 *
 * - All npm dependencies are inlined (`--packages bundle`): commander and its typings, and
 *   onnxruntime-web's Node build (`ort.node.min.mjs`, used only for `--model`).
 * - The WGSL shaders and the default ONNX model are TypeScript modules, so they are inlined too.
 * - onnxruntime-web loads its wasm at run time relative to the script (`import.meta.url`), so
 *   `ort-wasm-simd-threaded.mjs` and `.wasm` (~14 MB) are copied beside the bundle. Only `--model`
 *   needs them; the default CPU/WebGPU paths run from the single `.js` file.
 * - `deno bundle` fetches esbuild from npm (`@esbuild/<platform>`) the first time; after that it
 *   works offline from Deno's cache.
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** onnxruntime-web files that its Node build loads beside the script. */
export const ORT_WASM_FILES = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

/** Builds the bundle at `output` (absolute or relative to the repo root); returns its size. */
export async function buildBundle(output: string, withWasm = true): Promise<number> {
  const out = path.resolve(ROOT, output);
  await Deno.mkdir(path.dirname(out), { recursive: true });
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "--packages", "bundle", "-o", out, "main.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!res.success) {
    const err = new TextDecoder().decode(res.stderr).trim();
    throw new Error(`deno bundle failed (exit ${res.code}): ${err}`);
  }
  if (withWasm) {
    const dir = await ortDistDir();
    for (const f of ORT_WASM_FILES) {
      await Deno.copyFile(path.join(dir, f), path.join(path.dirname(out), f));
    }
  }
  return (await Deno.stat(out)).size;
}

/** The `dist/` folder of the cached onnxruntime-web package (cached on demand). */
async function ortDistDir(): Promise<string> {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "console.log(import.meta.resolve('npm:onnxruntime-web@1.30.0'))"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const url = new TextDecoder().decode(res.stdout).trim();
  if (res.success && url.startsWith("file:")) return path.dirname(fileURLToPath(url));
  // npm: specifiers resolve to "npm:…" in eval; ask deno info for the cache path instead
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  const npm = (JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache: string }).npmCache;
  return path.join(npm, "registry.npmjs.org", "onnxruntime-web", "1.30.0", "dist");
}

if (import.meta.main) {
  let output = path.join("dist", "vidkompy.js");
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a === "--") continue;
    else if (a === "--output" || a === "-o") output = Deno.args[++i];
    else {
      console.error(`bundle: unknown argument '${a}' (use --output PATH)`);
      Deno.exit(1);
    }
  }
  try {
    const size = await buildBundle(output);
    console.error(
      `bundle: wrote ${output} (${(size / 1e3).toFixed(0)} kB) + onnxruntime wasm beside it`,
    );
  } catch (e) {
    console.error(`bundle: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
