/**
 * Approximate neighbour search through the optional native addon hnswlib-node (HNSW graphs, C++),
 * and the chooser between it and exact search ({@link neighbourIndexFor}).
 *
 * hnswlib-node is built by `npm install` in the checkout (node-gyp; `deno install` does not run
 * its build script). Deno loads the built `addon.node` through Node-API (`createRequire`), which
 * needs the `ffi` permission (`--allow-ffi`, here scoped to `node_modules/hnswlib-node`). The
 * addon is loaded lazily, only when the coarse problem is big enough for it to pay off, and
 * loading never throws: without it (compiled binary, bundle, no `npm install`, no permission)
 * the chooser falls back to exact search and returns one notice line, once per process.
 *
 * Why the addon file is required directly instead of the package's `lib/index.js`: the package's
 * loader (`bindings`) finds its root by parsing stack traces and reads environment variables,
 * which fails under Deno; the `.node` file itself loads fine.
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { coarseSampling } from "./band.ts";
import { EMBED_DIM } from "./embed.ts";
import { ExactIndex, type NeighbourIndex, type Neighbours } from "./knn.ts";

/** Search result of hnswlib-node: cosine distances (1 − cosine) and labels, nearest first. */
interface HnswSearchResult {
  distances: number[];
  neighbors: number[];
}

/** The subset of hnswlib-node's `HierarchicalNSW` used here. */
interface HnswNative {
  initIndex(
    maxElements: number,
    m?: number,
    efConstruction?: number,
    randomSeed?: number,
  ): void;
  resizeIndex(newMaxElements: number): void;
  addPoint(point: number[], label: number): void;
  searchKnn(query: number[], k: number): HnswSearchResult;
  setEf(ef: number): void;
}

/** The exports of hnswlib-node's `addon.node` used here. */
export interface HnswAddon {
  /** `new HierarchicalNSW("cosine", dim)`. */
  HierarchicalNSW: new (space: "cosine" | "l2" | "ip", dim: number) => HnswNative;
}

/** HNSW graph parameters. */
export interface HnswParams {
  /** Links per node (hnswlib `M`; default {@link HNSW_DEFAULTS}). */
  m: number;
  /** Candidate list size while building (hnswlib `ef_construction`). */
  efConstruction: number;
  /** Candidate list size while searching (hnswlib `ef`; at least k is used). */
  efSearch: number;
}

/**
 * Default graph parameters, chosen with `bench/neighbour_bench.ts` on embeddings of real footage,
 * where adjacent frames are near-duplicates and static shots give runs of identical vectors:
 * with shuffled insertion (see {@link HnswIndex}) they find the best match of every query and
 * ≥ 99.5 % of the exact top-8 (ties counted), while M 8 / efConstruction 64 / ef 32 misses the
 * best match of ~3 % of the queries on runs of identical frames.
 */
export const HNSW_DEFAULTS: Readonly<HnswParams> = { m: 16, efConstruction: 100, efSearch: 64 };

/**
 * Coarse problems (fg samples × bg samples) below this size use exact search. Measured with
 * `bench/neighbour_bench.ts` (build + queries vs blocked exact search, 512-d int8, 2 shared
 * cores): HNSW wins from 0.1–0.4 M pairs on real-footage embeddings (run to run) and is
 * 1.4–2.2× faster at 1 M; HNSW operations cost up to ~3× more on high-dimensional synthetic
 * embeddings, so the threshold is set conservatively at 1 M pairs (about exact search's own cap
 * of 512 × 2048 samples).
 */
export const HNSW_CROSSOVER = 1_000_000;

/** Where the built addon lies inside a checkout that ran `npm install`. */
const ADDON_REL = join("node_modules", "hnswlib-node", "build", "Release", "addon.node");

