// Parity of ncc_cross.wgsl / ncc_max.wgsl with their CPU twins, and of GpuNccCorrelator with
// CpuNccCorrelator (the src/fft.ts path). Skipped only without an adapter.
import assert from "node:assert/strict";
import { CpuNccCorrelator, type NccBatch, type NccBest } from "../ncc.ts";
import { runKernelOnce } from "./device.ts";
import {
  NCC_CROSS_PARAMS_BYTES,
  NCC_MAX_PARAMS_BYTES,
  type NccCrossConfig,
  nccCrossCpu,
  type NccMaxConfig,
  nccMaxCpu,
  packNccCrossParams,
  packNccMaxParams,
} from "./kernels_cpu.ts";
import { GpuNccCorrelator } from "./ncc_gpu.ts";
import { gpuForTests, relErr, rng } from "./test_util.ts";

const ctx = await gpuForTests("ncc_gpu_test.ts");
const ignore = ctx === null;

Deno.test({
  name: "ncc_cross.wgsl and ncc_max.wgsl match their twins",
  ignore,
  async fn() {
    const r = rng(21);
    const count = 96, pairs = 3, kCount = 2;
    const bg = new Float32Array(2 * pairs * count).map(() => r() * 2 - 1);
    const tpl = new Float32Array(2 * (kCount + 1) * count).map(() => r() * 2 - 1);
    const cc: NccCrossConfig = { count, pairs, combo0: 1, combos: 4, tplBase: 1 };
    const cp = new ArrayBuffer(NCC_CROSS_PARAMS_BYTES);
    packNccCrossParams(cc, cp);
    const [wOut] = await runKernelOnce(ctx!, "ncc_cross", [
      { kind: "uniform", data: cp },
      { kind: "input", data: bg },
      { kind: "input", data: tpl },
      { kind: "output", bytes: 8 * cc.combos * count },
    ], Math.ceil((cc.combos * count) / 256));
    const want = new Float32Array(2 * cc.combos * count);
    nccCrossCpu(bg, tpl, cc, want);
    const work = new Float32Array(wOut);
    assert.ok(relErr(work, want) <= 1e-6, `cross ${relErr(work, want)}`);

    // max: a 6 × 4 map on a 12-wide grid, 5 images (the last pair has one), two dispatches
    // (combos 1..4, then 0 of template 1 stays) with a running state in between
    const mw = 6, mh = 4, n = mw * mh, fw = 12;
    const surf = new Float32Array(2 * 4 * count).map(() => r() * 2 - 1);
    const inv = new Float32Array(6 * n).map(() => r());
    inv[3] = 0; // a flat window
    const tqi = new Float32Array([0, 0.5, 2]);
    const init = new Uint32Array(2 * kCount * n + 2);
    const initF = new Float32Array(init.buffer);
    for (let i = 1; i <= kCount * n; i++) { // entries outBase = 1 ..
      initF[2 * i] = r() - 0.5;
      init[2 * i + 1] = 99;
    }
    const mc: NccMaxConfig = {
      mw,
      mh,
      fw,
      count,
      pairs,
      pair0: 0,
      images: 5,
      combo0: 1,
      combos: 4,
      kCount,
      invBase: 0,
      tqiBase: 1,
      outBase: 1,
    };
    const mp = new ArrayBuffer(NCC_MAX_PARAMS_BYTES);
    packNccMaxParams(mc, mp);
    const [mOut] = await runKernelOnce(ctx!, "ncc_max", [
      { kind: "uniform", data: mp },
      { kind: "input", data: surf },
      { kind: "input", data: inv },
      { kind: "input", data: tqi },
      { kind: "output", bytes: init.byteLength, init },
    ], Math.ceil((kCount * n) / 256));
    const wMax = new Float32Array(kCount * n + 1), wArg = new Uint32Array(kCount * n + 1);
    for (let i = 1; i <= kCount * n; i++) {
      wMax[i] = initF[2 * i];
      wArg[i] = init[2 * i + 1];
    }
    // the twin works on separate arrays at outBase = 1; the kernel on (value, arg) pairs
    nccMaxCpu(surf, inv, tqi, mc, wMax, wArg);
    const gu = new Uint32Array(mOut), gf = new Float32Array(mOut);
    for (let i = 0; i < kCount * n; i++) {
      const o = 2 * (i + 1);
      assert.ok(Math.abs(gf[o] - wMax[i + 1]) <= 1e-6, `max ${i}: ${gf[o]} vs ${wMax[i + 1]}`);
      assert.equal(gu[o + 1], wArg[i + 1], `arg ${i}`);
    }
    // template 0 covers combos 0..2: combo 0 is outside this dispatch, so its state was read
    assert.ok([...wArg.subarray(1, n + 1)].some((a) => a === 99 || a >= 2));
  },
});

