// Parity of fft_radix2.wgsl, cross_power.wgsl and peak_search.wgsl with their CPU twins, and of
// the whole GPU phase correlation with the src/fft.ts path. Skipped only without an adapter.
import assert from "node:assert/strict";
import { runKernelOnce } from "./device.ts";
import { GpuPhaseCorrelator, phaseCorrelateCpu, phaseCorrelateTwin } from "./fft_gpu.ts";
import {
  CROSS_PARAMS_BYTES,
  crossPowerCpu,
  fft2dConfigs,
  FFT_PARAMS_BYTES,
  type FftLinesConfig,
  fftLinesCpu,
  fftLinesPerGroup,
  makeTwiddles,
  packCrossParams,
  packFftParams,
  packPeakParams,
  PEAK_PARAMS_BYTES,
  peakSearchCpu,
} from "./kernels_cpu.ts";
import { gpuForTests, relErr, rng } from "./test_util.ts";

const ctx = await gpuForTests("fft_gpu_test.ts");
const ignore = ctx === null;

async function gpuFft(
  data: Float32Array,
  cfg: FftLinesConfig,
  tw: Float32Array,
): Promise<Float32Array> {
  const params = new ArrayBuffer(FFT_PARAMS_BYTES);
  packFftParams(cfg, tw.length, params);
  const [out] = await runKernelOnce(ctx!, "fft_radix2", [
    { kind: "uniform", data: params },
    { kind: "output", bytes: data.byteLength, init: data },
    { kind: "input", data: tw },
  ], Math.ceil(cfg.lines / fftLinesPerGroup(cfg.n)));
  return new Float32Array(out);
}

Deno.test({
  name: "fft_radix2.wgsl matches fftLinesCpu (rows, columns, forward, inverse, n = 2 … 1024)",
  ignore,
  async fn() {
    const r = rng(1);
    for (const [w, h, images] of [[2, 4, 3], [64, 64, 2], [256, 8, 1], [16, 1024, 1]]) {
      const size = w * h;
      const tw = makeTwiddles(Math.max(w, h));
      for (const inverse of [false, true]) {
        const cfgs = fft2dConfigs(w, h, images, inverse);
        for (const cfg of [cfgs.rows, cfgs.cols]) {
          const data = new Float32Array(2 * images * size).map(() => r() * 2 - 1);
          const got = await gpuFft(data, cfg, tw);
          fftLinesCpu(data, cfg, tw);
          const e = relErr(got, data);
          assert.ok(e <= 1e-5, `${w}x${h} n=${cfg.n} inverse=${inverse}: ${e}`);
        }
      }
    }
  },
});

Deno.test({
  name: "cross_power.wgsl and peak_search.wgsl match their twins",
  ignore,
  async fn() {
    const r = rng(6);
    const count = 300, pairs = 3;
    const spec = new Float32Array(4 * pairs * count).map(() => (r() - 0.5) * 100);
    spec.fill(0, 0, 20); // zero bins: eps keeps them finite
    const eps = new Float32Array([1e-3, 0.5, 2]);
    for (const phase of [true, false]) {
      const params = new ArrayBuffer(CROSS_PARAMS_BYTES);
      packCrossParams(count, pairs, phase, params);
      const [out] = await runKernelOnce(ctx!, "cross_power", [
        { kind: "uniform", data: params },
        { kind: "input", data: spec },
        { kind: "output", bytes: 8 * pairs * count },
        { kind: "input", data: eps },
      ], Math.ceil((pairs * count) / 256));
      const want = new Float32Array(2 * pairs * count);
      crossPowerCpu(spec, count, pairs, phase, eps, want);
      const got = new Float32Array(out);
      assert.ok(relErr(got, want) <= 1e-6, `phase=${phase}: ${relErr(got, want)}`);
      assert.ok(got.every(Number.isFinite));
    }
    // peaks: random data, a tie (lowest index wins), NaNs (skipped), an all-equal image
    const images = 4, n = 1000;
    const data = new Float32Array(2 * images * n).map(() => r());
    data[2 * 700] = 5;
    data[2 * 300] = 5; // tie in image 0 → index 300
    for (let k = 0; k < n; k += 3) data[2 * (n + k)] = NaN;
    data[2 * (n + 10)] = 9;
    for (let k = 0; k < n; k++) data[2 * (3 * n + k)] = 0.25;
    const pp = new ArrayBuffer(PEAK_PARAMS_BYTES);
    packPeakParams(n, images, pp);
    const [pk] = await runKernelOnce(ctx!, "peak_search", [
      { kind: "uniform", data: pp },
      { kind: "input", data },
      { kind: "output", bytes: 8 * images },
    ], images);
    const idx = new Uint32Array(images), val = new Float32Array(images);
    peakSearchCpu(data, n, images, idx, val);
    const gu = new Uint32Array(pk), gf = new Float32Array(pk);
    for (let i = 0; i < images; i++) {
      assert.equal(gu[2 * i], idx[i], `image ${i} index`);
      assert.equal(gf[2 * i + 1], val[i], `image ${i} value`);
    }
    assert.deepEqual([...idx], [300, 10, idx[2], 0]);
  },
});

Deno.test({
  name: "GpuPhaseCorrelator matches the twin pipeline and src/fft.ts (surface and peaks)",
  ignore,
  async fn() {
    const r = rng(8);
    for (const [W, H, pairs, maxPairs] of [[64, 64, 3, 64], [100, 60, 5, 2]]) {
      const fw = 128, img = W * H;
      const base = new Float32Array(fw * fw).map(() => r() * 255);
      const a = new Float32Array(pairs * img), b = new Float32Array(pairs * img);
      for (let p = 0; p < pairs; p++) {
        const sx = 2 * p - 3, sy = 4 - p;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            a[p * img + y * W + x] = base[(y + 10) * fw + x + 10];
            b[p * img + y * W + x] = base[(y + 10 - sy) * fw + x + 10 - sx];
          }
        }
      }
      const corr = (await GpuPhaseCorrelator.create(W, H, { context: ctx!, maxPairs }))!;
      try {
        const size = corr.fftWidth * corr.fftHeight;
        const sg = new Float32Array(pairs * size), st = new Float32Array(pairs * size);
        const sc = new Float32Array(pairs * size);
        const g = await corr.correlate(a, b, pairs, {}, sg);
        const t = phaseCorrelateTwin(a, b, pairs, W, H, {}, st);
        const c = phaseCorrelateCpu(a, b, pairs, W, H, {}, sc);
        assert.ok(relErr(sg, st) <= 1e-4, `gpu vs twin ${relErr(sg, st)}`);
        assert.ok(relErr(sg, sc) <= 1e-4, `gpu vs src/fft.ts ${relErr(sg, sc)}`);
        assert.deepEqual([...g.index], [...c.index]);
        assert.deepEqual([...g.dx], [...t.dx]);
        assert.deepEqual([...g.dy], [...t.dy]);
        for (let p = 0; p < pairs; p++) {
          assert.equal(g.dx[p], 3 - 2 * p);
          assert.equal(g.dy[p], p - 4);
          assert.ok(Math.abs(g.peak[p] - c.peak[p]) <= 1e-4 * Math.abs(c.peak[p]));
        }
        const plain = await corr.correlate(a, b, pairs, { phase: false });
        const plainCpu = phaseCorrelateCpu(a, b, pairs, W, H, { phase: false });
        assert.deepEqual([...plain.index], [...plainCpu.index]);
      } finally {
        corr.destroy();
      }
    }
  },
});
