import assert from "node:assert/strict";
import { EMBED_DIM, embedFrame } from "./embed.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import {
  type Degradation,
  deriveClip,
  type DerivedSpec,
  latentEmbeddings,
  MasterClip,
  type MasterSpec,
  renderClip,
  type ShotSpec,
} from "./synth_video_fixture.ts";
import {
  alignTemporal,
  alignTemporalAsync,
  type TemporalInput,
  type TemporalResult,
} from "./temporal.ts";
import { CpuBandDistance } from "./dtw.ts";
import { GpuDtwDistance } from "./gpu/distance_gpu.ts";
import { gpuForTests } from "./gpu/test_util.ts";

const gpu = await gpuForTests("temporal_test.ts");

/** Every successful alignment of this file's tests, re-run with the band distances at the end. */
const recorded: { input: TemporalInput; want: TemporalResult }[] = [];

/** {@link alignTemporal}, recorded for the CPU / WGSL band distance comparison. */
function alignRecorded(input: TemporalInput): TemporalResult {
  const want = alignTemporal(input);
  recorded.push({ input, want: structuredClone(want) });
  return want;
}

/** fg encode: lifted contrast, crushed blacks, soft, noisy. */
const FG_GRADE: Degradation = {
  gain: 1.1,
  bias: -10,
  gamma: 0.9,
  blur: 0.4,
  noise: 3,
  quant: 2,
  seed: 3,
};
/** bg encode: lower contrast, lifted blacks, gamma, coarse quantisation, 0.4 % rescale. */
const BG_GRADE: Degradation = {
  gain: 0.85,
  bias: 15,
  gamma: 1.15,
  blur: 0,
  noise: 2,
  quant: 4,
  seed: 5,
  scale: 1.004,
};

/** 17 s of footage: pans and zooms of several speeds, cuts, fades, a 3 s static shot. */
function shots(seed: number): ShotSpec[] {
  return [
    { duration: 4, textureSeed: seed + 1, vx: 20, vy: 6, zoomRate: 0.02, fadeIn: 0.5 },
    { duration: 3, textureSeed: seed + 2, vx: -45, vy: 10 },
    { duration: 3, textureSeed: seed + 3, vx: 0, vy: 0 }, // static
    { duration: 3, textureSeed: seed + 4, vx: 4, vy: -2, fadeOut: 0.8 }, // slow, fade to black
    { duration: 4, textureSeed: seed + 5, vx: 10, vy: 30, zoomRate: -0.03, fadeIn: 0.8 },
  ];
}

interface Outcome {
  res: TemporalResult;
  /** Share of fg frames (with a true bg frame) mapped exactly. */
  exact: number;
  /** Largest distance to a true frame. */
  maxOff: number;
  /** Frames with a true bg frame. */
  withTruth: number;
  /** held flags that differ from the truth, ignoring ±1 bg frame around bg's ends. */
  heldWrong: number;
  /** Frames expected to be held (1 or 2). */
  heldExpected: number;
}

function embedClip(clip: MasterClip, spec: DerivedSpec) {
  const d = deriveClip(spec, clip.spec.fps, clip.frameCount);
  const store = new EmbeddingStore(d.master.length);
  const v = new Int8Array(EMBED_DIM);
  renderClip(clip, d, spec.degradation, (thumb) => {
    embedFrame(thumb, v);
    store.push(v);
  });
  return { d, store };
}

/**
 * Renders, embeds and aligns; scores against the truth: the bg frames showing the master frame
 * nearest to the fg frame's (ties: all), plus the nearest one of the same shot (right after a
 * cut the nearest moment may still be the previous shot, where the other frame is correct).
 */