/** Smooth random images (like band-passed frames), `count` of `w × h`. */
function images(count: number, w: number, h: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: count }, () => {
    const raw = new Float32Array(w * h).map(() => r() * 100);
    const out = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy)),
              xx = Math.min(w - 1, Math.max(0, x + dx));
            s += raw[yy * w + xx];
          }
        }
        out[y * w + x] = s / 9 - 50;
      }
    }
    return out;
  });
}

function crop(
  im: Float32Array,
  iw: number,
  x: number,
  y: number,
  w: number,
  h: number,
  noise: () => number,
): Float32Array {
  const o = new Float32Array(w * h);
  for (let j = 0; j < h; j++) {
    for (let i = 0; i < w; i++) o[j * w + i] = im[(y + j) * iw + x + i] + 4 * (noise() - 0.5);
  }
  return o;
}

function compare(got: (NccBest | null)[][], want: (NccBest | null)[][], what: string): void {
  assert.equal(got.length, want.length);
  want.forEach((b, bi) => {
    assert.equal(got[bi].length, b.length);
    b.forEach((c, k) => {
      const g = got[bi][k];
      const at = `${what} batch ${bi} template ${k}`;
      if (c === null) return assert.equal(g, null, at);
      assert.ok(g, at);
      assert.deepEqual([g.width, g.height], [c.width, c.height], at);
      let d = 0, mism = 0, peak = 0;
      for (let i = 0; i < c.max.length; i++) {
        d = Math.max(d, Math.abs(g.max[i] - c.max[i]));
        if (g.arg[i] !== c.arg[i]) mism++;
        if (c.max[i] > c.max[peak]) peak = i;
      }
      assert.ok(d <= 1e-5, `${at}: max |Δ| ${d}`);
      assert.ok(mism <= c.max.length / 1000, `${at}: ${mism} argmax mismatches`);
      assert.equal(g.arg[peak], c.arg[peak], `${at}: argmax at the peak`);
    });
  });
}

Deno.test({
  name: "GpuNccCorrelator matches CpuNccCorrelator (sizes, flat/null templates, split budgets)",
  ignore,
  async fn() {
    const noise = rng(5);
    for (const [W, H, B] of [[100, 60, 7], [60, 30, 5], [33, 17, 1]]) {
      const imgs = images(B, W, H, W + B);
      const tw = Math.floor(W / 3), th = Math.floor(H / 3);
      const batches: NccBatch[] = [
        {
          width: tw,
          height: th,
          templates: [
            crop(imgs[B - 1], W, 3, 2, tw, th, noise),
            null,
            new Float32Array(tw * th).fill(7), // flat: skipped
            crop(imgs[0], W, W - tw, H - th, tw, th, noise),
          ],
        },
        {
          width: tw + 5,
          height: th + 3,
          templates: [crop(imgs[B >> 1], W, 1, 4, tw + 5, th + 3, noise)],
        },
        { width: W + 1, height: th, templates: [new Float32Array((W + 1) * th)] }, // too wide
        { width: W, height: H, templates: [crop(imgs[0], W, 0, 0, W, H, noise)] }, // one placement
      ];
      const want = new CpuNccCorrelator().bestOverSync(imgs, W, H, batches);
      // default budget: one round trip; tiny budgets: several segments, chunks and groups
      for (const budgetBytes of [undefined, 40000, 20000]) {
        const g = (await GpuNccCorrelator.create({ context: ctx!, budgetBytes }))!;
        try {
          const got = await g.bestOver(imgs, W, H, batches);
          compare(got, want, `${W}x${H}×${B} budget ${budgetBytes}`);
          if (budgetBytes === undefined) assert.equal(g.lastRoundTrips, 1);
          // 64 × 32 grids (16 KiB spectra): 2 (or 1) pairs per segment, groups split
          if (W === 60) assert.ok(g.lastDispatches > 0 && g.lastRoundTrips >= 1);
          // 20000: one template spectrum (16 KiB) per group: 2 + 1 + 1 templates, 4 groups
          if (W === 60 && budgetBytes === 20000) assert.equal(g.lastRoundTrips, 4);
        } finally {
          g.destroy();
        }
      }
    }
  },
});
