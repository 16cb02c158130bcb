/**
 * The embedding network ({@link EMBED_LAYERS}) as an ONNX model, written by a minimal hand-made
 * protobuf encoder (no dependency). Pure: returns bytes; `scripts/make_onnx.ts` writes them to
 * `models/embed.onnx` and `src/onnx_model_embedded.ts`.
 *
 * Graph (opset 17, input `thumb` float32 `[N, 1, 64, 64]` with grey levels 0..255, output
 * `embedding` float32 `[N, 512]`, L2-normalised — everything of EMBED_LAYERS up to and
 * including L2 normalisation; int8 quantisation is done by the caller):
 *
 * ```
 * mean = ReduceMean(thumb, axes=[2,3]); d = Sub(thumb, mean)
 * var = ReduceMean(Mul(d, d), axes=[2,3]); x = Div(d, Sqrt(Add(var, eps²)))   // InstanceNorm
 * Conv(x, W1[4,1,5,5], pads=2) → Relu → Conv(W2[2,4,1,1]) → AveragePool(4, stride 4)
 * → Flatten(axis 1) → LpNormalization(p=2, axis=1)
 * ```
 * @module
 */
import { EMBED_H, EMBED_LAYERS, EMBED_W, type EmbedLayer } from "./embed.ts";

// ---- protobuf wire format ----

/** Growable protobuf message writer (varint, length-delimited and fixed32 fields). */
class Pb {
  private buf = new Uint8Array(256);
  private n = 0;

  private grow(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  private byte(b: number): void {
    this.grow(1);
    this.buf[this.n++] = b;
  }

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.byte(b);
    } while (x !== 0n);
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** Varint field (int32/int64/enum). */
  int(field: number, v: number): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  /** Bytes field. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.length);
    this.grow(data.length);
    this.buf.set(data, this.n);
    this.n += data.length;
    return this;
  }

  /** String field (UTF-8). */
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** Embedded message field. */
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  /** Fixed32 float field. */
  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.grow(4);
    this.buf.set(b, this.n);
    this.n += 4;
    return this;
  }

  /** Packed repeated varint field. */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new Pb();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

// ---- ONNX messages (field numbers from onnx.proto) ----

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7; // AttributeProto.AttributeType

type Attr = { name: string; f: number } | { name: string; i: number } | {
  name: string;
  ints: number[];
};

function attribute(a: Attr): Pb {
  const m = new Pb().str(1, a.name);
  if ("f" in a) m.float(2, a.f).int(20, ATTR_FLOAT);
  else if ("i" in a) m.int(3, a.i).int(20, ATTR_INT);
  else m.packedInts(8, a.ints).int(20, ATTR_INTS);
  return m;
}

function node(
  op: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attrs: Attr[] = [],
): Pb {
  const m = new Pb();
  for (const i of inputs) m.str(1, i);
  for (const o of outputs) m.str(2, o);
  m.str(3, name).str(4, op);
  for (const a of attrs) m.msg(5, attribute(a));
  return m;
}

function tensor(name: string, dims: number[], data: Float32Array): Pb {
  const raw = new Uint8Array(data.length * 4);
  const dv = new DataView(raw.buffer);
  data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return new Pb().packedInts(1, dims).int(2, FLOAT).str(8, name).bytes(9, raw);
}

function valueInfo(name: string, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) {
    shape.msg(1, typeof d === "number" ? new Pb().int(1, d) : new Pb().str(2, d));
  }
  const tensorType = new Pb().int(1, FLOAT).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

/** Name of the model input. */
export const ONNX_INPUT = "thumb";
/** Name of the model output. */
export const ONNX_OUTPUT = "embedding";

/**
 * Encodes `layers` (default {@link EMBED_LAYERS}) as an ONNX ModelProto (IR 8, opset 17).
 * Deterministic: the same layers always give the same bytes.
 */
