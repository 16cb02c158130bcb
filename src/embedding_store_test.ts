import assert from "node:assert/strict";
import { dotInt8, EmbeddingStore } from "./embedding_store.ts";

function vec(dim: number, seed: number): Int8Array {
  const v = new Int8Array(dim);
  for (let k = 0; k < dim; k++) v[k] = ((seed * 31 + k * 17) % 255) - 127;
  return v;
}

Deno.test("embedding store: push grows, view/dot/cosine agree with plain loops", () => {
  const dim = 13; // not a multiple of 8: exercises the tail loop
  const s = new EmbeddingStore(1, dim);
  for (let i = 0; i < 40; i++) assert.equal(s.push(vec(dim, i)), i);
  assert.equal(s.count, 40);
  assert.deepEqual(Array.from(s.view(7)), Array.from(vec(dim, 7)));
  const a = vec(dim, 3), b = vec(dim, 11);
  let d = 0, aa = 0, bb = 0;
  for (let k = 0; k < dim; k++) {
    d += a[k] * b[k];
    aa += a[k] * a[k];
    bb += b[k] * b[k];
  }
  assert.equal(s.dot(3, s, 11), d);
  assert.equal(dotInt8(a, 0, b, 0, dim), d);
  assert.ok(Math.abs(s.cosine(3, s, 11) - d / Math.sqrt(aa * bb)) < 1e-12);
  const inv = s.invNorms();
  assert.ok(Math.abs(d * inv[3] * inv[11] - s.cosine(3, s, 11)) < 1e-6);
  assert.throws(() => s.view(40), RangeError);
});

Deno.test("embedding store: memory is count × dim bytes after compact; zero vectors", () => {
  const s = new EmbeddingStore(1000, 512);
  s.pushMany(new Int8Array(3 * 512));
  s.push(vec(512, 1));
  s.compact();
  assert.equal(s.byteLength, 4 * 512);
  assert.equal(s.invNorms()[0], 0);
  assert.equal(s.cosine(0, s, 3), 0);
  s.push(vec(512, 2)); // still growable after compact
  assert.equal(s.count, 5);
  const w = EmbeddingStore.fromArray(s.data.slice(0, 5 * 512), 512);
  assert.equal(w.count, 5);
  assert.equal(w.dot(4, s, 4), s.dot(4, s, 4));
  assert.throws(() => EmbeddingStore.fromArray(new Int8Array(10), 512), RangeError);
});
