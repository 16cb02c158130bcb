import assert from "node:assert/strict";
import {
  alignBanded,
  type BandDistance,
  bandSimilarities,
  bandSimilaritiesAsync,
  CpuBandDistance,
} from "./dtw.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import {
  deriveClip,
  type DerivedSpec,
  latentEmbeddings,
  type LatentSpec,
} from "./synth_video_fixture.ts";
import { CLEAN } from "./synth_video_fixture.ts";
import { GpuDtwDistance } from "./gpu/distance_gpu.ts";
import { gpuForTests } from "./gpu/test_util.ts";

const gpu = await gpuForTests("dtw_test.ts");

const DIM = 128;

interface Case {
  fg: EmbeddingStore;
  bg: EmbeddingStore;
  fgTimes: Float64Array;
  bgTimes: Float64Array;
  fgMaster: Int32Array;
  bgMaster: Int32Array;
}

function makeCase(
  latent: Omit<LatentSpec, "dim">,
  masterFps: number,
  masterFrames: number,
  fgSpec: Omit<DerivedSpec, "degradation">,
  bgSpec: Omit<DerivedSpec, "degradation">,
): Case {
  const f = deriveClip({ ...fgSpec, degradation: CLEAN }, masterFps, masterFrames);
  const b = deriveClip({ ...bgSpec, degradation: CLEAN }, masterFps, masterFrames);
  const [fe, be] = latentEmbeddings({ ...latent, dim: DIM }, [
    { master: f.master, noise: 0.1, seed: 1 },
    { master: b.master, noise: 0.1, seed: 2 },
  ]);
  return {
    fg: EmbeddingStore.fromArray(fe, DIM),
    bg: EmbeddingStore.fromArray(be, DIM),
    fgTimes: f.times,
    bgTimes: b.times,
    fgMaster: f.master,
    bgMaster: b.master,
  };
}

/** bg frames showing the master frame nearest to each fg frame's (all of them on ties). */
function truth(c: Case): number[][] {
  const bm = c.bgMaster;
  return Array.from(c.fgMaster, (m) => {
    // bg master indices are non-decreasing: binary search, then look around
    let lo = 0, hi = bm.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bm[mid] < m) lo = mid + 1;
      else hi = mid;
    }
    let best = Infinity;
    for (let k = Math.max(0, lo - 3); k < Math.min(bm.length, lo + 3); k++) {
      best = Math.min(best, Math.abs(bm[k] - m));
    }
    const ok: number[] = [];
    for (let k = Math.max(0, lo - 3); k < Math.min(bm.length, lo + 3); k++) {
      if (Math.abs(bm[k] - m) === best) ok.push(k);
    }
    return ok;
  });
}

/** Band of ±margin bg frames around the true path (bg seconds). */
function truthBand(c: Case, t: number[][], margin: number): [Float64Array, Float64Array] {
  const n = c.fgTimes.length;
  const per = c.bgTimes[1] - c.bgTimes[0];
  const lo = new Float64Array(n), hi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    lo[i] = c.bgTimes[t[i][0]] - margin * per;
    hi[i] = c.bgTimes[t[i][t[i].length - 1]] + margin * per;
  }
  for (let i = n - 2; i >= 0; i--) lo[i] = Math.min(lo[i], lo[i + 1]);
  for (let i = 1; i < n; i++) hi[i] = Math.max(hi[i], hi[i - 1]);
  return [lo, hi];
}

function check(map: Int32Array, t: number[][]): { exact: number; maxOff: number } {
  let exact = 0, maxOff = 0;
  for (let i = 0; i < map.length; i++) {
    if (i > 0) assert.ok(map[i] >= map[i - 1], `monotone at ${i}`);
    const off = Math.min(...t[i].map((k) => Math.abs(k - map[i])));
    if (off === 0) exact++;
    maxOff = Math.max(maxOff, off);
  }
  return { exact: exact / map.length, maxOff };
}