export function buildEmbedOnnx(layers: readonly EmbedLayer[] = EMBED_LAYERS): Uint8Array {
  const nodes: Pb[] = [];
  const inits: Pb[] = [];
  let cur = ONNX_INPUT;
  let k = 0;
  let channels = 1, w = EMBED_W, h = EMBED_H;
  let flat = 0;
  const next = (tag: string) => `${tag}_${k++}`;
  for (const layer of layers) {
    switch (layer.op) {
      case "InstanceNorm": {
        const mean = next("mean"), d = next("centred"), sq = next("sq"), v = next("var");
        const eps = next("eps2"), ve = next("var_eps"), sd = next("std"), out = next("norm");
        inits.push(tensor(eps, [], new Float32Array([layer.eps * layer.eps])));
        nodes.push(
          node("ReduceMean", [cur], [mean], mean, [{ name: "axes", ints: [2, 3] }, {
            name: "keepdims",
            i: 1,
          }]),
        );
        nodes.push(node("Sub", [cur, mean], [d], d));
        nodes.push(node("Mul", [d, d], [sq], sq));
        nodes.push(
          node("ReduceMean", [sq], [v], v, [{ name: "axes", ints: [2, 3] }, {
            name: "keepdims",
            i: 1,
          }]),
        );
        nodes.push(node("Add", [v, eps], [ve], ve));
        nodes.push(node("Sqrt", [ve], [sd], sd));
        nodes.push(node("Div", [d, sd], [out], out));
        cur = out;
        break;
      }
      case "Conv": {
        const wname = next("conv_w"), out = next("conv");
        const r = (layer.kernel - 1) / 2;
        inits.push(
          tensor(
            wname,
            [layer.outChannels, layer.inChannels, layer.kernel, layer.kernel],
            layer.weights,
          ),
        );
        nodes.push(
          node("Conv", [cur, wname], [out], out, [
            { name: "kernel_shape", ints: [layer.kernel, layer.kernel] },
            { name: "pads", ints: [r, r, r, r] },
            { name: "strides", ints: [1, 1] },
          ]),
        );
        channels = layer.outChannels;
        cur = out;
        break;
      }
      case "Relu": {
        const out = next("relu");
        nodes.push(node("Relu", [cur], [out], out));
        cur = out;
        break;
      }
      case "AveragePool": {
        const out = next("pool");
        nodes.push(
          node("AveragePool", [cur], [out], out, [
            { name: "kernel_shape", ints: [layer.kernel, layer.kernel] },
            { name: "strides", ints: [layer.stride, layer.stride] },
          ]),
        );
        w = Math.floor((w - layer.kernel) / layer.stride) + 1;
        h = Math.floor((h - layer.kernel) / layer.stride) + 1;
        cur = out;
        break;
      }
      case "Flatten": {
        const out = next("flat");
        nodes.push(node("Flatten", [cur], [out], out, [{ name: "axis", i: 1 }]));
        flat = channels * w * h;
        cur = out;
        break;
      }
      case "L2Normalize": {
        nodes.push(
          node("LpNormalization", [cur], [ONNX_OUTPUT], "l2", [{ name: "axis", i: 1 }, {
            name: "p",
            i: 2,
          }]),
        );
        cur = ONNX_OUTPUT;
        break;
      }
      case "QuantizeMaxAbs":
        break; // done by the caller (int8 output)
    }
  }
  if (cur !== ONNX_OUTPUT || flat === 0) {
    throw new Error("buildEmbedOnnx: the layer list must end with Flatten and L2Normalize");
  }
  const graph = new Pb();
  for (const n of nodes) graph.msg(1, n);
  graph.str(2, "vidkompy_embed");
  for (const t of inits) graph.msg(5, t);
  graph.str(10, "vidkompy frame embedding (EMBED_LAYERS of src/embed.ts), float output");
  graph.msg(11, valueInfo(ONNX_INPUT, ["N", 1, EMBED_H, EMBED_W]));
  graph.msg(12, valueInfo(ONNX_OUTPUT, ["N", flat]));
  return new Pb()
    .int(1, 8) // ir_version
    .str(2, "vidkompy")
    .str(3, "1")
    .msg(7, graph)
    .msg(8, new Pb().str(1, "").int(2, 17))
    .finish();
}

/** Base64 of bytes (for the embedded-model module). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of base64 text. */
export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Renders `src/onnx_model_embedded.ts` for `bytes` (deterministic, `deno fmt`-stable). */
export function renderEmbeddedModel(bytes: Uint8Array): string {
  const b64 = toBase64(bytes);
  const lines = [
    "// Generated by scripts/make_onnx.ts from EMBED_LAYERS (src/embed.ts). Do not edit: run",
    "// `deno run --allow-read --allow-write scripts/make_onnx.ts` after changing the network.",
    "",
    "/**",
    " * `models/embed.onnx` as base64, so that the default ONNX model ships inside the module graph",
    " * (and inside a `deno compile` binary).",
    " * @module",
    " */",
    "",
    "/** Base64 of the ONNX ModelProto of the embedding network. */",
    "export const EMBED_ONNX_BASE64 =",
  ];
  const chunk = 90;
  for (let i = 0; i < b64.length; i += chunk) {
    const last = i + chunk >= b64.length;
    lines.push(`  "${b64.slice(i, i + chunk)}"${last ? ";" : " +"}`);
  }
  return lines.join("\n") + "\n";
}
