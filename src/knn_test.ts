import assert from "node:assert/strict";
import { ExactIndex, type NeighbourIndex, type Neighbours, searchBatch } from "./knn.ts";
import { dotInt8 } from "./embedding_store.ts";

function randomVecs(n: number, dim: number, seed: number): Int8Array {
  let s = seed >>> 0;
  const v = new Int8Array(n * dim);
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s >>> 24) - 128;
  }
  return v;
}

function bruteForce(items: Int8Array, q: Int8Array, dim: number, k: number): number[] {
  const n = items.length / dim;
  const qq = Math.sqrt(dotInt8(q, 0, q, 0, dim));
  const sc = Array.from({ length: n }, (_, i) => {
    const ii = Math.sqrt(dotInt8(items, i * dim, items, i * dim, dim));
    return { i, s: dotInt8(q, 0, items, i * dim, dim) / (qq * ii) };
  });
  sc.sort((a, b) => b.s - a.s || a.i - b.i);
  return sc.slice(0, k).map((x) => x.i);
}

Deno.test("knn: exact index returns the true top-k by cosine, single and batched", () => {
  const dim = 64, n = 700, k = 5;
  const items = randomVecs(n, dim, 1);
  const index = new ExactIndex(dim, 4);
  for (let i = 0; i < n; i++) assert.equal(index.add(items, i * dim), i);
  assert.equal(index.size, n);
  assert.equal(index.sublinear, false);
  const queries = randomVecs(20, dim, 2);
  const batch = index.searchMany(queries, k);
  for (let q = 0; q < 20; q++) {
    const want = bruteForce(items, queries.subarray(q * dim, (q + 1) * dim), dim, k);
    const one = index.search(queries, k, q * dim);
    assert.deepEqual(Array.from(one.indices), want);
    assert.deepEqual(Array.from(batch.indices.subarray(q * k, (q + 1) * k)), want);
    for (let r = 1; r < k; r++) assert.ok(one.scores[r - 1] >= one.scores[r]);
  }
});

Deno.test("knn: k larger than the set, empty index, and a pluggable index via searchBatch", () => {
  const dim = 8;
  const index = new ExactIndex(dim);
  assert.equal(index.search(new Int8Array(dim), 3).indices.length, 0);
  index.add(new Int8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  index.add(new Int8Array([0, 1, 0, 0, 0, 0, 0, 0]));
  const r = index.search(new Int8Array([0, 5, 0, 0, 0, 0, 0, 0]), 10);
  assert.deepEqual(Array.from(r.indices), [1, 0]);
  assert.ok(Math.abs(r.scores[0] - 1) < 1e-6);

  // A stand-in for an approximate index: only the generic path of searchBatch is used.
  class Wrapped implements NeighbourIndex {
    readonly kind = "wrapped";
    constructor(private readonly inner: ExactIndex) {}
    get size(): number {
      return this.inner.size;
    }
    add(vec: Int8Array, offset?: number): number {
      return this.inner.add(vec, offset);
    }
    search(q: Int8Array, k: number, qOffset?: number): Neighbours {
      return this.inner.search(q, k, qOffset);
    }
  }
  const w = new Wrapped(new ExactIndex(dim));
  const items = randomVecs(50, dim, 5);
  for (let i = 0; i < 50; i++) w.add(items, i * dim);
  const qs = randomVecs(4, dim, 6);
  const a = searchBatch(w, qs, dim, 3);
  const exact = new ExactIndex(dim);
  for (let i = 0; i < 50; i++) exact.add(items, i * dim);
  const b = searchBatch(exact, qs, dim, 3);
  assert.deepEqual(Array.from(a.indices), Array.from(b.indices));
});