Deno.test("dtw: static stretch between moving anchors keeps the steady 30→24 fps path", () => {
  // master 120 fps: fg 30 fps = every 4th step, bg 24 fps = every 5th; 8 s frozen in the middle
  const c = makeCase(
    { rho: 0.995, seed: 3, frozen: [[240, 1200]] },
    120,
    1500,
    { fps: 30, start: 1, frames: 330 },
    { fps: 24, start: 0, frames: 300 },
  );
  const t = truth(c);
  const [lo, hi] = truthBand(c, t, 6);
  const sims = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi);
  const r = alignBanded(sims, c.fgTimes, c.bgTimes, lo, hi);
  const q = check(r.map, t);
  assert.equal(q.exact, 1, `exact ${q.exact}`);
  assert.ok(r.switches <= 1, `phase switches ${r.switches}`);
});

Deno.test("dtw: dropped/duplicated bg frames and an edit (jump) are followed exactly", () => {
  const c = makeCase(
    { rho: 0.99, seed: 5, cuts: [300] },
    30,
    900,
    { fps: 30, start: 1, frames: 500, jumps: [{ at: 250, seconds: 3 }] },
    { fps: 30, start: 0, frames: 850, drops: [100, 160, 161, 600], dups: [130, 400, 700] },
  );
  const t = truth(c);
  const [lo, hi] = truthBand(c, t, 8);
  const sims = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi);
  const r = alignBanded(sims, c.fgTimes, c.bgTimes, lo, hi);
  const q = check(r.map, t);
  assert.ok(q.exact >= 0.99, `exact ${q.exact}`);
  assert.ok(q.maxOff <= 1, `max off ${q.maxOff}`);
});

Deno.test("dtw: runs of dropped bg frames in slow footage cost one switch, not one per frame", () => {
  // bg lacks 4 moments in every 40 (bg's last frame before each gap is held for 4 fg frames),
  // the last gap 30 frames before the end; adjacent frames are nearly alike (slow footage)
  const drops = [36, 76, 116, 156].flatMap((k) => [k, k + 1, k + 2, k + 3]);
  const c = makeCase(
    { rho: 0.999, seed: 7 },
    24,
    260,
    { fps: 24, start: 0.5, frames: 190 },
    { fps: 24, start: 0, frames: 200, drops },
  );
  const t = truth(c);
  const [lo, hi] = truthBand(c, t, 8);
  const sims = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi);
  // the share of fg frames whose own moment bg shows that get exactly it
  const shown = new Set(c.bgMaster);
  const keep = [...c.fgMaster.keys()].filter((i) => shown.has(c.fgMaster[i]));
  const exact = (map: Int32Array) =>
    keep.filter((i) => c.bgMaster[map[i]] === c.fgMaster[i]).length / keep.length;
  const r = alignBanded(sims, c.fgTimes, c.bgTimes, lo, hi);
  // with each hold step priced as a full switch, the path cuts the holds short and stays
  // frames off after them (0.47 exact; 0.80 with the default)
  const costly = alignBanded(sims, c.fgTimes, c.bgTimes, lo, hi, { holdRunCost: 0.04 });
  assert.ok(exact(r.map) >= 0.75, `exact ${exact(r.map)}`);
  assert.ok(exact(costly.map) < exact(r.map) - 0.2, `${exact(costly.map)} vs ${exact(r.map)}`);
  check(r.map, t); // monotone
});

Deno.test("dtw: fg frames past bg's end keep their phase (target beyond bg, map clamped)", () => {
  const c = makeCase(
    { rho: 0.9995, seed: 7 },
    30,
    700,
    { fps: 30, start: 2, frames: 400 },
    { fps: 30, start: 0, frames: 300 },
  );
  const per = 1 / 30;
  const n = c.fgTimes.length;
  const lo = new Float64Array(n), hi = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    lo[i] = c.fgTimes[i] + 2 - 6 * per;
    hi[i] = c.fgTimes[i] + 2 + 6 * per;
  }
  const sims = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi);
  const r = alignBanded(sims, c.fgTimes, c.bgTimes, lo, hi);
  for (let i = 0; i < n; i++) {
    const want = i + 60;
    if (want < 300) assert.equal(r.map[i], want);
    else {
      assert.equal(r.map[i], 299);
      assert.ok(Math.abs(r.target[i] - (c.fgTimes[i] + 2)) < per / 2, `target at ${i}`);
    }
  }
});