function scenario(master: MasterSpec, fgSpec: DerivedSpec, bgSpec: DerivedSpec): Outcome {
  const clip = new MasterClip(master);
  const fg = embedClip(clip, fgSpec);
  const bg = embedClip(clip, bgSpec);
  const res = alignRecorded({
    fg: fg.store,
    fgTimes: fg.d.times,
    bg: bg.store,
    bgTimes: bg.d.times,
  });
  const bm = bg.d.master;
  const M = bm.length;
  const step = master.fps / bgSpec.fps;
  let exact = 0, maxOff = 0, withTruth = 0, heldWrong = 0, heldExpected = 0;
  for (let i = 0; i < fg.d.master.length; i++) {
    if (i > 0) assert.ok(res.map[i] >= res.map[i - 1], "map must be monotone");
    const m = fg.d.master[i];
    const expHeld = m < bm[0] - step / 2 ? 1 : m > bm[M - 1] + step / 2 ? 2 : 0;
    const nearEdge = Math.abs(m - bm[0]) <= step * 1.5 || Math.abs(m - bm[M - 1]) <= step * 1.5;
    if (expHeld) heldExpected++;
    if (res.held[i] !== expHeld && !nearEdge) heldWrong++;
    if (res.held[i] === 1) assert.equal(res.map[i], 0);
    if (res.held[i] === 2) assert.equal(res.map[i], M - 1);
    if (expHeld) continue;
    let best = Infinity;
    for (const x of bm) best = Math.min(best, Math.abs(x - m));
    if (best > step + 1e-9) continue; // moment missing from bg (removed segment)
    const ok: number[] = [];
    let same = -1;
    const shot = clip.shotOf(m);
    bm.forEach((x, k) => {
      if (Math.abs(x - m) === best) ok.push(k);
      if (clip.shotOf(x) === shot && (same < 0 || Math.abs(x - m) < Math.abs(bm[same] - m))) {
        same = k;
      }
    });
    if (same >= 0 && Math.abs(bm[same] - m) <= 2 * step) ok.push(same);
    withTruth++;
    const off = Math.min(...ok.map((k) => Math.abs(k - res.map[i])));
    if (off === 0) exact++;
    maxOff = Math.max(maxOff, off);
  }
  return { res, exact: exact / withTruth, maxOff, withTruth, heldWrong, heldExpected };
}

function report(name: string, o: Outcome): void {
  console.log(
    `${name.padEnd(34)} exact ${
      (100 * o.exact).toFixed(2)
    }% of ${o.withTruth}, max off ${o.maxOff}` +
      `, held ${o.heldExpected} (wrong ${o.heldWrong}), conf ${o.res.confidence.toFixed(3)}` +
      `, offset ${o.res.offset.toFixed(4)} s, rate ${o.res.rate.toFixed(4)}` +
      `, band ${o.res.bandWidth.toFixed(1)}`,
  );
}

function assertGood(o: Outcome, offset: number, bgFps: number, rate = 1): void {
  assert.ok(o.exact >= 0.99, `exact ${o.exact}`);
  assert.ok(o.maxOff <= 1, `max off ${o.maxOff}`);
  assert.equal(o.heldWrong, 0);
  assert.ok(o.res.confidence > 0.8, `confidence ${o.res.confidence}`);
  assert.ok(Math.abs(o.res.offset - offset) <= 1 / bgFps + 1e-9, `offset ${o.res.offset}`);
  assert.ok(Math.abs(o.res.rate - rate) < 0.002, `rate ${o.res.rate}`);
  assert.equal(o.res.neighbourSearch, "exact");
}

const master = (fps: number, seed = 100): MasterSpec => ({ fps, shots: shots(seed), grain: 2 });

Deno.test("temporal: fg 24 fps onto bg 30 fps with extra bg before and after", () => {
  const o = scenario(
    master(120),
    { fps: 24, start: 2, frames: 24 * 13, degradation: FG_GRADE },
    { fps: 30, start: 0.5, frames: 30 * 16, degradation: BG_GRADE },
  );
  report("24 fg → 30 bg, trimmed", o);
  assertGood(o, 1.5, 30);
  assert.equal(o.heldExpected, 0);
});

Deno.test("temporal: fg 30 fps onto bg 24 fps; fg starts before and ends after bg", () => {
  const o = scenario(
    master(120, 200),
    { fps: 30, start: 0.2, frames: 30 * 16.5, degradation: FG_GRADE },
    { fps: 24, start: 2, frames: 24 * 13, degradation: BG_GRADE },
  );
  report("30 fg → 24 bg, held both ends", o);
  assertGood(o, -1.8, 24);
  assert.ok(o.heldExpected > 80);
  assert.equal(o.res.held[0], 1);
  assert.equal(o.res.held[o.res.held.length - 1], 2);
});

