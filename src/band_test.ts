import assert from "node:assert/strict";
import {
  bandFromChain,
  coarseBand,
  coarseSampling,
  DENSE_SAMPLES,
  denseMode,
  EXACT_SAMPLES,
  median,
} from "./band.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import { ExactIndex, type NeighbourIndex, type Neighbours } from "./knn.ts";
import {
  CLEAN,
  deriveClip,
  type DerivedSpec,
  latentEmbeddings,
  mulberry32,
} from "./synth_video_fixture.ts";

const DIM = 128;

function clips(
  masterFps: number,
  masterFrames: number,
  fgSpec: Omit<DerivedSpec, "degradation">,
  bgSpec: Omit<DerivedSpec, "degradation">,
  seed: number,
) {
  const f = deriveClip({ ...fgSpec, degradation: CLEAN }, masterFps, masterFrames);
  const b = deriveClip({ ...bgSpec, degradation: CLEAN }, masterFps, masterFrames);
  const [fe, be] = latentEmbeddings({ dim: DIM, rho: 0.99, seed }, [
    { master: f.master, noise: 0.1, seed: 1 },
    { master: b.master, noise: 0.1, seed: 2 },
  ]);
  return { f, b, fg: EmbeddingStore.fromArray(fe, DIM), bg: EmbeddingStore.fromArray(be, DIM) };
}

/** Index of the bg frame whose master frame is nearest to `m` (−1 if m is outside bg). */
function trueBg(bgMaster: Int32Array, m: number, halfStep: number): number {
  if (m < bgMaster[0] - halfStep || m > bgMaster[bgMaster.length - 1] + halfStep) return -1;
  let best = 0;
  for (let k = 1; k < bgMaster.length; k++) {
    if (Math.abs(bgMaster[k] - m) < Math.abs(bgMaster[best] - m)) best = k;
  }
  return best;
}

Deno.test("band: contains the true path; rate, offset, breaks and outside flags", () => {
  // fg plays 25/24 faster (PAL speed-up), starts before bg, has an edit (3 s removed) and runs
  // past bg's end. Master 600 fps.
  const { f, b, fg, bg } = clips(
    600,
    600 * 40,
    { fps: 25, start: 1, frames: 25 * 20, speed: 25 / 24, jumps: [{ at: 250, seconds: 3 }] },
    { fps: 24, start: 2, frames: 24 * 20 },
    11,
  );
  const band = coarseBand(fg, f.times, bg, b.times);
  assert.ok(Math.abs(band.rate - 25 / 24) < 0.005, `rate ${band.rate}`);
  assert.ok(band.breaks.some((i) => Math.abs(i - 250) <= 2 * band.fgStride + 2), `${band.breaks}`);
  let inside = 0, outsideOk = 0, outsideAll = 0;
  for (let i = 0; i < f.times.length; i++) {
    if (i > 0) {
      assert.ok(band.lo[i] >= band.lo[i - 1] && band.hi[i] >= band.hi[i - 1], "monotone band");
    }
    const k = trueBg(b.master, f.master[i], 12.5);
    if (k >= 0) {
      assert.ok(band.lo[i] <= k && k <= band.hi[i], `fg ${i}: bg ${k} not in band`);
      assert.equal(band.outside[i], 0);
      inside++;
    } else {
      outsideAll++;
      const before = f.master[i] < b.master[0];
      if (band.outside[i] === (before ? 1 : 2)) outsideOk++;
    }
  }
  assert.ok(inside > 300 && outsideAll > 30);
  // flags are conservative (margin): most frames clearly outside are flagged
  assert.ok(outsideOk >= outsideAll * 0.7, `${outsideOk}/${outsideAll}`);
  assert.equal(band.neighbourSearch, "exact");
});

Deno.test("band: strided coarse problem on long clips, robust to outlier frames", () => {
  const { f, b, fg, bg } = clips(
    30,
    9500,
    { fps: 30, start: 40, frames: 6000 },
    { fps: 30, start: 0, frames: 9000, drops: [3000, 5000], dups: [4000] },
    13,
  );
  // overwrite 5 % of fg frames with garbage
  const r = mulberry32(3);
  for (let i = 0; i < fg.count; i++) {
    if (r() < 0.05) {
      for (let d = 0; d < DIM; d++) fg.data[i * DIM + d] = Math.floor(r() * 255) - 127;
    }
  }
  const band = coarseBand(fg, f.times, bg, b.times);
  assert.ok(band.fgStride > 1 && band.bgStride > 1);
  assert.ok(Math.abs(band.offset - 40) < 0.2, `offset ${band.offset}`);
  for (let i = 0; i < f.times.length; i++) {
    const k = trueBg(b.master, f.master[i], 0.5);
    assert.ok(band.lo[i] <= k && k <= band.hi[i], `fg ${i}: bg ${k} not in band`);
  }
  let w = 0;
  for (let i = 0; i < f.times.length; i++) w += band.hi[i] - band.lo[i] + 1;
  assert.ok(w / f.times.length < 6 * band.bgStride + 10, `band width ${w / f.times.length}`);
});

