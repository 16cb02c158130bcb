// CPU twins against the production CPU code (no GPU needed).
import assert from "node:assert/strict";
import { EMBED_DIM, embedFrame, embedFrameReference } from "../embed.ts";
import { dotInt8 } from "../embedding_store.ts";
import { Fft2D } from "../fft.ts";
import { phaseCorrelateCpu, phaseCorrelateTwin } from "./fft_gpu.ts";
import {
  batchDistanceCpu,
  embedConvCpu,
  embedNetWeights,
  factorRank1,
  fft2dConfigs,
  fftLinesCpu,
  l2NormQuantizeCpu,
  makeTwiddles,
  packBandRows,
} from "./kernels_cpu.ts";
import { makeThumbs, maxIntDiff, relErr, rng } from "./test_util.ts";

Deno.test("embed twin (embed_conv + l2norm) matches embedFrameReference and embedFrame", () => {
  const n = 12;
  const thumbs = makeThumbs(n, 5);
  const pooled = new Float32Array(n * EMBED_DIM);
  const unit = new Float32Array(n * EMBED_DIM);
  const q = new Int8Array(n * EMBED_DIM);
  embedConvCpu(thumbs, n, embedNetWeights(), pooled);
  l2NormQuantizeCpu(pooled, n, EMBED_DIM, 127, unit, q);
  const cpu = new Int8Array(EMBED_DIM);
  for (let f = 0; f < n; f++) {
    const t = thumbs.subarray(f * 4096, (f + 1) * 4096);
    const ref = embedFrameReference(t);
    const e = relErr(unit, ref, EMBED_DIM, f * EMBED_DIM);
    assert.ok(e <= 1e-4, `frame ${f}: relative error ${e}`);
    embedFrame(t, cpu);
    assert.ok(maxIntDiff(q.subarray(f * EMBED_DIM, (f + 1) * EMBED_DIM), cpu) <= 1, `frame ${f}`);
  }
  assert.ok(unit.subarray(EMBED_DIM, 2 * EMBED_DIM).every((v) => v === 0), "flat frame → zeros");
});

Deno.test("factorRank1 accepts the filter bank and rejects a non-separable filter", () => {
  const w = embedNetWeights();
  assert.equal(w.row.length, 20);
  const f = new Float64Array(25).map((_, i) => (i % 7) - 3);
  assert.equal(factorRank1(f, 5), null);
  const sep = new Float64Array(25).map((_, i) => (Math.floor(i / 5) + 1) * ((i % 5) - 2));
  const fac = factorRank1(sep, 5)!;
  for (let i = 0; i < 25; i++) {
    assert.ok(Math.abs(fac.col[Math.floor(i / 5)] * fac.row[i % 5] - sep[i]) < 1e-12);
  }
});

Deno.test("fft twin (Stockham lines) matches src/fft.ts, forward and inverse", () => {
  const r = rng(3);
  for (const [w, h] of [[2, 2], [64, 16], [32, 128]]) {
    const images = 3, size = w * h;
    const data = new Float32Array(2 * images * size).map(() => r() * 2 - 1);
    const re = new Float64Array(images * size), im = new Float64Array(images * size);
    for (let i = 0; i < images * size; i++) {
      re[i] = data[2 * i];
      im[i] = data[2 * i + 1];
    }
    const tw = makeTwiddles(Math.max(w, h));
    const fwd = fft2dConfigs(w, h, images, false);
    fftLinesCpu(data, fwd.rows, tw);
    fftLinesCpu(data, fwd.cols, tw);
    const fft = new Fft2D(w, h);
    const got = new Float64Array(2 * size), want = new Float64Array(2 * size);
    for (let k = 0; k < images; k++) {
      const r2 = re.subarray(k * size, (k + 1) * size), i2 = im.subarray(k * size, (k + 1) * size);
      fft.forward(r2, i2);
      for (let i = 0; i < size; i++) {
        want[2 * i] = r2[i];
        want[2 * i + 1] = i2[i];
        got[2 * i] = data[2 * (k * size + i)];
        got[2 * i + 1] = data[2 * (k * size + i) + 1];
      }
      assert.ok(relErr(got, want) <= 1e-5, `${w}x${h} image ${k}: ${relErr(got, want)}`);
    }
    const inv = fft2dConfigs(w, h, images, true);
    fftLinesCpu(data, inv.rows, tw);
    fftLinesCpu(data, inv.cols, tw);
    for (let k = 0; k < images; k++) {
      const r2 = re.subarray(k * size, (k + 1) * size), i2 = im.subarray(k * size, (k + 1) * size);
      fft.inverse(r2, i2);
      for (let i = 0; i < size; i++) {
        assert.ok(Math.abs(data[2 * (k * size + i)] - r2[i]) < 1e-5);
        assert.ok(Math.abs(data[2 * (k * size + i) + 1] - i2[i]) < 1e-5);
      }
    }
  }
});