Deno.test("temporal: 25→30 fps (exact half-frame ties), 10→25 and 25→10 fps", () => {
  const cases: [string, number, number, number][] = [
    ["25 fg → 30 bg", 25, 30, 150],
    ["10 fg → 25 bg", 10, 25, 50],
    ["25 fg → 10 bg", 25, 10, 50],
  ];
  for (const [name, ff, bf, mf] of cases) {
    const o = scenario(
      master(mf, 300),
      { fps: ff, start: 1.5, frames: Math.round(ff * 11), degradation: FG_GRADE },
      { fps: bf, start: 0.5, frames: Math.round(bf * 13), degradation: BG_GRADE },
    );
    report(name, o);
    assertGood(o, 1, bf);
  }
});

Deno.test("temporal: dropped/duplicated bg frames and variable-frame-rate fg", () => {
  const o = scenario(
    master(120, 400),
    { fps: 30, start: 2, frames: 30 * 13, degradation: FG_GRADE, vfrDrop: 0.15, vfrSeed: 4 },
    {
      fps: 30,
      start: 0.5,
      frames: 30 * 16,
      degradation: BG_GRADE,
      drops: [60, 120, 150, 400, 440],
      dups: [90, 135, 170, 420],
    },
  );
  report("VFR fg, bg drops+dups", o);
  assertGood(o, 1.5, 30);
});

Deno.test("temporal: edits — fg skips a bg segment; bg lacks an fg segment", () => {
  const a = scenario(
    master(30, 500),
    { fps: 30, start: 1, frames: 30 * 11, degradation: FG_GRADE, jumps: [{ at: 100, seconds: 4 }] },
    { fps: 30, start: 0.5, frames: 30 * 16.5, degradation: BG_GRADE },
  );
  report("fg edit (4 s removed)", a);
  assert.ok(a.exact >= 0.99 && a.maxOff <= 1, `exact ${a.exact} off ${a.maxOff}`);
  assert.ok(a.res.confidence > 0.8);
  const b = scenario(
    master(30, 600),
    { fps: 30, start: 1, frames: 30 * 14, degradation: FG_GRADE },
    {
      fps: 30,
      start: 0.5,
      frames: 30 * 14.5,
      degradation: BG_GRADE,
      jumps: [{ at: 120, seconds: 1.5 }],
    },
  );
  report("bg missing 1.5 s", b);
  assert.ok(b.exact >= 0.99 && b.maxOff <= 1, `exact ${b.exact} off ${b.maxOff}`);
  assert.equal(b.res.rate, 1);
});

Deno.test("temporal: unrelated footage gets a low confidence", () => {
  const c1 = new MasterClip(master(30, 700));
  const c2 = new MasterClip(master(30, 800));
  const fg = embedClip(c1, { fps: 30, start: 0, frames: 300, degradation: FG_GRADE });
  const bg = embedClip(c2, { fps: 30, start: 0, frames: 450, degradation: BG_GRADE });
  const res = alignRecorded({
    fg: fg.store,
    fgTimes: fg.d.times,
    bg: bg.store,
    bgTimes: bg.d.times,
  });
  const sorted = Array.from(res.scores).sort((x, y) => x - y);
  console.log(
    `unrelated: confidence ${res.confidence.toFixed(3)}, median score ${
      sorted[sorted.length >> 1].toFixed(3)
    }`,
  );
  assert.ok(res.confidence < 0.3, `confidence ${res.confidence}`);
  for (let i = 1; i < res.map.length; i++) assert.ok(res.map[i] >= res.map[i - 1]);
});

