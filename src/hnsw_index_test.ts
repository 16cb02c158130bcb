import assert from "node:assert/strict";
import { coarseBand } from "./band.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import { HNSW_CROSSOVER, HnswIndex, loadHnswlib, neighbourIndexFor } from "./hnsw_index.ts";
import { ExactIndex } from "./knn.ts";
import { CLEAN, deriveClip, latentEmbeddings } from "./synth_video_fixture.ts";

const lib = loadHnswlib();
const noAddon = !lib.addon;
if (noAddon) {
  console.log(`hnsw_index_test: HNSW tests skipped: ${lib.reason}`);
}

const DIM = 128;

/** A slowly changing sequence (adjacent vectors near-duplicates) with a few runs of repeats. */
function sequence(n: number, seed: number): Int8Array {
  const master = Int32Array.from({ length: n }, (_, i) => i);
  const [v] = latentEmbeddings(
    { dim: DIM, rho: 0.995, seed, cuts: [n >> 2, n >> 1], frozen: [[100, 160]] },
    [{ master, noise: 0.05, seed: seed + 1 }],
  );
  return v;
}

Deno.test({
  name: "hnsw: ids, scores and tie-aware recall against exact search on near-duplicates",
  ignore: noAddon,
  fn() {
    const n = 3000, k = 8;
    const items = sequence(n, 1);
    const queries = sequence(n, 1).subarray(0, 200 * DIM); // same walk, other noise below
    for (let i = 0; i < queries.length; i++) queries[i] = Math.max(-127, queries[i] - (i % 3) + 1);
    const h = new HnswIndex(lib.addon!, DIM, 64); // grows past its initial capacity
    const ex = new ExactIndex(DIM);
    for (let i = 0; i < n; i++) {
      assert.equal(h.add(items, i * DIM), i);
      ex.add(items, i * DIM);
    }
    assert.equal(h.size, n);
    assert.equal(h.kind, "hnsw");
    assert.equal(h.sublinear, true);
    let good = 0, best = 0;
    for (let q = 0; q < 200; q++) {
      const a = h.search(queries, k, q * DIM);
      const e = ex.search(queries, k, q * DIM);
      assert.equal(a.indices.length, k);
      for (let r = 1; r < k; r++) assert.ok(a.scores[r - 1] >= a.scores[r] - 1e-6);
      // scores are the cosines of the returned ids
      const ids = Array.from(e.indices);
      for (let r = 0; r < k; r++) {
        const at = ids.indexOf(a.indices[r]);
        if (at >= 0) assert.ok(Math.abs(a.scores[r] - e.scores[at]) < 1e-4);
        // tie-aware recall: as good as the exact k-th neighbour
        if (a.scores[r] >= e.scores[k - 1] - 1e-4) good++;
      }
      if (a.scores[0] >= e.scores[0] - 1e-4) best++;
    }
    assert.ok(good / (200 * k) > 0.99, `recall ${good / (200 * k)}`);
    assert.ok(best / 200 > 0.99, `best ${best / 200}`);
  },
});

Deno.test({
  name: "hnsw: empty index, k beyond size, adding after searching",
  ignore: noAddon,
  fn() {
    const h = new HnswIndex(lib.addon!, 4, 16);
    assert.equal(h.search(new Int8Array(4), 3).indices.length, 0);
    h.add(new Int8Array([1, 0, 0, 0]));
    h.add(new Int8Array([0, 1, 0, 0]));
    let r = h.search(new Int8Array([0, 5, 0, 0]), 10);
    assert.deepEqual(Array.from(r.indices), [1, 0]);
    assert.ok(Math.abs(r.scores[0] - 1) < 1e-6 && Math.abs(r.scores[1]) < 1e-6);
    assert.equal(h.add(new Int8Array([0, 0, 9, 1]), 0), 2);
    r = h.search(new Int8Array([0, 0, 1, 0]), 1);
    assert.deepEqual(Array.from(r.indices), [2]);
    assert.throws(() => h.add(new Int8Array(3)), RangeError);
  },
});

