import assert from "node:assert/strict";
import {
  channelMix,
  CONV_K,
  cosineInt8,
  EMBED_DIM,
  EMBED_H,
  EMBED_LAYERS,
  EMBED_W,
  embedFrame,
  embedFrameReference,
  embedFrames,
  filterBank,
} from "./embed.ts";
import {
  type Degradation,
  degrade,
  MasterClip,
  mulberry32,
  SYNTH_SIDE,
} from "./synth_video_fixture.ts";

const PX = EMBED_W * EMBED_H;

function randomThumb(seed: number): Uint8Array {
  const r = mulberry32(seed);
  const t = new Uint8Array(PX);
  for (let y = 0; y < EMBED_H; y++) {
    for (let x = 0; x < EMBED_W; x++) {
      t[y * EMBED_W + x] = Math.round(
        110 + 60 * Math.sin(x * 0.21 + y * 0.07 + seed) + 30 * Math.cos(y * 0.3) + 20 * r(),
      );
    }
  }
  return t;
}

Deno.test("embed: constants and layer spec use only export-friendly ops", () => {
  assert.deepEqual(EMBED_DIM, 512);
  assert.ok(EMBED_DIM <= 512);
  const allowed = new Set([
    "InstanceNorm",
    "Conv",
    "Relu",
    "AveragePool",
    "Flatten",
    "L2Normalize",
    "QuantizeMaxAbs",
  ]);
  for (const l of EMBED_LAYERS) assert.ok(allowed.has(l.op), l.op);
  const w = filterBank();
  const kk = CONV_K * CONV_K;
  assert.deepEqual(w.length, 4 * kk);
  let sum = 0;
  for (let i = 0; i < kk; i++) {
    assert.deepEqual(w[kk + i], -w[i]); // sign-split pairs
    assert.deepEqual(w[3 * kk + i], -w[2 * kk + i]);
    sum += w[i];
  }
  assert.ok(Math.abs(sum) < 1e-6); // derivative filters ignore flat regions
  assert.deepEqual(Array.from(channelMix()), [1, 1, 0, 0, 0, 0, 1, 1]);
});

Deno.test("embed: fast path matches the literal layer-by-layer reference", () => {
  const out = new Int8Array(EMBED_DIM);
  for (let s = 1; s <= 4; s++) {
    const t = randomThumb(s);
    embedFrame(t, out);
    const ref = embedFrameReference(t);
    let maxAbs = 0;
    for (const v of ref) maxAbs = Math.max(maxAbs, Math.abs(v));
    for (let i = 0; i < EMBED_DIM; i++) {
      assert.ok(Math.abs(out[i] - (ref[i] * 127) / maxAbs) <= 0.5 + 1e-3, `component ${i}`);
    }
  }
});

Deno.test("embed: flat frames give the zero vector; grading barely changes the embedding", () => {
  const out = new Int8Array(EMBED_DIM).fill(7);
  embedFrame(new Uint8Array(PX).fill(77), out);
  assert.ok(out.every((v) => v === 0));
  const t = randomThumb(9);
  const graded = t.map((v) => Math.min(255, Math.round(v * 0.7 + 40)));
  const a = new Int8Array(EMBED_DIM), b = new Int8Array(EMBED_DIM);
  embedFrame(t, a);
  embedFrame(graded, b);
  assert.ok(cosineInt8(a, 0, b, 0) > 0.995, `cos ${cosineInt8(a, 0, b, 0)}`);
});

Deno.test("embed: batched embedding equals per-frame embedding, with offsets", () => {
  const thumbs = new Uint8Array(3 * PX);
  for (let k = 0; k < 3; k++) thumbs.set(randomThumb(20 + k), k * PX);
  const all = embedFrames(thumbs);
  assert.deepEqual(all.length, 3 * EMBED_DIM);
  const one = new Int8Array(EMBED_DIM + 5);
  embedFrame(thumbs.subarray(PX, 2 * PX), one, 5);
  assert.deepEqual(Array.from(one.subarray(5)), Array.from(all.subarray(EMBED_DIM, 2 * EMBED_DIM)));
});

Deno.test("embed: speed (frames/s on one core)", () => {
  const n = 64;
  const thumbs = new Uint8Array(n * PX);
  for (let k = 0; k < n; k++) thumbs.set(randomThumb(100 + k), k * PX);
  const out = new Int8Array(n * EMBED_DIM);
  embedFrames(thumbs, out); // warm-up
  const frames = 3000;
  const t0 = performance.now();
  for (let f = 0; f < frames; f++) {
    embedFrame(thumbs.subarray((f % n) * PX, (f % n + 1) * PX), out, (f % n) * EMBED_DIM);
  }
  const fps = frames / ((performance.now() - t0) / 1000);
  console.log(`embedFrame: ${fps.toFixed(0)} frames/s (64x64 → ${EMBED_DIM} int8)`);
  assert.ok(fps > 500, `too slow: ${fps}`);
});

// ---- CNN vs plain pixels on synthetic footage ----

/** Baseline: 16×16 area-averaged pixels, normalised (mean 0), max-abs int8 like the CNN. */
function pixelEmbed(thumb: Uint8Array, out: Int8Array): void {
  const v = new Float64Array(256);
  for (let y = 0; y < EMBED_H; y++) {
    for (let x = 0; x < EMBED_W; x++) v[(y >> 2) * 16 + (x >> 2)] += thumb[y * EMBED_W + x];
  }
  let m = 0;
  for (const q of v) m += q;
  m /= 256;
  let mx = 0;
  for (let i = 0; i < 256; i++) {
    v[i] -= m;
    mx = Math.max(mx, Math.abs(v[i]));
  }
  for (let i = 0; i < 256; i++) out[i] = mx > 0 ? Math.round((v[i] * 127) / mx) : 0;
}

