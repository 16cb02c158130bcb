/**
 * Neighbour search bench: HNSW (hnswlib-node, src/hnsw_index.ts) against exact search
 * (src/knn.ts ExactIndex) on frame embeddings of real footage (../shared/footage).
 *
 * - "real": every frame of the footage (bg) against a degraded copy (fg: ffmpeg crop, grade,
 *   noise); all bg frames indexed, so adjacent indexed frames are near-duplicates (tree.avi also
 *   has runs of identical frames).
 * - "long": a long sequence (default 100 000 frames) made of segments of the real footage, each
 *   with its own slowly panning crop window and grade (so it is made of real frames and their
 *   motion, not of repeats), queried with a degraded copy. Rows: insertion order and graph
 *   parameters at stride 1 (worst case for HNSW), then the coarse problem at the strides the
 *   coarse pass uses.
 * - crossover: build + query time of HNSW vs exact search as the coarse problem grows (exact
 *   times are measured on a subset of the queries and scaled: exact search is linear in them).
 * - coarse band: `coarseBand` with exact search (sparse sampling) and with HNSW (dense sampling)
 *   on a 60-min fg against a 70-min bg (synthetic latent embeddings with cuts).
 *
 * Run alone: `deno run -A bench/neighbour_bench.ts [--frames N]` (or `deno task bench neighbours`).
 * @module
 */
import { parseArgs } from "node:util";
import { coarseBand, coarseSampling } from "../src/band.ts";
import { EMBED_DIM, EMBED_H, EMBED_W, embedFrame } from "../src/embed.ts";
import { EmbeddingStore } from "../src/embedding_store.ts";
import { HNSW_DEFAULTS, HnswIndex, type HnswParams, loadHnswlib } from "../src/hnsw_index.ts";
import { ExactIndex } from "../src/knn.ts";
import { CLEAN, deriveClip, latentEmbeddings, mulberry32 } from "../src/synth_video_fixture.ts";
import { table } from "./util.ts";

const K = 8;
const DIM = EMBED_DIM;

/** A decoded clip: gray frames at a working resolution. */
interface Source {
  name: string;
  w: number;
  h: number;
  frames: Uint8Array[];
}

