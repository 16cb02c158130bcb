import assert from "node:assert/strict";
import { readShaders, renderShaderModule } from "../../scripts/embed_shaders.ts";
import { buildEmbedOnnx, fromBase64, renderEmbeddedModel } from "../onnx_model.ts";
import { EMBED_ONNX_BASE64 } from "../onnx_model_embedded.ts";
import { SHADERS } from "./shaders_embedded.ts";

Deno.test("shaders_embedded.ts is up to date with shaders/*.wgsl", async () => {
  const shaders = await readShaders();
  assert.deepEqual(Object.keys(SHADERS).sort(), shaders.map((s) => s.name));
  const expected = renderShaderModule(shaders);
  const actual = await Deno.readTextFile(new URL("./shaders_embedded.ts", import.meta.url));
  assert.ok(
    actual === expected,
    "src/gpu/shaders_embedded.ts is stale: run deno run --allow-read --allow-write scripts/embed_shaders.ts",
  );
  for (const s of shaders) assert.equal(SHADERS[s.name as keyof typeof SHADERS], s.code);
});

Deno.test("models/embed.onnx and onnx_model_embedded.ts match EMBED_LAYERS", async () => {
  const bytes = buildEmbedOnnx();
  assert.deepEqual(buildEmbedOnnx(), bytes, "the ONNX writer is deterministic");
  const file = await Deno.readFile(new URL("../../models/embed.onnx", import.meta.url));
  const stale = "stale: run deno run --allow-read --allow-write scripts/make_onnx.ts";
  assert.deepEqual(file, bytes, `models/embed.onnx is ${stale}`);
  assert.deepEqual(fromBase64(EMBED_ONNX_BASE64), bytes, `src/onnx_model_embedded.ts is ${stale}`);
  const module = await Deno.readTextFile(new URL("../onnx_model_embedded.ts", import.meta.url));
  assert.equal(module, renderEmbeddedModel(bytes));
});