interface Discrimination {
  /** % of frames whose degraded copy is closer to the right frame than to both neighbours. */
  win: number;
  /** Mean cos(self) − max cos(neighbours). */
  gap: number;
}

function discrimination(
  fg: Int8Array,
  bg: Int8Array,
  dim: number,
  lo: number,
  hi: number,
): Discrimination {
  let win = 0, gap = 0;
  for (let t = lo; t < hi; t++) {
    const self = cosineInt8(fg, t * dim, bg, t * dim, dim);
    const nb = Math.max(
      cosineInt8(fg, t * dim, bg, (t - 1) * dim, dim),
      cosineInt8(fg, t * dim, bg, (t + 1) * dim, dim),
    );
    if (self > nb) win++;
    gap += self - nb;
  }
  return { win: (100 * win) / (hi - lo), gap: gap / (hi - lo) };
}

Deno.test("embed: CNN discriminates adjacent frames better than downscaled pixels", () => {
  // Shots panning at 0.07, 0.2, 0.67 and 2 px/frame (30 fps), over three textures.
  const speeds = [2, 6, 20, 60];
  const shotLen = 40;
  const encodes: [string, Degradation, Degradation][] = [
    [
      "graded+blur / graded+quant",
      { gain: 1.1, bias: -10, gamma: 0.9, blur: 0.4, noise: 3, quant: 2, seed: 3 },
      { gain: 0.85, bias: 15, gamma: 1.15, blur: 0, noise: 2, quant: 4, seed: 5, scale: 1.004 },
    ],
    [
      "heavy: blur+noise 7 / quant 8",
      { gain: 1.2, bias: -5, gamma: 0.8, blur: 1, noise: 7, quant: 4, seed: 7 },
      { gain: 0.8, bias: 20, gamma: 1.2, blur: 0.3, noise: 4, quant: 8, seed: 9 },
    ],
  ];
  const frame = new Float32Array(SYNTH_SIDE * SYNTH_SIDE);
  const scratch = new Float32Array(SYNTH_SIDE * SYNTH_SIDE);
  const thumb = new Uint8Array(SYNTH_SIDE * SYNTH_SIDE);
  const rows: string[] = [];
  let cnnSlow = 0, pixSlow = 0, cnnAll = 0, pixAll = 0, cells = 0;
  for (const [name, da, db] of encodes) {
    const sum = { cnn: [0, 0, 0, 0], pix: [0, 0, 0, 0], cg: [0, 0, 0, 0], pg: [0, 0, 0, 0] };
    const textures = [11, 31, 51];
    for (const tex of textures) {
      const clip = new MasterClip({
        fps: 30,
        grain: 2,
        shots: speeds.map((v, k) => ({
          duration: shotLen / 30,
          textureSeed: tex + k,
          vx: v,
          vy: v * 0.4,
          zoomRate: 0.02,
        })),
      });
      const n = clip.frameCount;
      const cnnA = new Int8Array(n * EMBED_DIM), cnnB = new Int8Array(n * EMBED_DIM);
      const pixA = new Int8Array(n * 256), pixB = new Int8Array(n * 256);
      for (let m = 0; m < n; m++) {
        clip.render(m, frame);
        degrade(frame, da, m, scratch, thumb);
        embedFrame(thumb, cnnA, m * EMBED_DIM);
        pixelEmbed(thumb, pixA.subarray(m * 256));
        degrade(frame, db, m, scratch, thumb);
        embedFrame(thumb, cnnB, m * EMBED_DIM);
        pixelEmbed(thumb, pixB.subarray(m * 256));
      }
      for (let s = 0; s < speeds.length; s++) {
        const lo = s * shotLen + 1, hi = (s + 1) * shotLen - 1;
        const c = discrimination(cnnA, cnnB, EMBED_DIM, lo, hi);
        const p = discrimination(pixA, pixB, 256, lo, hi);
        sum.cnn[s] += c.win / textures.length;
        sum.pix[s] += p.win / textures.length;
        sum.cg[s] += c.gap / textures.length;
        sum.pg[s] += p.gap / textures.length;
      }
    }
    for (let s = 0; s < speeds.length; s++) {
      const pxPerFrame = (speeds[s] / 30).toFixed(2);
      rows.push(
        `${name.padEnd(30)} ${pxPerFrame} px/f | CNN win ${
          sum.cnn[s].toFixed(0).padStart(3)
        }% gap ${sum.cg[s].toFixed(5)} | pixels win ${sum.pix[s].toFixed(0).padStart(3)}% gap ${
          sum.pg[s].toFixed(5)
        }`,
      );
      if (s < 2) {
        cnnSlow += sum.cnn[s];
        pixSlow += sum.pix[s];
      }
      cnnAll += sum.cnn[s];
      pixAll += sum.pix[s];
      cells++;
    }
  }
  console.log(
    "adjacent-frame discrimination, fg encode vs bg encode of the same master frames\n" +
      "(win = degraded frame closer to its true frame than to both neighbours; 3 textures):\n" +
      rows.join("\n"),
  );
  console.log(
    `mean win-rate: slow shots CNN ${(cnnSlow / 4).toFixed(1)}% vs pixels ${
      (pixSlow / 4).toFixed(1)
    }%; all CNN ${(cnnAll / cells).toFixed(1)}% vs pixels ${(pixAll / cells).toFixed(1)}%`,
  );
  assert.ok(cnnSlow > pixSlow, "CNN should win on slow motion");
  assert.ok(cnnAll >= pixAll);
});
