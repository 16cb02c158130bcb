/**
 * Writes the embedding network as ONNX: `models/embed.onnx` and its base64 twin
 * `src/onnx_model_embedded.ts` (what `loadDefaultOnnxEmbedder` loads, so nothing is read from
 * beside the source at run time). `--check` exits 1 when either is out of date.
 *
 * `deno run --allow-read --allow-write scripts/make_onnx.ts [--check]`
 * @module
 */
import { buildEmbedOnnx, renderEmbeddedModel } from "../src/onnx_model.ts";

/** The model file. */
export const MODEL_FILE = new URL("../models/embed.onnx", import.meta.url);
/** The generated module. */
export const MODEL_MODULE = new URL("../src/onnx_model_embedded.ts", import.meta.url);

async function readOr(url: URL): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(url);
  } catch {
    return null;
  }
}

function same(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && a.length === b.length && a.every((v, i) => v === b[i]);
}

if (import.meta.main) {
  const bytes = buildEmbedOnnx();
  const module = new TextEncoder().encode(renderEmbeddedModel(bytes));
  const targets: [URL, Uint8Array][] = [[MODEL_FILE, bytes], [MODEL_MODULE, module]];
  const stale = [];
  for (const [url, data] of targets) {
    if (!same(await readOr(url), data)) stale.push([url, data] as const);
  }
  if (Deno.args.includes("--check")) {
    for (const [url] of stale) {
      console.error(`${url.pathname} is out of date: run scripts/make_onnx.ts`);
    }
    Deno.exit(stale.length ? 1 : 0);
  }
  for (const [url, data] of stale) {
    await Deno.mkdir(new URL(".", url), { recursive: true });
    await Deno.writeFile(url, data);
    console.log(`wrote ${url.pathname} (${data.length} bytes)`);
  }
  if (!stale.length) console.log("models/embed.onnx and src/onnx_model_embedded.ts are up to date");
}