Deno.test("hnsw: chooser: exact below the crossover, HNSW (or exact + one notice) above", async () => {
  const small = await neighbourIndexFor(3000, 3000);
  assert.equal(small.kind, "exact");
  assert.equal(small.notice, undefined);
  assert.equal(small.factory().kind, "exact");
  // 6.7 min each: exact search's capped sampling is about as dense as HNSW's would be
  assert.equal((await neighbourIndexFor(12_000, 12_000)).kind, "exact");
  const forced = await neighbourIndexFor(1e6, 1e6, { mode: "exact" });
  assert.equal(forced.kind, "exact");
  // 60-min fg against 70-min bg at 30 fps: dense sampling is far above the crossover
  const big = await neighbourIndexFor(108_000, 126_000);
  assert.ok(6750 * 7875 > HNSW_CROSSOVER);
  if (noAddon) {
    assert.equal(big.kind, "exact");
    assert.match(big.notice ?? "", /^neighbour search: exact \(/);
    assert.equal((await neighbourIndexFor(108_000, 126_000)).notice, undefined, "notice once");
  } else {
    assert.equal(big.kind, "hnsw");
    assert.equal(big.notice, undefined);
    const idx = big.factory();
    assert.equal(idx.kind, "hnsw");
    assert.equal(idx.sublinear, true);
  }
});

Deno.test("hnsw: without the addon or the ffi permission: exact search and one notice", async () => {
  assert.match(loadHnswlib("/nonexistent/addon.node").reason ?? "", /not installed/);
  // a fresh process without --allow-ffi: no prompt, no throw, exact search, one notice
  const code = `
    import { neighbourIndexFor } from ${
    JSON.stringify(new URL("./hnsw_index.ts", import.meta.url).href)
  };
    const a = await neighbourIndexFor(108000, 126000);
    const b = await neighbourIndexFor(108000, 126000);
    console.log(JSON.stringify([a.kind, a.notice ?? null, b.kind, b.notice ?? null]));
  `;
  const dir = await Deno.makeTempDir({ prefix: "vidkompy-hnsw-" });
  const script = `${dir}/probe.ts`;
  await Deno.writeTextFile(script, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-env", script],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(dir, { recursive: true }));
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, err);
  const [ka, na, kb, nb] = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(ka, "exact");
  assert.equal(kb, "exact");
  assert.match(na, /^neighbour search: exact \(hnswlib-node .*(--allow-ffi|npm install)/);
  assert.equal(nb, null);
});

/** Long synthetic pair: fg starts 40 s into bg, has an edit (30 s removed); bg drops a frame. */
function longPair(fgFrames: number, bgFrames: number) {
  const fps = 30;
  const f = deriveClip(
    {
      fps,
      start: 40,
      frames: fgFrames,
      degradation: CLEAN,
      jumps: [{ at: fgFrames >> 1, seconds: 30 }],
    },
    fps,
    bgFrames + 3000,
  );
  const b = deriveClip(
    { fps, start: 0, frames: bgFrames, degradation: CLEAN, drops: [bgFrames >> 2] },
    fps,
    bgFrames + 3000,
  );
  const cuts = Array.from({ length: bgFrames / 150 }, (_, i) => 20 + i * 150 + ((i * 37) % 90));
  const [fe, be] = latentEmbeddings({ dim: DIM, rho: 0.99, seed: 5, cuts }, [
    { master: f.master, noise: 0.1, seed: 1 },
    { master: b.master, noise: 0.1, seed: 2 },
  ]);
  const bgOf = new Int32Array(bgFrames + 3000).fill(-1);
  for (let k = 0; k < bgFrames; k++) bgOf[b.master[k]] = k;
  return {
    f,
    b,
    bgOf,
    fg: EmbeddingStore.fromArray(fe, DIM),
    bg: EmbeddingStore.fromArray(be, DIM),
  };
}

Deno.test({
  name: "hnsw: coarse band with HNSW equals the exact one (same sampling) on a long sequence",
  ignore: noAddon,
  fn() {
    const { f, b, fg, bg } = longPair(12_000, 15_000);
    const sampling = { maxFgSamples: 1500, maxBgSamples: 3000 };
    const ex = coarseBand(fg, f.times, bg, b.times, sampling);
    const hn = coarseBand(fg, f.times, bg, b.times, {
      ...sampling,
      neighbourIndex: () => new HnswIndex(lib.addon!, DIM),
    });
    assert.equal(ex.neighbourSearch, "exact");
    assert.equal(hn.neighbourSearch, "hnsw");
    assert.equal(hn.fgStride, ex.fgStride);
    assert.equal(hn.bgStride, ex.bgStride);
    assert.ok(Math.abs(hn.rate - ex.rate) < 1e-3, `rate ${hn.rate} vs ${ex.rate}`);
    assert.ok(Math.abs(hn.offset - ex.offset) <= 1 / 30 + 1e-9, `${hn.offset} vs ${ex.offset}`);
    assert.equal(hn.breaks.length, ex.breaks.length);
    for (let i = 0; i < hn.breaks.length; i++) {
      assert.ok(Math.abs(hn.breaks[i] - ex.breaks[i]) <= ex.fgStride);
    }
    for (let i = 0; i < f.times.length; i++) {
      assert.ok(Math.abs(hn.lo[i] - ex.lo[i]) <= 1 && Math.abs(hn.hi[i] - ex.hi[i]) <= 1, `${i}`);
    }
  },
});

Deno.test({
  name: "hnsw: dense sampling on 20-min clips keeps the true path in a narrower band",
  ignore: noAddon,
  fn() {
    const { f, bgOf, fg, bg, b } = longPair(36_000, 42_000);
    const ex = coarseBand(fg, f.times, bg, b.times);
    const hn = coarseBand(fg, f.times, bg, b.times, {
      neighbourIndex: () => new HnswIndex(lib.addon!, DIM),
    });
    assert.ok(hn.fgStride === 15 && hn.bgStride === 16 && ex.bgStride > 16);
    let wEx = 0, wHn = 0;
    for (let i = 0; i < f.times.length; i++) {
      const k = bgOf[f.master[i]];
      if (k >= 0) assert.ok(hn.lo[i] <= k && k <= hn.hi[i], `fg ${i}: bg ${k} not in band`);
      wEx += ex.hi[i] - ex.lo[i] + 1;
      wHn += hn.hi[i] - hn.lo[i] + 1;
    }
    assert.ok(wHn < 0.85 * wEx, `band width ${wHn / f.times.length} vs ${wEx / f.times.length}`);
    assert.ok(hn.breaks.some((i) => Math.abs(i - 18_000) <= 2 * hn.fgStride), `${hn.breaks}`);
  },
});
