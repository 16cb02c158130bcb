/**
 * `deno task compile [--target TRIPLE] [--output PATH]`: builds the single-file vidkompy binary
 * (default `dist/vidkompy`, `.exe` for Windows targets) with `deno compile`.
 *
 * - The WGSL shaders and the default ONNX model are TypeScript modules
 *   (`src/gpu/shaders_embedded.ts`, `src/onnx_model_embedded.ts`), so they are part of the module
 *   graph: no `--include` of the `shaders/` or `models/` folders is needed.
 * - The spatial search's FFT worker (`src/ncc_worker.ts`, started with `new Worker`) is not part
 *   of the import graph, so it is added with `--include`.
 * - onnxruntime-web (used only for `--model`) is embedded like every npm package, but its npm
 *   package is ~140 MB (four wasm builds, browser bundles, source maps). Only the files its Node
 *   build loads are kept (`dist/ort.node.min.mjs`, `dist/ort-wasm-simd-threaded.{mjs,wasm}`);
 *   type-only packages are dropped too (`--exclude-unused-npm` and `--exclude`).
 * - `deno compile` downloads its `denort` runtime from dl.deno.land. Where that host cannot be
 *   reached, set `DENORT_BIN` to a local `denort` binary (from the `denort-<target>.zip` of the
 *   Deno release that matches `deno --version`, for the platform you build for); this script says
 *   so in one line and exits 1 instead of printing a stack of network errors.
 * @module
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Permissions the compiled binary runs with (the same as `deno task vidkompy`). */
export const RUNTIME_PERMISSIONS = [
  "--allow-run",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

/** Files of the onnxruntime-web package that its Node build needs at run time. */
const ORT_KEEP = new Set([
  "package.json",
  "dist/ort.node.min.mjs",
  "dist/ort-wasm-simd-threaded.mjs",
  "dist/ort-wasm-simd-threaded.wasm",
]);

/** npm packages that only carry type declarations. */
const TYPE_ONLY = ["@types/node", "undici-types"];

const HINT =
  "set DENORT_BIN to a local denort binary (from the deno release zip for your platform)";

function fail(msg: string): never {
  console.error(`compile: ${msg}`);
  Deno.exit(1);
}

async function run(args: string[], quiet = false): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: quiet ? "null" : "inherit",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

async function npmCacheDir(): Promise<string | null> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) return null;
  try {
    return (JSON.parse(new TextDecoder().decode(out.stdout)) as { npmCache?: string }).npmCache ??
      null;
  } catch {
    return null;
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** `--exclude` paths: the unused parts of onnxruntime-web and the type-only packages. */
export function excludes(npmCache: string): string[] {
  const registry = path.join(npmCache, "registry.npmjs.org");
  const out: string[] = [];
  for (const pkg of TYPE_ONLY) {
    const dir = path.join(registry, pkg);
    if (!exists(dir)) continue;
    for (const v of Deno.readDirSync(dir)) if (v.isDirectory) out.push(path.join(dir, v.name));
  }
  const ortRoot = path.join(registry, "onnxruntime-web");
  if (!exists(ortRoot)) return out;
  for (const version of Deno.readDirSync(ortRoot)) {
    if (!version.isDirectory) continue;
    const pkgDir = path.join(ortRoot, version.name);
    const walk = (rel: string): void => {
      for (const e of Deno.readDirSync(path.join(pkgDir, rel))) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        const keepsSomething = [...ORT_KEEP].some((k) => k === r || k.startsWith(`${r}/`));
        if (!keepsSomething) out.push(path.join(pkgDir, r));
        else if (e.isDirectory) walk(r);
      }
    };
    walk("");
  }
  return out;
}

if (import.meta.main) {
  let target: string | undefined;
  let output: string | undefined;
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a === "--") continue;
    else if (a === "--target") target = Deno.args[++i];
    else if (a.startsWith("--target=")) target = a.slice(9);
    else if (a === "--output" || a === "-o") output = Deno.args[++i];
    else if (a.startsWith("--output=")) output = a.slice(9);
    else fail(`unknown argument '${a}' (use --target TRIPLE, --output PATH)`);
  }
  const windows = target ? target.includes("windows") : Deno.build.os === "windows";
  output ??= path.join("dist", windows ? "vidkompy.exe" : "vidkompy");

  const denort = Deno.env.get("DENORT_BIN");
  if (denort && !exists(denort)) fail(`DENORT_BIN=${denort} does not exist; ${HINT}`);

  // fill the npm cache first so that the unused onnxruntime-web files can be listed
  const cached = await run(["cache", "main.ts", "src/onnx_embed.ts"], true);
  if (cached.code !== 0) {
    console.error(cached.stderr.trimEnd());
    fail("cannot cache the dependencies (see above)");
  }
  const cache = await npmCacheDir();
  const exclude = cache ? excludes(cache).flatMap((p) => ["--exclude", p]) : [];

  Deno.mkdirSync(path.dirname(path.resolve(ROOT, output)), { recursive: true });
  const args = [
    "compile",
    ...RUNTIME_PERMISSIONS,
    "--exclude-unused-npm",
    ...exclude,
    // the spatial search's FFT worker (src/ncc_parallel.ts) is not an import: include it
    "--include",
    "src/ncc_worker.ts",
    ...(target ? ["--target", target] : []),
    "--output",
    output,
    "main.ts",
  ];
  const res = await run(args);
  if (res.code !== 0) {
    const err = res.stderr;
    if (/denort/i.test(err) && /Could not find denort/i.test(err)) {
      fail(`denort not found at DENORT_BIN=${denort ?? ""}; ${HINT}`);
    }
    if (/dl\.deno\.land|denort|Setting up base binary/i.test(err)) {
      const url = err.match(/https:\/\/dl\.deno\.land\/\S+?\.zip/)?.[0] ?? "dl.deno.land";
      fail(`cannot download denort (${url}); ${HINT}`);
    }
    console.error(err.trimEnd());
    fail(`deno compile failed (exit ${res.code})`);
  }
  // deno compile's own summary (embedded files, sizes) goes to stderr
  if (Deno.env.get("VIDKOMPY_COMPILE_VERBOSE")) console.error(res.stderr.trimEnd());
  const size = Deno.statSync(path.resolve(ROOT, output)).size;
  console.error(`compile: wrote ${output} (${(size / 1e6).toFixed(1)} MB)`);
}
