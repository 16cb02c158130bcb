/**
 * Compact, growable storage of int8 embedding vectors (one contiguous `Int8Array`).
 *
 * Memory is `capacity × dim` bytes (capacity grows by doubling; {@link EmbeddingStore.compact}
 * trims it to exactly `count × dim`). Norms are not stored: callers that need many cosines
 * compute {@link EmbeddingStore.invNorms} once (4 bytes per vector, transient).
 * @module
 */

import { EMBED_DIM } from "./embed.ts";

/** Dot product of two int8 vectors stored at offsets `ia` and `ib` (8-way unrolled). */
export function dotInt8(a: Int8Array, ia: number, b: Int8Array, ib: number, dim: number): number {
  let s0 = 0, s1 = 0;
  const e8 = ia + dim - (dim & 7);
  let p = ia, q = ib;
  for (; p < e8; p += 8, q += 8) {
    s0 += a[p] * b[q] + a[p + 1] * b[q + 1] + a[p + 2] * b[q + 2] + a[p + 3] * b[q + 3];
    s1 += a[p + 4] * b[q + 4] + a[p + 5] * b[q + 5] + a[p + 6] * b[q + 6] + a[p + 7] * b[q + 7];
  }
  for (const e = ia + dim; p < e; p++, q++) s0 += a[p] * b[q];
  return s0 + s1;
}

/** Growable array of fixed-length int8 vectors. */
export class EmbeddingStore {
  /** Components per vector. */
  readonly dim: number;
  private buf: Int8Array;
  private n = 0;

  /** Creates an empty store for vectors of `dim` components with room for `capacity` vectors. */
  constructor(capacity = 256, dim = EMBED_DIM) {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`invalid dim ${dim}`);
    this.dim = dim;
    this.buf = new Int8Array(Math.max(1, capacity) * dim);
  }

  /** Wraps existing concatenated vectors (no copy; `data.length` must be a multiple of `dim`). */
  static fromArray(data: Int8Array, dim = EMBED_DIM): EmbeddingStore {
    if (data.length % dim !== 0) throw new RangeError("data length is not a multiple of dim");
    const s = new EmbeddingStore(1, dim);
    s.buf = data;
    s.n = data.length / dim;
    return s;
  }

  /** Number of vectors stored. */
  get count(): number {
    return this.n;
  }

  /** Backing buffer; vector `i` starts at `i × dim`. Valid until the next push. */
  get data(): Int8Array {
    return this.buf;
  }

  /** Bytes currently allocated. */
  get byteLength(): number {
    return this.buf.byteLength;
  }

  /** Ensures room for `total` vectors (doubling). */
  private reserve(total: number): void {
    if (total * this.dim <= this.buf.length) return;
    let cap = Math.max(1, this.buf.length / this.dim);
    while (cap < total) cap *= 2;
    const next = new Int8Array(cap * this.dim);
    next.set(this.buf.subarray(0, this.n * this.dim));
    this.buf = next;
  }

  /** Appends one vector read from `vec[offset .. offset + dim)`; returns its index. */
  push(vec: Int8Array, offset = 0): number {
    if (offset + this.dim > vec.length) throw new RangeError("vector shorter than dim");
    this.reserve(this.n + 1);
    this.buf.set(vec.subarray(offset, offset + this.dim), this.n * this.dim);
    return this.n++;
  }

  /** Appends all vectors of a concatenated array (length must be a multiple of `dim`). */
  pushMany(vecs: Int8Array): void {
    if (vecs.length % this.dim !== 0) throw new RangeError("length is not a multiple of dim");
    const k = vecs.length / this.dim;
    this.reserve(this.n + k);
    this.buf.set(vecs, this.n * this.dim);
    this.n += k;
  }

  /** Vector `i` as a subarray view (no copy; invalidated by a later push that grows the store). */
  view(i: number): Int8Array {
    this.check(i);
    return this.buf.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /** Raw integer dot product of vector `i` with vector `j` of `other` (same dim). */
  dot(i: number, other: EmbeddingStore, j: number): number {
    this.check(i);
    other.check(j);
    return dotInt8(this.buf, i * this.dim, other.buf, j * other.dim, this.dim);
  }

  /** Cosine similarity of vector `i` with vector `j` of `other` (0 if either is zero). */
  cosine(i: number, other: EmbeddingStore, j: number): number {
    const ab = this.dot(i, other, j);
    const aa = this.dot(i, this, i);
    const bb = other.dot(j, other, j);
    return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
  }

  /** `1 / ‖v_i‖` for every vector (0 for zero vectors), so that cosine = dot·inv_i·inv_j. */
  invNorms(): Float32Array {
    const out = new Float32Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const o = i * this.dim;
      const nn = dotInt8(this.buf, o, this.buf, o, this.dim);
      out[i] = nn > 0 ? 1 / Math.sqrt(nn) : 0;
    }
    return out;
  }

  /** Trims the allocation to exactly `count × dim` bytes. */
  compact(): void {
    if (this.buf.length !== this.n * this.dim) this.buf = this.buf.slice(0, this.n * this.dim);
  }

  /** Throws unless `i` is a valid vector index. */
  private check(i: number): void {
    if (!(i >= 0 && i < this.n) || !Number.isInteger(i)) {
      throw new RangeError(`index ${i} out of range [0, ${this.n})`);
    }
  }
}