Deno.test("phase correlation: twin pipeline matches the src/fft.ts path and finds the shift", () => {
  const W = 48, H = 40, pairs = 3;
  const r = rng(9);
  const base = new Float32Array(64 * 64).map(() => r() * 255);
  const a = new Float32Array(pairs * W * H), b = new Float32Array(pairs * W * H);
  const shifts = [[3, -2], [-7, 5], [0, 0]];
  for (let p = 0; p < pairs; p++) {
    const [sx, sy] = shifts[p];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        a[p * W * H + y * W + x] = base[(y + 10) * 64 + x + 10];
        b[p * W * H + y * W + x] = base[(y + 10 - sy) * 64 + x + 10 - sx];
      }
    }
  }
  const sc = new Float32Array(pairs * 64 * 64), st = new Float32Array(pairs * 64 * 64);
  const cpu = phaseCorrelateCpu(a, b, pairs, W, H, {}, sc);
  const twin = phaseCorrelateTwin(a, b, pairs, W, H, {}, st);
  assert.ok(relErr(st, sc) <= 1e-4, `surface ${relErr(st, sc)}`);
  assert.deepEqual([...twin.dx], [...cpu.dx]);
  assert.deepEqual([...twin.dy], [...cpu.dy]);
  // a(x + dx) = b(x) with b(x) = base(x - s)  ⇒  dx = -s
  assert.deepEqual([...cpu.dx], shifts.map((s) => s[0] === 0 ? 0 : -s[0]));
  assert.deepEqual([...cpu.dy], shifts.map((s) => s[1] === 0 ? 0 : -s[1]));
});

Deno.test("band distance twin equals dotInt8 (and scaled cosines)", () => {
  const dim = 64, na = 9, nb = 13;
  const r = rng(4);
  const a = new Int8Array(na * dim).map(() => Math.floor(r() * 255) - 127);
  const b = new Int8Array(nb * dim).map(() => Math.floor(r() * 255) - 127);
  const band = packBandRows([0, 3, 8, 5], [0, 2, 12, 7], [4, 2, 12, 6]); // last row empty
  assert.equal(band.total, 5 + 1 + 1 + 0);
  const out = new Float32Array(band.total);
  batchDistanceCpu(a, b, dim, band, null, null, out);
  let o = 0;
  for (const [i, lo, hi] of [[0, 0, 4], [3, 2, 2], [8, 12, 12]]) {
    for (let j = lo; j <= hi; j++) assert.equal(out[o++], dotInt8(a, i * dim, b, j * dim, dim));
  }
  const ia = new Float32Array(na).fill(0.5), ib = new Float32Array(nb).fill(0.25);
  batchDistanceCpu(a, b, dim, band, ia, ib, out);
  assert.equal(out[0], Math.fround(dotInt8(a, 0, b, 0, dim) * 0.125));
});