Deno.test("dtw: memory and time are O(N·band), speed report", () => {
  const n = 6000;
  const c = makeCase(
    { rho: 0.99, seed: 9 },
    30,
    n + 400,
    { fps: 30, start: 3, frames: n },
    { fps: 30, start: 0, frames: n + 300 },
  );
  const t = truth(c);
  const margin = 12;
  const [lo, hi] = truthBand(c, t, margin);
  const t0 = performance.now();
  const sims = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi);
  const t1 = performance.now();
  const r = alignBanded(sims, c.fgTimes, c.bgTimes, lo, hi);
  const t2 = performance.now();
  const width = 2 * margin + 3;
  assert.ok(sims.cells <= n * (width + 2), `cells ${sims.cells}`);
  assert.ok(r.states <= n * (width + 1) * 8, `states ${r.states}`);
  assert.equal(check(r.map, t).exact, 1);
  console.log(
    `dtw: ${n} fg × ${c.bgTimes.length} bg, band ≈ ${(sims.cells / n).toFixed(1)} frames: ` +
      `similarities ${
        (sims.cells / ((t1 - t0) / 1000) / 1e6).toFixed(2)
      } M cells/s (dim ${DIM}), ` +
      `DP ${(r.states / ((t2 - t1) / 1000) / 1e6).toFixed(1)} M states/s; ` +
      `overall ${(sims.cells / ((t2 - t0) / 1000) / 1e6).toFixed(2)} M cells/s`,
  );
});

Deno.test("dtw: bandSimilaritiesAsync (CPU and WGSL dots) equals bandSimilarities bit for bit", async () => {
  const c = makeCase(
    { rho: 0.99, seed: 5, cuts: [300] },
    30,
    900,
    { fps: 30, start: 1, frames: 500, jumps: [{ at: 250, seconds: 3 }] },
    { fps: 30, start: 0, frames: 850, drops: [100, 160, 161, 600], dups: [130, 400, 700] },
  );
  // a zero fg vector (skipped row) and extreme components
  c.fg.data.fill(0, 7 * DIM, 8 * DIM);
  c.fg.data.fill(-128, 9 * DIM, 10 * DIM);
  c.bg.data.fill(-128, 0, 40 * DIM);
  const t = truth(c);
  const [lo, hi] = truthBand(c, t, 8);
  const want = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi);
  const wantPart = bandSimilarities(c.fg, c.bg, c.bgTimes, lo, hi, 40, 321);
  const r = alignBanded(want, c.fgTimes, c.bgTimes, lo, hi);
  const kinds: BandDistance[] = [new CpuBandDistance()];
  // maxCells 3000: several dispatches
  const g = gpu ? await GpuDtwDistance.create({ context: gpu, maxCells: 3000 }) : null;
  if (g) kinds.push(g);
  try {
    for (const dist of kinds) {
      const got = await bandSimilaritiesAsync(c.fg, c.bg, c.bgTimes, lo, hi, dist);
      assert.deepEqual(got, want, dist.kind);
      if (dist instanceof GpuDtwDistance) assert.ok(dist.lastRoundTrips > 1);
      const part = await bandSimilaritiesAsync(c.fg, c.bg, c.bgTimes, lo, hi, dist, 40, 321);
      assert.deepEqual(part, wantPart, `${dist.kind}, rows 40..320`);
      const rr = alignBanded(got, c.fgTimes, c.bgTimes, lo, hi);
      assert.deepEqual(rr, r, dist.kind);
    }
  } finally {
    for (const k of kinds) k.destroy();
  }
});