Deno.test("temporal: tiny inputs", () => {
  const one = new EmbeddingStore(1, 8);
  one.push(new Int8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  const r = alignRecorded({
    fg: one,
    fgTimes: new Float64Array([0]),
    bg: one,
    bgTimes: new Float64Array([0]),
  });
  assert.deepEqual(Array.from(r.map), [0]);
  assert.deepEqual(Array.from(r.held), [0]);
  const bg = new EmbeddingStore(3, 8);
  for (let k = 0; k < 3; k++) bg.push(new Int8Array([k, 1, -k, 2, 3, k * k, 0, 1]));
  const r2 = alignRecorded({
    fg: bg,
    fgTimes: new Float64Array([0, 0.04, 0.08]),
    bg,
    bgTimes: new Float64Array([0, 0.04, 0.08]),
  });
  assert.deepEqual(Array.from(r2.map), [0, 1, 2]);
  const times = new Float64Array([0, 0.04, 0.08]);
  assert.throws(
    () => alignTemporal({ fg: bg, fgTimes: new Float64Array([0, 1]), bg, bgTimes: times }),
    RangeError,
  );
  assert.throws(
    () => alignTemporal({ fg: bg, fgTimes: new Float64Array([0, 1, 0.5]), bg, bgTimes: times }),
    RangeError,
  );
});

Deno.test("temporal: 20 000 × 24 000 frames in O(N·band) time and memory", () => {
  const N = 20000, M = 24000, dim = EMBED_DIM;
  const fgD = deriveClip(
    { fps: 30, start: 60, frames: N, degradation: FG_GRADE },
    30,
    M + 10,
  );
  const bgD = deriveClip(
    {
      fps: 30,
      start: 0,
      frames: M,
      degradation: BG_GRADE,
      drops: [5000, 9000, 15000],
      dups: [7000, 12000],
    },
    30,
    M + 10,
  );
  const [fe, be] = latentEmbeddings({ dim, rho: 0.99, seed: 17, frozen: [[10000, 10300]] }, [
    { master: fgD.master, noise: 0.1, seed: 1 },
    { master: bgD.master, noise: 0.1, seed: 2 },
  ]);
  const fg = EmbeddingStore.fromArray(fe, dim), bg = EmbeddingStore.fromArray(be, dim);
  const t0 = performance.now();
  const res = alignRecorded({ fg, fgTimes: fgD.times, bg, bgTimes: bgD.times });
  const ms = performance.now() - t0;
  let exact = 0, maxOff = 0, n = 0;
  for (let i = 0; i < N; i++) {
    let best = Infinity;
    // bg master indices are near-monotone: search a small window around the expected frame
    const guess = Math.min(M - 1, Math.max(0, i + 1800));
    for (let k = Math.max(0, guess - 10); k < Math.min(M, guess + 10); k++) {
      best = Math.min(best, Math.abs(bgD.master[k] - fgD.master[i]));
    }
    let off = Infinity;
    for (let k = Math.max(0, guess - 10); k < Math.min(M, guess + 10); k++) {
      if (Math.abs(bgD.master[k] - fgD.master[i]) === best) {
        off = Math.min(off, Math.abs(k - res.map[i]));
      }
    }
    n++;
    if (off === 0) exact++;
    maxOff = Math.max(maxOff, off);
  }
  console.log(
    `20k×24k: ${ms.toFixed(0)} ms, exact ${(100 * exact / n).toFixed(2)}%, max off ${maxOff}, ` +
      `band ${res.bandWidth.toFixed(1)} frames, ${res.cells} cells (N×M would be ${N * M}), ` +
      `strides ${res.coarseStride}/${res.coarseBgStride}, confidence ${res.confidence.toFixed(3)}`,
  );
  assert.ok(exact / n >= 0.99 && maxOff <= 1);
  assert.ok(res.cells < N * 100, "fine pass must stay inside the band");
  assert.ok(Math.abs(res.offset - 60) < 0.05 && res.rate === 1);
  assert.ok(ms < 30000, `took ${ms} ms`);
});

Deno.test("temporal: alignTemporalAsync (CPU and WGSL band distances) equals alignTemporal", async () => {
  // this file's synthetic pairs (all of them when run unfiltered), plus one more
  const clip = new MasterClip(master(120, 400));
  const fg = embedClip(clip, {
    fps: 30,
    start: 2,
    frames: 30 * 13,
    degradation: FG_GRADE,
    vfrDrop: 0.15,
    vfrSeed: 4,
  });
  const bg = embedClip(clip, {
    fps: 24,
    start: 0.5,
    frames: 24 * 16,
    degradation: BG_GRADE,
    drops: [60, 120, 150],
    dups: [90, 135, 170],
  });
  alignRecorded({ fg: fg.store, fgTimes: fg.d.times, bg: bg.store, bgTimes: bg.d.times });
  const cpu = new CpuBandDistance();
  const g = gpu ? (await GpuDtwDistance.create({ context: gpu }))! : null;
  try {
    for (const [k, { input, want }] of recorded.entries()) {
      const what = `pair ${k} (${input.fg.count} × ${input.bg.count})`;
      assert.deepEqual(await alignTemporalAsync(input, { distance: cpu }), want, `cpu, ${what}`);
      if (!g) continue; // (gpuForTests printed why)
      const got = await alignTemporalAsync(input, { distance: g });
      assert.ok(g.lastRoundTrips >= 1, what);
      assert.deepEqual(got, want, `webgpu, ${what}`);
    }
  } finally {
    g?.destroy();
  }
});
