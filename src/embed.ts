/**
 * Frame embedding for temporal alignment: a tiny CNN with a designed (not learned) filter bank.
 *
 * Network (all fixed weights, see {@link EMBED_LAYERS}):
 *
 * 1. `InstanceNorm` — per-frame mean/std normalisation (brightness/contrast grade invariance).
 * 2. `Conv` 1→4, 5×5, stride 1, zero padding "same": Gaussian-derivative filters (σ = 1.2)
 *    +∂x, −∂x, +∂y, −∂y (see {@link filterBank}).
 * 3. `Relu` — the sign-split pairs become half-wave rectified edge responses.
 * 4. `Conv` 4→2, 1×1: sums each ± pair, i.e. |∂x| and |∂y| edge energy (see {@link channelMix}).
 * 5. `AveragePool` 4×4, stride 4 → 2 × 16 × 16.
 * 6. `Flatten` → 512, `L2 normalisation`, then int8 quantisation (max |v| → 127).
 *
 * Why this design: a 16×16 grid of rectified edge energy is far more sensitive to small motion
 * (adjacent frames of a slow pan) than 8×8 grids with more channels, while the Gaussian smoothing
 * and pooling keep it robust to noise, compression and grading (numbers in embed_test.ts). Two
 * channels × 256 cells fit the 512-byte budget.
 *
 * Quantisation scales each vector so that its largest |component| is 127 (instead of a fixed 127
 * times the unit vector, which wastes most of the int8 range on 512 small components and measurably
 * hurts adjacent-frame discrimination). Consequently the raw int8 dot product is NOT the cosine:
 * use {@link cosineInt8} or the norms from `EmbeddingStore.invNorms()`.
 *
 * The fast path ({@link embedFrame}) computes exactly the same function as the layer spec (verified
 * against {@link embedFrameReference} in tests) using separable passes; it allocates nothing per
 * frame.
 * @module
 */

/** Thumbnail width in pixels expected by {@link embedFrame}. */
export const EMBED_W = 64;
/** Thumbnail height in pixels expected by {@link embedFrame}. */
export const EMBED_H = 64;
/** Side of the square convolution kernels. */
export const CONV_K = 5;
/** Standard deviation (pixels) of the Gaussian underlying the derivative filters. */
export const CONV_SIGMA = 1.2;
/** Average-pooling window and stride. */
export const POOL = 4;
/** Width of the pooled grid. */
export const GRID_W = EMBED_W / POOL;
/** Height of the pooled grid. */
export const GRID_H = EMBED_H / POOL;
/** Channels after the 1×1 mixing convolution (|∂x| and |∂y| energy). */
export const EMBED_CHANNELS = 2;
/** Length of an embedding vector (int8 components), channel-major: `[c][gy][gx]`. */
export const EMBED_DIM = EMBED_CHANNELS * GRID_W * GRID_H;
/** Epsilon (in 8-bit grey levels) added to the per-frame standard deviation. */
export const NORM_EPS = 1;

/** One layer of the embedding network, in execution order (ONNX-friendly ops only). */
export type EmbedLayer =
  | { op: "InstanceNorm"; eps: number }
  | {
    op: "Conv";
    inChannels: number;
    outChannels: number;
    kernel: number;
    pad: "same";
    /** Weights `[out][in][ky][kx]`, cross-correlation (ONNX Conv semantics); no bias. */
    weights: Float32Array;
  }
  | { op: "Relu" }
  | { op: "AveragePool"; kernel: number; stride: number }
  | { op: "Flatten" }
  | { op: "L2Normalize" }
  | { op: "QuantizeMaxAbs"; max: number };