Deno.test("band: bandFromChain widens across breaks and stays monotone", () => {
  const fgTimes = Float64Array.from({ length: 100 }, (_, i) => i / 10);
  const bgTimes = Float64Array.from({ length: 300 }, (_, i) => i / 10);
  const chain = [
    { fg: 10, bg: 20, score: 1, breakBefore: false },
    { fg: 40, bg: 50, score: 1, breakBefore: false },
    { fg: 50, bg: 150, score: 1, breakBefore: true }, // edit: 9 s jump
    { fg: 90, bg: 190, score: 1, breakBefore: false },
  ];
  const b = bandFromChain(chain, fgTimes, bgTimes, 1, 0.2, 0.1);
  for (let i = 1; i < 100; i++) assert.ok(b.lo[i] >= b.lo[i - 1] && b.hi[i] >= b.hi[i - 1]);
  assert.ok(b.lo[45] <= 55 && b.hi[45] >= 145, "break region spans both sides");
  assert.ok(b.hi[20] - b.lo[20] <= 6, "steady region is narrow");
  assert.equal(b.lo[0], 8);
});

Deno.test("band: robust statistics helpers", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const v = [1, 1.001, 0.999, 1.0005, 0.9995, 1.0002, 0.5, 0.6, 0.7, 0.8, 0.9, 0.55];
  assert.ok(Math.abs(denseMode(v) - 1) < 0.002);
});

Deno.test("band: coarse sampling per index kind (exact caps, dense linear strides)", () => {
  // exact: capped sample counts (quadratic search), as before
  assert.deepEqual(coarseSampling(108_000, 126_000, false), { fgStride: 211, bgStride: 62 });
  assert.deepEqual(coarseSampling(400, 1000, false), { fgStride: 1, bgStride: 1 });
  // sub-linear index: fixed strides (linear cost), never sparser than exact; fg's stride coprime
  // with bg's, so that queries fall at every phase of bg's sampling grid
  assert.deepEqual(coarseSampling(108_000, 126_000, true), { fgStride: 15, bgStride: 16 });
  assert.deepEqual(coarseSampling(216_000, 252_000, true), { fgStride: 15, bgStride: 16 });
  assert.deepEqual(coarseSampling(4000, 20_000, true), { fgStride: 7, bgStride: 10 });
  assert.deepEqual(coarseSampling(8192, 8192, false), { fgStride: 15, bgStride: 4 });
  assert.deepEqual(coarseSampling(1000, 4096, false), { fgStride: 3, bgStride: 2 });
  const huge = coarseSampling(1e6, 1e6, true);
  assert.ok(Math.ceil(1e6 / huge.fgStride) <= 1.1 * DENSE_SAMPLES.fg); // coprime stride: ≤ 10 % over
  assert.ok(Math.ceil(1e6 / huge.bgStride) <= DENSE_SAMPLES.bg);
  // explicit caps win for either kind
  const o = { maxFgSamples: 1000, maxBgSamples: 500 };
  assert.deepEqual(coarseSampling(10_000, 10_000, true, o), { fgStride: 10, bgStride: 20 });
  assert.deepEqual(coarseSampling(10_000, 10_000, false, o), { fgStride: 10, bgStride: 20 });
  assert.equal(EXACT_SAMPLES.fg * EXACT_SAMPLES.bg, 512 * 2048);
});

Deno.test("band: a sub-linear index gets the dense sampling; band stays correct", () => {
  // Exact search flagged as sub-linear stands in for HNSW (no native addon needed).
  class Dense implements NeighbourIndex {
    readonly kind = "dense-exact";
    readonly sublinear = true;
    private readonly inner = new ExactIndex(DIM);
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
  const { f, b, fg, bg } = clips(
    30,
    40_000,
    { fps: 30, start: 30, frames: 16_000, jumps: [{ at: 8000, seconds: 20 }] },
    { fps: 30, start: 0, frames: 36_000, drops: [12_000] },
    17,
  );
  const ex = coarseBand(fg, f.times, bg, b.times);
  const dn = coarseBand(fg, f.times, bg, b.times, { neighbourIndex: () => new Dense() });
  assert.equal(dn.neighbourSearch, "dense-exact");
  assert.deepEqual([dn.fgStride, dn.bgStride], [15, 16]);
  assert.deepEqual([ex.fgStride, ex.bgStride], [31, 18]);
  const bgOf = new Int32Array(40_000).fill(-1); // bg frame showing each master frame
  for (let k = 0; k < b.master.length; k++) bgOf[b.master[k]] = k;
  let wEx = 0, wDn = 0, checked = 0;
  for (let i = 0; i < f.times.length; i++) {
    const k = bgOf[f.master[i]];
    if (k >= 0) checked++;
    if (k >= 0) assert.ok(dn.lo[i] <= k && k <= dn.hi[i], `fg ${i}: bg ${k} not in band`);
    wEx += ex.hi[i] - ex.lo[i] + 1;
    wDn += dn.hi[i] - dn.lo[i] + 1;
  }
  assert.ok(checked > 15_900);
  assert.ok(wDn <= wEx, `${wDn / f.times.length} vs ${wEx / f.times.length}`);
  assert.ok(dn.breaks.some((i) => Math.abs(i - 8000) <= 2 * dn.fgStride), `${dn.breaks}`);
  assert.ok(Math.abs(dn.rate - 1) < 1e-3, `rate ${dn.rate}`);
});