/** Candidate addon paths: `node_modules` next to this module's folder and each of its parents. */
function addonCandidates(): string[] {
  const url = new URL(import.meta.url);
  if (url.protocol !== "file:") return [];
  const out: string[] = [];
  let dir = dirname(fileURLToPath(url));
  for (let i = 0; i < 32; i++) {
    out.push(join(dir, ADDON_REL));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

/** Permission state without ever prompting. */
function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/** Outcome of {@link loadHnswlib}. */
export interface HnswLoad {
  /** The addon's exports, when loaded. */
  addon?: HnswAddon;
  /** Path of the addon file (when found). */
  path?: string;
  /** Why it is unavailable (one line), when `addon` is absent. */
  reason?: string;
}

let loaded: HnswLoad | undefined;

/**
 * Loads hnswlib-node's native addon (once per process; later calls return the cached outcome).
 * Never throws and never prompts for permissions. `path` overrides the search (tests).
 */
export function loadHnswlib(path?: string): HnswLoad {
  if (loaded && path === undefined) return loaded;
  const result = tryLoad(path);
  if (path === undefined) loaded = result;
  return result;
}

function tryLoad(path?: string): HnswLoad {
  let file: string | undefined;
  for (const p of path !== undefined ? [path] : addonCandidates()) {
    if (!granted({ name: "read", path: p })) {
      return { reason: "hnswlib-node: no read permission for node_modules" };
    }
    try {
      if (Deno.statSync(p).isFile) {
        file = p;
        break;
      }
    } catch {
      // not there: try the parent folder
    }
  }
  if (!file) {
    return {
      reason: "hnswlib-node is not installed; `npm install` in the vidkompy checkout builds it",
    };
  }
  if (!granted({ name: "ffi", path: file })) {
    return { path: file, reason: "hnswlib-node is installed but needs --allow-ffi" };
  }
  try {
    const require = createRequire(import.meta.url);
    const addon = require(file) as Partial<HnswAddon>;
    if (typeof addon.HierarchicalNSW !== "function") {
      return { path: file, reason: "hnswlib-node: unexpected addon exports" };
    }
    // smoke test: a broken build (wrong ABI, missing symbols) fails here, not mid-alignment
    const probe = new addon.HierarchicalNSW("cosine", 2);
    probe.initIndex(2, 4, 8, 1);
    probe.addPoint([1, 0], 0);
    probe.addPoint([0, 1], 1);
    if (probe.searchKnn([1, 0.1], 1).neighbors[0] !== 0) {
      return { path: file, reason: "hnswlib-node: self-test failed" };
    }
    return { addon: addon as HnswAddon, path: file };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    return { path: file, reason: `hnswlib-node failed to load: ${msg}` };
  }
}

/**
 * {@link NeighbourIndex} over hnswlib-node's `HierarchicalNSW` in cosine space. The int8 vectors
 * are converted to numbers (the addon takes `number[]`) and normalised by the addon; scores are
 * `1 − cosine distance`, i.e. the same cosine as {@link ExactIndex} up to float rounding.
 *
 * Added vectors are buffered and inserted into the graph at the next search in a seeded random
 * order. Inserting video frames in temporal order (each one a near-duplicate of the previous)
 * builds a path-like graph on which greedy search gets stuck: on embeddings of a slowly
 * changing sequence, 3–6 % of the queries then miss their best match (still 1.6 % with ef 256),
 * while shuffled insertion finds all of them (bench/neighbour_bench.ts).
 */
export class HnswIndex implements NeighbourIndex {
  /** Always `"hnsw"`. */
  readonly kind = "hnsw";
  /** Graph search: cost grows sub-linearly with the number of vectors. */
  readonly sublinear = true;
  /** Components per vector. */
  readonly dim: number;
  /** Graph parameters. */
  readonly params: Readonly<HnswParams>;
  private readonly native: HnswNative;
  private capacity: number;
  private n = 0;
  private inserted = 0;
  private pending: Int8Array;
  private ef = 0;
  private seed: number;
  private readonly tmp: number[];

  /**
   * Creates an empty index (room for `capacity` vectors, grown as needed). Use
   * {@link loadHnswlib} or {@link neighbourIndexFor} to get `addon`.
   */
  constructor(
    addon: HnswAddon,
    dim = EMBED_DIM,
    capacity = 1024,
    params: Partial<HnswParams> = {},
    seed = 100,
  ) {
    this.dim = dim;
    this.params = { ...HNSW_DEFAULTS, ...params };
    this.capacity = Math.max(16, capacity);
    this.seed = seed >>> 0 || 1;
    this.native = new addon.HierarchicalNSW("cosine", dim);
    this.native.initIndex(this.capacity, this.params.m, this.params.efConstruction, seed);
    this.pending = new Int8Array(Math.min(this.capacity, 4096) * dim);
    this.tmp = new Array<number>(dim).fill(0);
  }

  /** Number of vectors added. */
  get size(): number {
    return this.n;
  }

  private load(v: Int8Array, offset: number): number[] {
    if (offset + this.dim > v.length) throw new RangeError("vector shorter than dim");
    const t = this.tmp;
    for (let d = 0; d < this.dim; d++) t[d] = v[offset + d];
    return t;
  }

  /** Adds one vector (buffered until the next search); returns its id. */
  add(vec: Int8Array, offset = 0): number {
    if (offset + this.dim > vec.length) throw new RangeError("vector shorter than dim");
    const o = (this.n - this.inserted) * this.dim;
    if (o + this.dim > this.pending.length) {
      const next = new Int8Array(Math.max(2 * this.pending.length, o + this.dim));
      next.set(this.pending.subarray(0, o));
      this.pending = next;
    }
    this.pending.set(vec.subarray(offset, offset + this.dim), o);
    return this.n++;
  }

  /** Inserts the buffered vectors into the graph in a seeded random order. */
  private flush(): void {
    const count = this.n - this.inserted;
    if (count === 0) return;
    if (this.n > this.capacity) {
      while (this.capacity < this.n) this.capacity *= 2;
      this.native.resizeIndex(this.capacity);
    }
    const order = new Int32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    let s = this.seed;
    for (let i = count - 1; i > 0; i--) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      const j = s % (i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    this.seed = s || 1;
    for (let i = 0; i < count; i++) {
      const p = order[i];
      this.native.addPoint(this.load(this.pending, p * this.dim), this.inserted + p);
    }
    this.inserted = this.n;
    this.pending = new Int8Array(Math.min(this.capacity, 4096) * this.dim);
  }

  /** The (up to) `k` most similar vectors to one query, best first (approximate). */
  search(q: Int8Array, k: number, qOffset = 0): Neighbours {
    if (qOffset + this.dim > q.length) throw new RangeError("vector shorter than dim");
    this.flush();
    const kk = Math.min(Math.max(0, Math.floor(k)), this.n);
    if (kk === 0) return { indices: new Int32Array(0), scores: new Float32Array(0) };
    const ef = Math.max(kk, this.params.efSearch);
    if (ef !== this.ef) {
      this.native.setEf(ef);
      this.ef = ef;
    }
    const r = this.native.searchKnn(this.load(q, qOffset), kk);
    const m = r.neighbors.length;
    const indices = new Int32Array(m);
    const scores = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      indices[i] = r.neighbors[i];
      scores[i] = 1 - r.distances[i];
    }
    return { indices, scores };
  }
}

/** What {@link neighbourIndexFor} picked. */
export interface NeighbourChoice {
  /** `"hnsw"` when the addon is used, else `"exact"`. */
  kind: "exact" | "hnsw";
  /** Index factory for `TemporalOptions.neighbourIndex` / `BandOptions.neighbourIndex`. */
  factory: () => NeighbourIndex;
  /**
   * One line to show the user (once per process): set only the first time the problem was big
   * enough for HNSW but the addon is unavailable.
   */
  notice?: string;
  /** Why this kind was chosen (for --verbose / reports). */
  reason: string;
}

/** Options of {@link neighbourIndexFor}. */
export interface NeighbourChoiceOptions {
  /** `"auto"` (default): by size; `"exact"`: never load the addon; `"hnsw"`: whenever loadable. */
  mode?: "auto" | "exact" | "hnsw";
  /** Problem size from which HNSW is used (default {@link HNSW_CROSSOVER}). */
  crossover?: number;
  /** Vector dimension (default {@link EMBED_DIM}). */
  dim?: number;
  /** Graph parameters (default {@link HNSW_DEFAULTS}). */
  params?: Partial<HnswParams>;
}

let noticeGiven = false;

/**
 * Chooses the neighbour search of the coarse temporal pass for clips of `fgFrames` and `bgFrames`
 * frames. The coarse pass samples them according to the index ({@link coarseSampling}): HNSW is
 * worth it when its dense sampling is both above the crossover (else exact search computes it
 * faster) and at least twice the pairs of exact search's capped sampling (else exact search is
 * about as dense and costs under a second); otherwise exact search, and the addon is not even
 * loaded. When HNSW is worth it but hnswlib-node does not load: exact search plus a one-line
 * `notice`, returned by the first such call of the process only.
 */
export function neighbourIndexFor(
  fgFrames: number,
  bgFrames: number,
  opts: NeighbourChoiceOptions = {},
): Promise<NeighbourChoice> {
  const dim = opts.dim ?? EMBED_DIM;
  const exact = (reason: string, notice?: string): NeighbourChoice => ({
    kind: "exact",
    factory: () => new ExactIndex(dim),
    reason,
    ...(notice ? { notice } : {}),
  });
  const mode = opts.mode ?? "auto";
  if (mode === "exact") return Promise.resolve(exact("exact search requested"));
  const pairs = (sublinear: boolean) => {
    const p = coarseSampling(fgFrames, bgFrames, sublinear);
    return [Math.ceil(fgFrames / p.fgStride), Math.ceil(bgFrames / p.bgStride)];
  };
  const [nF, nB] = pairs(true);
  const [eF, eB] = pairs(false);
  const size = `${nF} × ${nB} samples`;
  if (mode === "auto" && (nF * nB < (opts.crossover ?? HNSW_CROSSOVER) || nF * nB < 2 * eF * eB)) {
    return Promise.resolve(exact(`exact search: small coarse problem (${eF} × ${eB} samples)`));
  }
  const lib = loadHnswlib();
  if (!lib.addon) {
    const reason = lib.reason ?? "hnswlib-node unavailable";
    const notice = noticeGiven ? undefined : `neighbour search: exact (${reason})`;
    noticeGiven = true;
    return Promise.resolve(exact(`exact search: ${reason}`, notice));
  }
  const addon = lib.addon;
  return Promise.resolve({
    kind: "hnsw",
    factory: () => new HnswIndex(addon, dim, nB, opts.params),
    reason: `HNSW (hnswlib-node): ${size}`,
  });
}