/** Normalised 1-D Gaussian taps `g` and derivative taps `d` (unit response to a unit ramp). */
function gaussianTaps(): { g: Float64Array; d: Float64Array } {
  const r = (CONV_K - 1) / 2;
  const g = new Float64Array(CONV_K);
  const d = new Float64Array(CONV_K);
  let sg = 0;
  for (let k = 0; k < CONV_K; k++) {
    const x = k - r;
    g[k] = Math.exp(-(x * x) / (2 * CONV_SIGMA * CONV_SIGMA));
    sg += g[k];
  }
  let ramp = 0;
  for (let k = 0; k < CONV_K; k++) {
    g[k] /= sg;
    d[k] = (k - r) * g[k];
    ramp += d[k] * (k - r);
  }
  for (let k = 0; k < CONV_K; k++) d[k] /= ramp;
  return { g, d };
}

const TAPS = gaussianTaps();

/**
 * The first convolution's weights, `[4][1][5][5]` float32: +∂x, −∂x, +∂y, −∂y Gaussian-derivative
 * filters (σ = {@link CONV_SIGMA}); `w[ky][kx] = g[ky]·d[kx]` for ∂x and `d[ky]·g[kx]` for ∂y.
 */
export function filterBank(): Float32Array {
  const { g, d } = TAPS;
  const kk = CONV_K * CONV_K;
  const w = new Float32Array(4 * kk);
  for (let ky = 0; ky < CONV_K; ky++) {
    for (let kx = 0; kx < CONV_K; kx++) {
      const gx = g[ky] * d[kx];
      const gy = d[ky] * g[kx];
      const o = ky * CONV_K + kx;
      w[o] = gx;
      w[kk + o] = -gx;
      w[2 * kk + o] = gy;
      w[3 * kk + o] = -gy;
    }
  }
  return w;
}

/** The 1×1 mixing convolution's weights `[2][4][1][1]`: channel 0 = relu(+∂x)+relu(−∂x), 1 = ∂y. */
export function channelMix(): Float32Array {
  return new Float32Array([1, 1, 0, 0, 0, 0, 1, 1]);
}

/** The network as an explicit, ordered layer list (for ONNX / WGSL export). */
export const EMBED_LAYERS: readonly EmbedLayer[] = [
  { op: "InstanceNorm", eps: NORM_EPS },
  { op: "Conv", inChannels: 1, outChannels: 4, kernel: CONV_K, pad: "same", weights: filterBank() },
  { op: "Relu" },
  { op: "Conv", inChannels: 4, outChannels: 2, kernel: 1, pad: "same", weights: channelMix() },
  { op: "AveragePool", kernel: POOL, stride: POOL },
  { op: "Flatten" },
  { op: "L2Normalize" },
  { op: "QuantizeMaxAbs", max: 127 },
];

// ---- fast path scratch (allocated once) ----
const PW = EMBED_W + CONV_K - 1; // horizontally padded row length
const R = (CONV_K - 1) / 2;
const padded = new Float32Array(EMBED_H * PW); // normalised image, zero columns at both sides
const hD = new Float32Array((EMBED_H + CONV_K - 1) * EMBED_W); // rows convolved with d
const hG = new Float32Array((EMBED_H + CONV_K - 1) * EMBED_W); // rows convolved with g
const pooled = new Float64Array(EMBED_DIM);

/** Normalises `thumb` into the padded scratch; returns false for a perfectly flat frame. */
function normalise(thumb: Uint8Array): boolean {
  const n = EMBED_W * EMBED_H;
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < n; i++) {
    const v = thumb[i];
    sum += v;
    sum2 += v * v;
  }
  const mean = sum / n;
  const variance = Math.max(0, sum2 / n - mean * mean);
  if (variance === 0) return false;
  const inv = 1 / Math.sqrt(variance + NORM_EPS * NORM_EPS);
  for (let y = 0; y < EMBED_H; y++) {
    const src = y * EMBED_W;
    const dst = y * PW + R;
    for (let x = 0; x < EMBED_W; x++) padded[dst + x] = (thumb[src + x] - mean) * inv;
  }
  return true;
}

/** Writes zeros for a featureless frame. */
function writeZeros(out: Int8Array, outOffset: number): void {
  out.fill(0, outOffset, outOffset + EMBED_DIM);
}