/** Decodes a video to gray frames `width` pixels wide. */
async function decodeGray(file: string, width: number): Promise<Source> {
  const probe = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-show_entries",
      "stream=width,height",
      "-of",
      "csv=p=0",
      file,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [w0, h0] = new TextDecoder().decode(probe.stdout).trim().split(",").map(Number);
  const w = width, h = 2 * Math.round((h0 / w0) * width / 2);
  const out = await new Deno.Command("ffmpeg", {
    args: [
      "-v",
      "error",
      "-nostdin",
      "-i",
      file,
      "-vf",
      `scale=${w}:${h}:flags=area,format=gray`,
      "-f",
      "rawvideo",
      "pipe:1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const px = w * h;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + px <= out.stdout.length; o += px) frames.push(out.stdout.slice(o, o + px));
  return { name: file.split("/").pop()!, w, h, frames };
}

/** Embeds every frame of a video through ffmpeg (`vf`, then 64×64 area scaling, gray). */
async function embedDecoded(file: string, vf: string): Promise<Int8Array> {
  const out = await new Deno.Command("ffmpeg", {
    args: [
      ...["-v", "error", "-nostdin", "-i", file, "-vf"],
      `${vf},scale=${EMBED_W}:${EMBED_H}:flags=area,format=gray`,
      ...["-f", "rawvideo", "pipe:1"],
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const px = EMBED_W * EMBED_H, n = Math.floor(out.stdout.length / px);
  const e = new Int8Array(n * DIM);
  for (let i = 0; i < n; i++) embedFrame(out.stdout.slice(i * px, (i + 1) * px), e, i * DIM);
  return e;
}

/** Concatenates int8 arrays. */
function concat(parts: Int8Array[]): Int8Array {
  const o = new Int8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    o.set(p, at);
    at += p.length;
  }
  return o;
}

/** What one frame of a derived sequence shows. */
interface FrameSpec {
  src: number;
  frame: number;
  x: number;
  y: number;
  cw: number;
  ch: number;
  gain: number;
  bias: number;
}

/** Bilinear crop + grade + noise into a 64×64 thumbnail. */
function renderThumb(
  s: Source,
  f: FrameSpec,
  noise: number,
  shift: number,
  seed: number,
  out: Uint8Array,
): void {
  const img = s.frames[f.frame];
  const r = mulberry32(seed);
  const sx = f.cw / EMBED_W, sy = f.ch / EMBED_H;
  for (let oy = 0; oy < EMBED_H; oy++) {
    const y = Math.min(s.h - 1.001, Math.max(0, f.y + shift + (oy + 0.5) * sy - 0.5));
    const y0 = Math.floor(y), fy = y - y0;
    for (let ox = 0; ox < EMBED_W; ox++) {
      const x = Math.min(s.w - 1.001, Math.max(0, f.x + shift + (ox + 0.5) * sx - 0.5));
      const x0 = Math.floor(x), fx = x - x0;
      const p = y0 * s.w + x0;
      const v = (img[p] * (1 - fx) + img[p + 1] * fx) * (1 - fy) +
        (img[p + s.w] * (1 - fx) + img[p + s.w + 1] * fx) * fy;
      const g = v * f.gain + f.bias + (noise ? (r() - 0.5) * 2 * noise : 0);
      out[oy * EMBED_W + ox] = g < 0 ? 0 : g > 255 ? 255 : g;
    }
  }
}

/**
 * A long sequence of segments of the sources: each segment plays one source (ping-pong at its
 * ends) through a crop window (50–100 % of the frame) that pans slowly, with its own grade.
 */
function longSequence(sources: Source[], frames: number, seed: number): FrameSpec[] {
  const r = mulberry32(seed);
  const seq: FrameSpec[] = [];
  while (seq.length < frames) {
    const si = Math.floor(r() * sources.length);
    const s = sources[si];
    const len = 48 + Math.floor(r() * 600);
    const z0 = 0.5 + 0.5 * r(), z1 = Math.min(1, Math.max(0.5, z0 + (r() - 0.5) * 0.2));
    const c = [r(), r(), r(), r()];
    const gain = 0.8 + 0.4 * r(), bias = (r() - 0.5) * 40;
    let f = Math.floor(r() * s.frames.length), dir = 1;
    for (let j = 0; j < len && seq.length < frames; j++) {
      const t = j / len;
      const z = z0 + (z1 - z0) * t;
      const cw = s.w * z, ch = s.h * z;
      const x = (s.w - cw) * (c[0] + (c[1] - c[0]) * t);
      const y = (s.h - ch) * (c[2] + (c[3] - c[2]) * t);
      seq.push({ src: si, frame: f, x, y, cw, ch, gain, bias });
      if (f + dir < 0 || f + dir >= s.frames.length) dir = -dir;
      f += dir;
    }
  }
  return seq;
}

/** Embeds the listed frames of a sequence (bg: clean; fg: degraded copy). */
function embedFrames(sources: Source[], seq: FrameSpec[], which: number[], fg: boolean): Int8Array {
  const out = new Int8Array(which.length * DIM);
  const thumb = new Uint8Array(EMBED_W * EMBED_H);
  for (let i = 0; i < which.length; i++) {
    const f = seq[which[i]];
    const g = fg ? { ...f, gain: f.gain * 1.06, bias: f.bias + 5 } : f;
    renderThumb(sources[f.src], g, fg ? 4 : 0, fg ? 0.5 : 0, which[i] * 7 + (fg ? 1 : 0), thumb);
    embedFrame(thumb, out, i * DIM);
  }
  return out;
}

const range = (n: number, step = 1, from = 0) =>
  Array.from({ length: Math.ceil((n - from) / step) }, (_, i) => from + i * step);

interface ExactRun {
  ids: Int32Array;
  scores: Float32Array;
  nq: number;
  /** ms per query (scan of the whole index). */
  msPerQuery: number;
}

/** Exact top-K of the first `limit` queries (timed). */
function exactRun(items: Int8Array, queries: Int8Array, limit: number): ExactRun {
  const n = items.length / DIM;
  const nq = Math.min(limit, queries.length / DIM);
  const ex = new ExactIndex(DIM, n);
  for (let i = 0; i < n; i++) ex.add(items, i * DIM);
  const t = performance.now();
  const r = ex.searchMany(queries.subarray(0, nq * DIM), K);
  return { ids: r.indices, scores: r.scores, nq, msPerQuery: (performance.now() - t) / nq };
}

interface HnswRun {
  buildMs: number;
  msPerQuery: number;
  /** recall@K against exact search (set overlap). */
  recall: number;
  /** Share of the K results scoring at least the exact K-th cosine − 1e-4 (ties count). */
  tieRecall: number;
  /** Fraction of queries whose best HNSW score equals the exact best (±1e-3). */
  best: number;
}

/** Builds HNSW over `items` (shuffled or temporal insertion) and scores it against `exact`. */
function hnswRun(
  items: Int8Array,
  queries: Int8Array,
  exact: ExactRun | undefined,
  params: Partial<HnswParams>,
  temporalOrder = false,
): HnswRun {
  const lib = loadHnswlib();
  const n = items.length / DIM, nq = queries.length / DIM;
  let t = performance.now();
  let search: (q: number) => { indices: ArrayLike<number>; scores: ArrayLike<number> };
  if (temporalOrder) {
    // raw addon, points inserted in frame order (what HnswIndex avoids)
    const p = { ...HNSW_DEFAULTS, ...params };
    const h = new lib.addon!.HierarchicalNSW("cosine", DIM);
    h.initIndex(n, p.m, p.efConstruction, 100);
    for (let i = 0; i < n; i++) h.addPoint(Array.from(items.subarray(i * DIM, (i + 1) * DIM)), i);
    h.setEf(Math.max(K, p.efSearch));
    search = (q) => {
      const r = h.searchKnn(Array.from(queries.subarray(q * DIM, (q + 1) * DIM)), K);
      return { indices: r.neighbors, scores: r.distances.map((d) => 1 - d) };
    };
  } else {
    const h = new HnswIndex(lib.addon!, DIM, n, params);
    for (let i = 0; i < n; i++) h.add(items, i * DIM);
    h.search(queries, 1); // builds the graph
    search = (q) => h.search(queries, K, q * DIM);
  }
  const buildMs = performance.now() - t;
  t = performance.now();
  let hit = 0, tie = 0, best = 0, scored = 0;
  for (let q = 0; q < nq; q++) {
    const r = search(q);
    if (!exact || q >= exact.nq) continue;
    scored++;
    const want = new Set(exact.ids.subarray(q * K, (q + 1) * K));
    const kth = exact.scores[(q + 1) * K - 1];
    for (let i = 0; i < r.indices.length; i++) {
      if (want.has(r.indices[i])) hit++;
      if (r.scores[i] >= kth - 1e-4) tie++;
    }
    if (r.scores[0] >= exact.scores[q * K] - 1e-3) best++;
  }
  return {
    buildMs,
    msPerQuery: (performance.now() - t) / nq,
    recall: scored ? hit / (scored * K) : NaN,
    tieRecall: scored ? tie / (scored * K) : NaN,
    best: scored ? best / scored : NaN,
  };
}

const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);
const s1 = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);

/** Options of {@link neighbourBench}. */
export interface NeighbourBenchOptions {
  /** Frames of the long sequence (default 100 000). */
  frames?: number;
  /** Exact-search queries timed per row (default 256). */
  exactQueries?: number;
}

/** Runs the bench; returns its markdown section body. */
export async function neighbourBench(opts: NeighbourBenchOptions = {}): Promise<string> {
  const lib = loadHnswlib();
  if (!lib.addon) return `hnswlib-node unavailable: ${lib.reason}. Run \`npm install\` first.`;
  const frames = opts.frames ?? 100_000;
  const exactQ = opts.exactQueries ?? 256;
  const shared = new URL("../../shared/footage/", import.meta.url).pathname;
  const files = [...Deno.readDirSync(shared)].filter((e) => /\.(mp4|avi)$/.test(e.name))
    .map((e) => shared + e.name).sort();
  if (!files.length) return "no footage in ../shared/footage";
  const sources = await Promise.all(files.map((f) => decodeGray(f, 160)));
  const out: string[] = [];
  const log = (s: string) => console.error(`  neighbours: ${s}`);

  // --- real footage, every frame --------------------------------------------------------------
  {
    const degrade =
      "crop=iw*0.95:ih*0.95:iw*0.02:ih*0.03,eq=brightness=0.05:contrast=1.1,noise=alls=8";
    const bg = concat(await Promise.all(files.map((f) => embedDecoded(f, "null"))));
    const fg = concat(await Promise.all(files.map((f) => embedDecoded(f, degrade))));
    const n = bg.length / DIM;
    const ex = exactRun(bg, fg, n);
    const rows: (string | number)[][] = [];
    const configs: [string, Partial<HnswParams>, boolean][] = [
      ["frame order (M 16, efC 100, ef 64)", {}, true],
      ["shuffled, M 8, efC 64, ef 32", { m: 8, efConstruction: 64, efSearch: 32 }, false],
      ["shuffled, M 16, efC 100, ef 64 (default)", {}, false],
    ];
    for (const [name, p, temporal] of configs) {
      const h = hnswRun(bg, fg, ex, p, temporal);
      rows.push([name, f3(h.recall), f3(h.tieRecall), f3(h.best)]);
    }
    out.push(
      `Real footage (${sources.map((s) => `${s.name}: ${s.frames.length}`).join(", ")} frames), ` +
        `every frame indexed (${n}), queried with a degraded copy of each (ffmpeg: 95 % crop, ` +
        `grade, noise):\n\n` +
        table(["HNSW", `recall@${K}`, `recall@${K} (ties)`, "best match found"], rows),
    );
    log("real footage done");
  }

  // --- long sequence: parameters at stride 1, then coarse-pass strides -------------------------
  const seq = longSequence(sources, frames, 42);
  {
    const n1 = Math.min(frames, 16_384);
    const bg = embedFrames(sources, seq, range(n1), false);
    const fg = embedFrames(sources, seq, range(n1, 8, 3), true);
    const ex = exactRun(bg, fg, exactQ);
    const rows: (string | number)[][] = [];
    const configs: [string, Partial<HnswParams>, boolean][] = [
      ["frame order", {}, true],
      ["frame order, ef 256", { efSearch: 256 }, true],
      ["shuffled, M 8, efC 64, ef 32", { m: 8, efConstruction: 64, efSearch: 32 }, false],
      ["shuffled, M 16, efC 100, ef 64 (default)", {}, false],
      ["shuffled, M 32, efC 200, ef 128", { m: 32, efConstruction: 200, efSearch: 128 }, false],
    ];
    for (const [name, p, temporal] of configs) {
      const h = hnswRun(bg, fg, ex, p, temporal);
      rows.push([
        name,
        f3(h.recall),
        f3(h.tieRecall),
        f3(h.best),
        f2((h.buildMs * 1000) / n1),
        f2(h.msPerQuery * 1000),
      ]);
      log(`params ${name}`);
    }
    out.push(
      `Long sequence (${frames} frames of the footage in panning/graded segments), first ${n1} ` +
        `frames indexed at stride 1 (adjacent frames near-duplicates), ${
          fg.length / DIM
        } degraded ` +
        `queries (recall on the first ${ex.nq}); exact search: ${
          f2(ex.msPerQuery * 1000)
        } µs/query:\n\n` +
        table(
          [
            "HNSW",
            `recall@${K}`,
            `recall@${K} (ties)`,
            "best match found",
            "build µs/vector",
            "µs/query",
          ],
          rows,
        ),
    );
  }

  // --- crossover: coarse problems of growing size ------------------------------------------------
  {
    const rows: (string | number)[][] = [];
    let crossover = NaN, prev: { pairs: number; ratio: number } | undefined;
    const sizes = [512, 1024, 2048, 4096, 8192, 16_384, 32_768].map((n) => [n / 4, n]);
    sizes.push([6750, 7875]); // the dense plan of a 60-min fg against a 70-min bg
    for (const [nQ, nB] of sizes) {
      if (nB > frames || nQ > frames) continue;
      const sB = Math.floor(frames / nB), sF = Math.floor(frames / nQ);
      const bg = embedFrames(sources, seq, range(nB * sB, sB), false);
      const fg = embedFrames(sources, seq, range(nQ * sF, sF, 1), true);
      const ex = exactRun(bg, fg, Math.min(nQ, exactQ));
      const h = hnswRun(bg, fg, ex, {});
      const exactMs = ex.msPerQuery * nQ;
      const hnswMs = h.buildMs + h.msPerQuery * nQ;
      const pairs = nQ * nB;
      const ratio = exactMs / hnswMs;
      if (Number.isNaN(crossover) && ratio > 1 && nQ * 4 === nB) {
        // log-linear interpolation of exact/hnsw = 1 between the bracketing sizes
        crossover = prev
          ? Math.exp(
            Math.log(prev.pairs) +
              (Math.log(pairs / prev.pairs) * -Math.log(prev.ratio)) /
                (Math.log(ratio) - Math.log(prev.ratio)),
          )
          : pairs;
      }
      if (nQ * 4 === nB) prev = { pairs, ratio };
      rows.push([
        `${nQ} × ${nB}`,
        (pairs / 1e6).toFixed(2),
        s1(exactMs) + (ex.nq < nQ ? "*" : ""),
        s1(h.buildMs),
        s1(h.msPerQuery * nQ),
        f2(ratio),
        f3(h.recall),
        f3(h.tieRecall),
        f3(h.best),
      ]);
      log(`crossover ${nQ} × ${nB}`);
    }
    out.push(
      `Coarse problem size (fg samples × bg samples of the long sequence, both spread over it; ` +
        `the last row is the sample count of a 60-min fg against a 70-min bg at stride 16), ` +
        `default HNSW parameters; * = exact time scaled from ${exactQ} queries:\n\n` +
        table([
          "queries × indexed",
          "M pairs",
          "exact s",
          "HNSW build s",
          "HNSW query s",
          "exact / HNSW",
          `recall@${K}`,
          `recall@${K} (ties)`,
          "best match found",
        ], rows) +
        `\n\nCrossover (HNSW build + queries faster than exact search): ≈ ${
          Number.isNaN(crossover) ? "not reached" : `${(crossover / 1e6).toFixed(2)} M pairs`
        }.`,
    );
  }

  // --- coarse band on a 60-min fg vs a 70-min bg ---------------------------------------------------
  {
    const fps = 30, N = 60 * 60 * fps, M = 70 * 60 * fps;
    const f = deriveClip(
      { fps, start: 300, frames: N, degradation: CLEAN, jumps: [{ at: 40_000, seconds: 20 }] },
      fps,
      M + 10 * fps,
    );
    const b = deriveClip({ fps, start: 0, frames: M, degradation: CLEAN, drops: [50_000] }, fps, M);
    const cuts = Array.from({ length: 700 }, (_, i) => 37 + i * 180 + (i * 97) % 120);
    const [fe, be] = latentEmbeddings({ dim: DIM, rho: 0.995, seed: 9, cuts }, [
      { master: f.master, noise: 0.15, seed: 1 },
      { master: b.master, noise: 0.15, seed: 2 },
    ]);
    const bgOf = new Int32Array(M + 10 * fps).fill(-1);
    for (let k = 0; k < M; k++) bgOf[b.master[k]] = k;
    const fgS = EmbeddingStore.fromArray(fe, DIM), bgS = EmbeddingStore.fromArray(be, DIM);
    const rows: (string | number)[][] = [];
    for (const kind of ["exact", "hnsw"] as const) {
      const t = performance.now();
      const band = coarseBand(fgS, f.times, bgS, b.times, {
        neighbourIndex: kind === "exact"
          ? () => new ExactIndex(DIM)
          : () => new HnswIndex(lib.addon!, DIM, 1 << 15),
      });
      const ms = performance.now() - t;
      let w = 0, miss = 0;
      for (let i = 0; i < N; i++) {
        w += band.hi[i] - band.lo[i] + 1;
        const k = bgOf[f.master[i]] ?? -1; // bg frame showing the same master frame
        if (k >= 0 && (k < band.lo[i] || k > band.hi[i])) miss++;
      }
      const plan = coarseSampling(N, M, kind === "hnsw");
      rows.push([
        kind,
        `${plan.fgStride} / ${plan.bgStride}`,
        `${Math.ceil(N / band.fgStride)} × ${Math.ceil(M / band.bgStride)}`,
        s1(ms),
        (w / N).toFixed(1),
        (w / 1e6).toFixed(1),
        miss,
        f3(band.rate),
        band.breaks.length,
      ]);
      log(`coarse band ${kind}`);
    }
    out.push(
      `Coarse band, 60-min fg (${N} frames, an edit removing 20 s) against a 70-min bg (${M} ` +
        `frames, one dropped frame), synthetic latent embeddings with ~700 cuts:\n\n` +
        table([
          "search",
          "strides fg / bg",
          "samples",
          "coarse s",
          "band width (frames)",
          "fine-pass M cells",
          "true frame outside band",
          "rate",
          "breaks",
        ], rows) +
        "\n\nThese latent embeddings are high-dimensional noise around a random walk: HNSW " +
        "operations cost more on them than on real-footage embeddings (compare the last row of " +
        "the table above: same sample counts).",
    );
  }
  return out.join("\n\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { frames: { type: "string", default: "100000" } },
  });
  console.log(await neighbourBench({ frames: Number(values.frames) }));
}
