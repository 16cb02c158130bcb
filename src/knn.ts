/**
 * k-nearest-neighbour search of int8 embeddings by cosine similarity (max normalised dot product).
 *
 * {@link NeighbourIndex} is the pluggable interface; {@link ExactIndex} is the exact brute-force
 * implementation with cache-blocked batch search. An approximate index (e.g. an hnswlib-node
 * adapter in "cosine" space, converting the int8 vectors to float32) implements the interface as
 * is: ids are the insertion order starting at 0, `search` returns cosine similarities best first
 * (src/hnsw_index.ts does exactly that). The coarse pass ({@link searchBatch}) only needs `add`
 * and `search`.
 * @module
 */

import { EMBED_DIM } from "./embed.ts";
import { dotInt8 } from "./embedding_store.ts";

/** Result of one query: neighbour ids and cosine scores, best first. */
export interface Neighbours {
  /** Ids (insertion order of `add`), best first. */
  indices: Int32Array;
  /** Cosine similarity of each neighbour. */
  scores: Float32Array;
}

/** Result of a batch of queries: `k` slots per query (id −1 / score −Infinity when unfilled). */
export interface BatchNeighbours {
  /** Neighbours per query. */
  k: number;
  /** `queries × k` ids, best first within each query. */
  indices: Int32Array;
  /** `queries × k` cosine scores. */
  scores: Float32Array;
}

/** A searchable set of int8 vectors; ids are assigned sequentially from 0 by `add`. */
export interface NeighbourIndex {
  /** Implementation name reported in results, e.g. `"exact"` or `"hnsw"`. */
  readonly kind: string;
  /** Number of vectors added. */
  readonly size: number;
  /**
   * True when a search costs much less than a scan of every vector (a graph index such as
   * HNSW): the coarse pass then samples the clips more densely (see `coarseSampling` in band.ts).
   */
  readonly sublinear?: boolean;
  /** Adds `vec[offset .. offset + dim)`; returns its id. */
  add(vec: Int8Array, offset?: number): number;
  /** The (up to) `k` most cosine-similar vectors to `q[qOffset .. qOffset + dim)`. */
  search(q: Int8Array, k: number, qOffset?: number): Neighbours;
}

/** Inserts (score, id) into the descending top-k list at `base`; returns the new k-th score. */
function insertTop(
  scores: Float32Array,
  ids: Int32Array,
  base: number,
  k: number,
  s: number,
  id: number,
): number {
  let p = base + k - 1;
  while (p > base && scores[p - 1] < s) {
    scores[p] = scores[p - 1];
    ids[p] = ids[p - 1];
    p--;
  }
  scores[p] = s;
  ids[p] = id;
  return scores[base + k - 1];
}

/** Exact brute-force index over int8 vectors. */
export class ExactIndex implements NeighbourIndex {
  /** Always `"exact"`. */
  readonly kind = "exact";
  /** A full scan per query. */
  readonly sublinear = false;
  /** Components per vector. */
  readonly dim: number;
  private buf: Int8Array;
  private inv: Float32Array;
  private n = 0;

  /** Creates an empty index for vectors of `dim` components. */
  constructor(dim = EMBED_DIM, capacity = 256) {
    this.dim = dim;
    this.buf = new Int8Array(Math.max(1, capacity) * dim);
    this.inv = new Float32Array(Math.max(1, capacity));
  }

  /** Number of vectors added. */
  get size(): number {
    return this.n;
  }

  /** Adds one vector; returns its id. */
  add(vec: Int8Array, offset = 0): number {
    if (offset + this.dim > vec.length) throw new RangeError("vector shorter than dim");
    if (this.n === this.inv.length) {
      const cap = this.inv.length * 2;
      const b = new Int8Array(cap * this.dim);
      b.set(this.buf);
      this.buf = b;
      const v = new Float32Array(cap);
      v.set(this.inv);
      this.inv = v;
    }
    const o = this.n * this.dim;
    this.buf.set(vec.subarray(offset, offset + this.dim), o);
    const nn = dotInt8(this.buf, o, this.buf, o, this.dim);
    this.inv[this.n] = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    return this.n++;
  }

  /** The `k` most similar vectors to one query. */
  search(q: Int8Array, k: number, qOffset = 0): Neighbours {
    const r = this.searchMany(q.subarray(qOffset, qOffset + this.dim), k);
    let m = 0;
    while (m < r.k && r.indices[m] >= 0) m++;
    return { indices: r.indices.slice(0, m), scores: r.scores.slice(0, m) };
  }

  /**
   * Batch search: `queries` holds concatenated query vectors. Loops are blocked (queries × items)
   * so that a block of item vectors stays in cache while several queries scan it.
   */
  searchMany(queries: Int8Array, k: number): BatchNeighbours {
    const dim = this.dim;
    const nq = Math.floor(queries.length / dim);
    const kk = Math.max(1, Math.min(k, Math.max(1, this.n)));
    const indices = new Int32Array(nq * kk).fill(-1);
    const scores = new Float32Array(nq * kk).fill(-Infinity);
    const qInv = new Float32Array(nq);
    for (let q = 0; q < nq; q++) {
      const nn = dotInt8(queries, q * dim, queries, q * dim, dim);
      qInv[q] = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    }
    const kth = new Float32Array(nq).fill(-Infinity);
    const QB = 8;
    const IB = Math.max(16, Math.floor(65536 / dim));
    for (let q0 = 0; q0 < nq; q0 += QB) {
      const q1 = Math.min(nq, q0 + QB);
      for (let i0 = 0; i0 < this.n; i0 += IB) {
        const i1 = Math.min(this.n, i0 + IB);
        for (let q = q0; q < q1; q++) {
          const qo = q * dim;
          const qi = qInv[q];
          let th = kth[q];
          for (let i = i0; i < i1; i++) {
            const s = dotInt8(queries, qo, this.buf, i * dim, dim) * qi * this.inv[i];
            if (s > th) th = insertTop(scores, indices, q * kk, kk, s, i);
          }
          kth[q] = th;
        }
      }
    }
    return { k: kk, indices, scores };
  }
}

/**
 * Batch search through any {@link NeighbourIndex} (uses the blocked path of {@link ExactIndex}).
 * `queries` holds concatenated vectors of the index's dimension.
 */
export function searchBatch(
  index: NeighbourIndex,
  queries: Int8Array,
  dim: number,
  k: number,
): BatchNeighbours {
  if (index instanceof ExactIndex) return index.searchMany(queries, k);
  const nq = Math.floor(queries.length / dim);
  const indices = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  for (let q = 0; q < nq; q++) {
    const r = index.search(queries, k, q * dim);
    const m = Math.min(k, r.indices.length);
    indices.set(r.indices.subarray(0, m), q * k);
    scores.set(r.scores.subarray(0, m), q * k);
  }
  return { k, indices, scores };
}