/** L2-normalises `v` and quantises it so that max |component| maps to 127. */
function quantise(v: Float64Array, out: Int8Array, outOffset: number): void {
  let maxAbs = 0;
  for (let i = 0; i < EMBED_DIM; i++) {
    const a = Math.abs(v[i]);
    if (a > maxAbs) maxAbs = a;
  }
  if (!(maxAbs > 0)) {
    writeZeros(out, outOffset);
    return;
  }
  // L2 normalisation followed by max-abs scaling reduces to one scale factor.
  const s = 127 / maxAbs;
  for (let i = 0; i < EMBED_DIM; i++) out[outOffset + i] = Math.round(v[i] * s);
}

/**
 * Embeds one grey thumbnail (`EMBED_W × EMBED_H` bytes, row-major) into
 * `out[outOffset .. outOffset + EMBED_DIM)`. A perfectly flat frame yields the zero vector.
 */
export function embedFrame(thumb: Uint8Array, out: Int8Array, outOffset = 0): void {
  if (thumb.length < EMBED_W * EMBED_H) {
    throw new RangeError(`thumbnail must hold ${EMBED_W * EMBED_H} bytes, got ${thumb.length}`);
  }
  if (!normalise(thumb)) {
    writeZeros(out, outOffset);
    return;
  }
  const { g, d } = TAPS;
  const g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4];
  const d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], d4 = d[4];
  const W = EMBED_W;
  // Horizontal pass: rows R .. R+H-1 of hD/hG (others stay zero = vertical zero padding).
  for (let y = 0; y < EMBED_H; y++) {
    const src = y * PW;
    const dst = (y + R) * W;
    for (let x = 0; x < W; x++) {
      const p = src + x;
      const a0 = padded[p], a1 = padded[p + 1], a2 = padded[p + 2];
      const a3 = padded[p + 3], a4 = padded[p + 4];
      hD[dst + x] = d0 * a0 + d1 * a1 + d2 * a2 + d3 * a3 + d4 * a4;
      hG[dst + x] = g0 * a0 + g1 * a1 + g2 * a2 + g3 * a3 + g4 * a4;
    }
  }
  pooled.fill(0);
  const plane = GRID_W * GRID_H;
  // Vertical pass + |.| (= relu(+f) + relu(-f)) + pooling accumulation.
  for (let y = 0; y < EMBED_H; y++) {
    const r0 = y * W, r1 = r0 + W, r2 = r1 + W, r3 = r2 + W, r4 = r3 + W;
    const cell = (y / POOL | 0) * GRID_W;
    for (let x = 0; x < W; x++) {
      const gx = g0 * hD[r0 + x] + g1 * hD[r1 + x] + g2 * hD[r2 + x] + g3 * hD[r3 + x] +
        g4 * hD[r4 + x];
      const gy = d0 * hG[r0 + x] + d1 * hG[r1 + x] + d2 * hG[r2 + x] + d3 * hG[r3 + x] +
        d4 * hG[r4 + x];
      const c = cell + (x / POOL | 0);
      pooled[c] += gx < 0 ? -gx : gx;
      pooled[plane + c] += gy < 0 ? -gy : gy;
    }
  }
  quantise(pooled, out, outOffset);
}

/**
 * Embeds `thumbs.length / (EMBED_W·EMBED_H)` concatenated thumbnails. Returns `out` (allocated
 * when omitted) holding one `EMBED_DIM` vector per frame.
 */
export function embedFrames(thumbs: Uint8Array, out?: Int8Array): Int8Array {
  const px = EMBED_W * EMBED_H;
  const n = Math.floor(thumbs.length / px);
  const dst = out ?? new Int8Array(n * EMBED_DIM);
  if (dst.length < n * EMBED_DIM) throw new RangeError("output too small for the frames given");
  for (let i = 0; i < n; i++) embedFrame(thumbs.subarray(i * px, (i + 1) * px), dst, i * EMBED_DIM);
  return dst;
}

