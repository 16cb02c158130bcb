import assert from "node:assert/strict";
import { rng } from "./gpu/test_util.ts";
import { fft, Fft2D, getFft, ifft, isPowerOfTwo, nextPowerOfTwo } from "./fft.ts";

function naiveDft(
  re: Float64Array,
  im: Float64Array,
  inverse: boolean,
): [Float64Array, Float64Array] {
  const n = re.length;
  const or = new Float64Array(n), oi = new Float64Array(n);
  const sign = inverse ? 1 : -1;
  for (let k = 0; k < n; k++) {
    let sr = 0, si = 0;
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * j * k) / n;
      sr += re[j] * Math.cos(a) - im[j] * Math.sin(a);
      si += re[j] * Math.sin(a) + im[j] * Math.cos(a);
    }
    or[k] = sr;
    oi[k] = si;
  }
  return [or, oi];
}

/** The forward 2D DFT of a `w x h` grid, straight from the definition. */
function naiveDft2D(
  re: Float64Array,
  im: Float64Array,
  w: number,
  h: number,
): [Float64Array, Float64Array] {
  const er = new Float64Array(w * h), ei = new Float64Array(w * h);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      let sr = 0, si = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const a = -2 * Math.PI * (u * x / w + v * y / h);
          sr += re[y * w + x] * Math.cos(a) - im[y * w + x] * Math.sin(a);
          si += re[y * w + x] * Math.sin(a) + im[y * w + x] * Math.cos(a);
        }
      }
      er[v * w + u] = sr;
      ei[v * w + u] = si;
    }
  }
  return [er, ei];
}

function maxDiff(a: Float64Array, b: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("power-of-two helpers", () => {
  assert.equal(isPowerOfTwo(1), true);
  assert.equal(isPowerOfTwo(64), true);
  assert.equal(isPowerOfTwo(48), false);
  assert.equal(isPowerOfTwo(0), false);
  assert.equal(nextPowerOfTwo(1), 1);
  assert.equal(nextPowerOfTwo(135), 256);
  assert.equal(nextPowerOfTwo(256), 256);
  assert.throws(() => getFft(12));
});

Deno.test("1D FFT matches a naive DFT (forward and inverse)", () => {
  const r = rng(1);
  for (const n of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) {
    const re = new Float64Array(n), im = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      re[i] = r() * 2 - 1;
      im[i] = r() * 2 - 1;
    }
    const [er, ei] = naiveDft(re, im, false);
    const fr = re.slice(), fi = im.slice();
    fft(fr, fi);
    assert.ok(maxDiff(fr, er) < 1e-9 * n, `re n=${n}`);
    assert.ok(maxDiff(fi, ei) < 1e-9 * n, `im n=${n}`);
    const [ir, ii] = naiveDft(re, im, true);
    const gr = re.slice(), gi = im.slice();
    getFft(n).transform(gr, gi, true);
    assert.ok(maxDiff(gr, ir) < 1e-9 * n && maxDiff(gi, ii) < 1e-9 * n, `inverse n=${n}`);
    ifft(fr, fi);
    assert.ok(maxDiff(fr, re) < 1e-12 * n && maxDiff(fi, im) < 1e-12 * n, `roundtrip n=${n}`);
  }
});

Deno.test("1D FFT with an offset leaves the rest untouched", () => {
  const r = rng(2);
  const re = new Float64Array(24), im = new Float64Array(24);
  for (let i = 0; i < 24; i++) re[i] = r();
  const [er, ei] = naiveDft(re.slice(8, 16), im.slice(8, 16), false);
  const before = re.slice();
  getFft(8).transform(re, im, false, 8);
  assert.ok(maxDiff(re.slice(8, 16), er) < 1e-9 && maxDiff(im.slice(8, 16), ei) < 1e-9);
  assert.deepEqual(re.slice(0, 8), before.slice(0, 8));
  assert.deepEqual(re.slice(16), before.slice(16));
});

Deno.test("2D FFT matches a naive 2D DFT; partial rows options agree", () => {
  const r = rng(3);
  const w = 16, h = 8;
  const re = new Float64Array(w * h), im = new Float64Array(w * h);
  const usedRows = 5;
  for (let y = 0; y < usedRows; y++) for (let x = 0; x < w; x++) re[y * w + x] = r() * 10;
  const [er, ei] = naiveDft2D(re, im, w, h);
  const plan = new Fft2D(w, h);
  const fr = re.slice(), fi = im.slice();
  plan.forward(fr, fi);
  assert.ok(maxDiff(fr, er) < 1e-8 && maxDiff(fi, ei) < 1e-8);
  const pr = re.slice(), pi = im.slice();
  plan.forward(pr, pi, usedRows);
  assert.ok(maxDiff(pr, er) < 1e-8 && maxDiff(pi, ei) < 1e-8);
  // inverse of the first 3 rows only
  plan.inverse(pr, pi, 3);
  assert.ok(maxDiff(pr.slice(0, 3 * w), re.slice(0, 3 * w)) < 1e-10);
  assert.ok(maxDiff(pi.slice(0, 3 * w), im.slice(0, 3 * w)) < 1e-10);
  plan.inverse(fr, fi);
  assert.ok(maxDiff(fr, re) < 1e-10 && maxDiff(fi, im) < 1e-10);
});

Deno.test("2D FFT matches a naive 2D DFT on grids with odd and even numbers of stages", () => {
  const r = rng(5);
  for (const [w, h] of [[1, 4], [2, 1], [4, 2], [8, 32], [32, 8], [2, 64], [64, 16]]) {
    const re = new Float64Array(w * h).map(() => r() * 2 - 1);
    const im = new Float64Array(w * h).map(() => r() * 2 - 1);
    const [er, ei] = naiveDft2D(re, im, w, h);
    const plan = new Fft2D(w, h);
    const fr = re.slice(), fi = im.slice();
    plan.forward(fr, fi);
    assert.ok(maxDiff(fr, er) < 1e-9 * w * h && maxDiff(fi, ei) < 1e-9 * w * h, `${w}x${h}`);
    plan.inverse(fr, fi);
    assert.ok(maxDiff(fr, re) < 1e-10 && maxDiff(fi, im) < 1e-10, `inverse ${w}x${h}`);
  }
});

Deno.test("2D FFT skips zero columns / unneeded output columns correctly", () => {
  const r = rng(4);
  const w = 16, h = 16;
  const re = new Float64Array(w * h), im = new Float64Array(w * h);
  // only the first 2 columns are non-zero: columns-first forward path
  for (let y = 0; y < h; y++) for (let x = 0; x < 2; x++) re[y * w + x] = r();
  const plan = new Fft2D(w, h);
  const a = re.slice(), ai = im.slice();
  plan.forward(a, ai);
  const b = re.slice(), bi = im.slice();
  plan.forward(b, bi, h, 2);
  assert.ok(maxDiff(a, b) < 1e-9 && maxDiff(ai, bi) < 1e-9);
  // only the first 3 output columns needed: rows-first inverse path
  plan.inverse(b, bi, h, 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < 3; x++) {
      assert.ok(Math.abs(b[y * w + x] - re[y * w + x]) < 1e-10);
      assert.ok(Math.abs(bi[y * w + x]) < 1e-10);
    }
  }
});