/**
 * Slow, literal evaluation of {@link EMBED_LAYERS} up to and including L2 normalisation (float,
 * before quantisation). Reference for tests and for validating ONNX/WGSL ports.
 */
export function embedFrameReference(thumb: Uint8Array): Float32Array {
  const W = EMBED_W, H = EMBED_H;
  let x: Float64Array = new Float64Array(W * H);
  let channels = 1;
  let w = W, h = H;
  for (const layer of EMBED_LAYERS) {
    switch (layer.op) {
      case "InstanceNorm": {
        let m = 0;
        for (let i = 0; i < W * H; i++) m += thumb[i];
        m /= W * H;
        let v = 0;
        for (let i = 0; i < W * H; i++) v += (thumb[i] - m) ** 2;
        v /= W * H;
        if (v === 0) return new Float32Array(EMBED_DIM);
        const s = 1 / Math.sqrt(v + layer.eps * layer.eps);
        for (let i = 0; i < W * H; i++) x[i] = (thumb[i] - m) * s;
        break;
      }
      case "Conv": {
        const k = layer.kernel, r = (k - 1) / 2;
        const y = new Float64Array(layer.outChannels * w * h);
        for (let o = 0; o < layer.outChannels; o++) {
          for (let c = 0; c < layer.inChannels; c++) {
            const base = (o * layer.inChannels + c) * k * k;
            for (let py = 0; py < h; py++) {
              for (let px = 0; px < w; px++) {
                let s = 0;
                for (let ky = 0; ky < k; ky++) {
                  const sy = py + ky - r;
                  if (sy < 0 || sy >= h) continue;
                  for (let kx = 0; kx < k; kx++) {
                    const sx = px + kx - r;
                    if (sx < 0 || sx >= w) continue;
                    s += layer.weights[base + ky * k + kx] * x[(c * h + sy) * w + sx];
                  }
                }
                y[(o * h + py) * w + px] += s;
              }
            }
          }
        }
        x = y;
        channels = layer.outChannels;
        break;
      }
      case "Relu":
        for (let i = 0; i < x.length; i++) x[i] = Math.max(0, x[i]);
        break;
      case "AveragePool": {
        const nw = Math.floor((w - layer.kernel) / layer.stride) + 1;
        const nh = Math.floor((h - layer.kernel) / layer.stride) + 1;
        const y = new Float64Array(channels * nw * nh);
        for (let c = 0; c < channels; c++) {
          for (let py = 0; py < nh; py++) {
            for (let px = 0; px < nw; px++) {
              let s = 0;
              for (let ky = 0; ky < layer.kernel; ky++) {
                for (let kx = 0; kx < layer.kernel; kx++) {
                  s += x[(c * h + py * layer.stride + ky) * w + px * layer.stride + kx];
                }
              }
              y[(c * nh + py) * nw + px] = s / (layer.kernel * layer.kernel);
            }
          }
        }
        x = y;
        w = nw;
        h = nh;
        break;
      }
      case "Flatten":
        break;
      case "L2Normalize": {
        let n = 0;
        for (let i = 0; i < x.length; i++) n += x[i] * x[i];
        n = Math.sqrt(n);
        if (n > 0) { for (let i = 0; i < x.length; i++) x[i] /= n; }
        return Float32Array.from(x);
      }
      case "QuantizeMaxAbs":
        break;
    }
  }
  return Float32Array.from(x);
}

/** Cosine similarity of two int8 vectors of length `dim` (0 when either is the zero vector). */
export function cosineInt8(
  a: Int8Array,
  aOffset: number,
  b: Int8Array,
  bOffset: number,
  dim = EMBED_DIM,
): number {
  let ab = 0, aa = 0, bb = 0;
  for (let k = 0; k < dim; k++) {
    const x = a[aOffset + k], y = b[bOffset + k];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
