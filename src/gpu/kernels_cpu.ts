/**
 * CPU twins of the WGSL kernels in `shaders/` (pure maths on typed arrays, no I/O).
 *
 * Each twin performs the same operations in the same order as its shader (same per-thread
 * partial sums, same fixed-order tree reductions, same Stockham stage order, same twiddle table),
 * evaluated in double precision and rounded to float32 wherever the shader stores to memory.
 * They are the reference the parity tests hold the GPU to, and the layout helpers here
 * (uniform blocks, twiddle tables, band rows) are shared by the GPU wrappers so that both sides
 * always see identical inputs.
 *
 * | shader | twin |
 * | --- | --- |
 * | `embed_conv.wgsl` | {@link embedConvCpu} |
 * | `l2norm.wgsl` | {@link l2NormQuantizeCpu} |
 * | `fft_radix2.wgsl` | {@link fftLinesCpu} |
 * | `cross_power.wgsl` | {@link crossPowerCpu} |
 * | `peak_search.wgsl` | {@link peakSearchCpu} |
 * | `batch_distance.wgsl` | {@link batchDistanceCpu} |
 * | `ncc_cross.wgsl` | {@link nccCrossCpu} |
 * | `ncc_max.wgsl` | {@link nccMaxCpu} |
 * @module
 */
import {
  CONV_K,
  EMBED_DIM,
  EMBED_H,
  EMBED_LAYERS,
  EMBED_W,
  type EmbedLayer,
  POOL,
} from "../embed.ts";

const f32 = Math.fround;

// ---------------------------------------------------------------------------------------------
// embed_conv.wgsl

/** Weights of the embedding network in the layout the `embed_conv` kernel uses. */
export interface EmbedNetWeights {
  /** `row[kx*4 + f]`: horizontal (x) factor of filter `f` (0..3) at tap `kx` (20 floats). */
  row: Float32Array;
  /** `col[ky*4 + f]`: vertical (y) factor of filter `f` at tap `ky` (20 floats). */
  col: Float32Array;
  /** `mix[o*4 + f]`: 1×1 conv weight of output channel `o` (0..1) over relu'd filter `f`. */
  mix: Float32Array;
  /** InstanceNorm epsilon (added squared to the variance). */
  eps: number;
}

/** Bytes of the `embed_conv` uniform block (`Params` in the shader). */
export const EMBED_PARAMS_BYTES = 208;
/** Bytes of one packed 64×64 thumbnail (input of `embed_conv`). */
export const THUMB_BYTES = EMBED_W * EMBED_H;
/** Largest relative residual of the rank-1 factorisation of a 5×5 filter accepted. */
export const SEPARABLE_TOLERANCE = 1e-6;

/**
 * Factors a `k × k` filter (row-major `w[ky*k + kx]`) as `col[ky] · row[kx]`; returns null when
 * the filter is not rank 1 (max residual above {@link SEPARABLE_TOLERANCE} × max |w|).
 */
export function factorRank1(
  w: ArrayLike<number>,
  k: number,
): { row: Float64Array; col: Float64Array } | null {
  let pi = 0, pj = 0, best = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const a = Math.abs(w[i * k + j]);
      if (a > best) {
        best = a;
        pi = i;
        pj = j;
      }
    }
  }
  const row = new Float64Array(k), col = new Float64Array(k);
  if (best === 0) return { row, col };
  for (let i = 0; i < k; i++) col[i] = w[i * k + pj];
  for (let j = 0; j < k; j++) row[j] = w[pi * k + j] / w[pi * k + pj];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (Math.abs(col[i] * row[j] - w[i * k + j]) > SEPARABLE_TOLERANCE * best) return null;
    }
  }
  return { row, col };
}

/**
 * Extracts the weights from a layer list shaped like {@link EMBED_LAYERS} (InstanceNorm, Conv
 * 1→4 5×5 with separable filters, Relu, Conv 4→2 1×1, AveragePool 4/4, …); throws on any other
 * architecture, since the kernel is specialised to it.
 */
export function embedNetWeights(layers: readonly EmbedLayer[] = EMBED_LAYERS): EmbedNetWeights {
  const [norm, c1, relu, c2, pool] = layers;
  if (
    EMBED_W !== 64 || EMBED_H !== 64 || POOL !== 4 || CONV_K !== 5 || EMBED_DIM !== 512 ||
    norm?.op !== "InstanceNorm" || c1?.op !== "Conv" || c1.inChannels !== 1 ||
    c1.outChannels !== 4 || c1.kernel !== 5 || relu?.op !== "Relu" || c2?.op !== "Conv" ||
    c2.inChannels !== 4 || c2.outChannels !== 2 || c2.kernel !== 1 ||
    pool?.op !== "AveragePool" || pool.kernel !== 4 || pool.stride !== 4
  ) {
    throw new Error("embed_conv kernel: layer list does not match the embedding architecture");
  }
  const row = new Float32Array(20), col = new Float32Array(20);
  for (let f = 0; f < 4; f++) {
    const fac = factorRank1(c1.weights.subarray(f * 25, f * 25 + 25), 5);
    if (!fac) throw new Error(`embed_conv kernel: filter ${f} is not separable (rank 1)`);
    for (let t = 0; t < 5; t++) {
      row[t * 4 + f] = fac.row[t];
      col[t * 4 + f] = fac.col[t];
    }
  }
  return { row, col, mix: Float32Array.from(c2.weights), eps: norm.eps };
}

/** Writes the `embed_conv` uniform block for `frames` frames into `dst` (208 bytes). */
export function packEmbedParams(frames: number, w: EmbedNetWeights, dst: ArrayBuffer): void {
  const u = new Uint32Array(dst, 0, EMBED_PARAMS_BYTES / 4);
  const f = new Float32Array(dst, 0, EMBED_PARAMS_BYTES / 4);
  u.fill(0);
  u[0] = frames;
  f[2] = w.eps * w.eps;
  f.set(w.mix, 4);
  f.set(w.row, 12);
  f.set(w.col, 32);
}

/**
 * Twin of `embed_conv.wgsl`: InstanceNorm (exact integer statistics) → separable Conv 5×5 (4
 * filters, zero padding) → Relu → Conv 1×1 (4→2) → AveragePool 4×4 for `n` concatenated 64×64
 * thumbnails; writes 512 floats per frame (channel-major) to `pooled`.
 */
export function embedConvCpu(
  thumbs: Uint8Array,
  n: number,
  w: EmbedNetWeights,
  pooled: Float32Array,
): void {
  const eps2 = f32(w.eps * w.eps);
  const { row, col, mix } = w;
  // horizontally filtered rows -2..65 (index y + 2), 64 pixels × 4 filters each
  const h = new Float32Array(68 * 64 * 4);
  const norm = new Float32Array(64 + 4);
  for (let fr = 0; fr < n; fr++) {
    const base = fr * THUMB_BYTES;
    let total = 0;
    for (let i = 0; i < THUMB_BYTES; i++) total += thumbs[base + i];
    const m0 = Math.floor((total + 2048) / 4096);
    let sq = 0;
    for (let i = 0; i < THUMB_BYTES; i++) {
      const d = thumbs[base + i] - m0;
      sq += d * d;
    }
    const mean = f32(total / 4096);
    const dm = f32(mean - m0);
    const variance = f32(f32(f32(sq) - f32(4096 * f32(dm * dm))) / 4096);
    const inv = f32(1 / f32(Math.sqrt(f32(Math.max(variance, 0) + eps2))));
    h.fill(0);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) norm[x + 2] = f32(f32(thumbs[base + y * 64 + x] - mean) * inv);
      const o = (y + 2) * 256;
      for (let x = 0; x < 64; x++) {
        for (let f = 0; f < 4; f++) {
          let s = 0;
          for (let k = 0; k < 5; k++) s += row[k * 4 + f] * norm[x + k];
          h[o + x * 4 + f] = s;
        }
      }
    }
    const ob = fr * EMBED_DIM;
    for (let cy = 0; cy < 16; cy++) {
      for (let cx = 0; cx < 16; cx++) {
        let s0 = 0, s1 = 0;
        for (let py = 0; py < 4; py++) {
          const y = cy * 4 + py; // output row; filtered rows y-2..y+2 sit at h rows y..y+4
          for (let px = 0; px < 4; px++) {
            const x = cx * 4 + px;
            let d0 = 0, d1 = 0;
            for (let f = 0; f < 4; f++) {
              let v = 0;
              for (let k = 0; k < 5; k++) v += col[k * 4 + f] * h[(y + k) * 256 + x * 4 + f];
              const r = v > 0 ? v : 0;
              d0 += mix[f] * r;
              d1 += mix[4 + f] * r;
            }
            s0 += d0;
            s1 += d1;
          }
        }
        pooled[ob + cy * 16 + cx] = s0 / 16;
        pooled[ob + 256 + cy * 16 + cx] = s1 / 16;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// l2norm.wgsl

/** Bytes of the `l2norm` uniform block. */
export const L2NORM_PARAMS_BYTES = 16;

/** Writes the `l2norm` uniform block into `dst`. */
export function packL2NormParams(
  frames: number,
  dim: number,
  qmax: number,
  dst: ArrayBuffer,
): void {
  const u = new Uint32Array(dst, 0, 4);
  u[0] = frames;
  u[1] = dim;
  new Float32Array(dst, 0, 4)[2] = qmax;
  u[3] = 0;
}

/**
 * Twin of `l2norm.wgsl`: for `n` vectors of `dim` floats, `y` = the L2-normalised vector (zero
 * stays zero; skipped when `y` is null) and `q` = round(x · qmax / max|x|) as int8, rounding like
 * `Math.round` (floor(v + 0.5)).
 */
export function l2NormQuantizeCpu(
  x: Float32Array,
  n: number,
  dim: number,
  qmax: number,
  y: Float32Array | null,
  q: Int8Array,
): void {
  const ss = new Float32Array(64);
  const mx = new Float32Array(64);
  const qm = f32(qmax);
  for (let fr = 0; fr < n; fr++) {
    const base = fr * dim;
    for (let li = 0; li < 64; li++) {
      let s = 0, m = 0;
      for (let i = li; i < dim; i += 64) {
        const v = x[base + i];
        s = f32(s + f32(v * v));
        m = Math.max(m, Math.abs(v));
      }
      ss[li] = s;
      mx[li] = m;
    }
    for (let st = 32; st > 0; st >>= 1) {
      for (let li = 0; li < st; li++) {
        ss[li] = ss[li] + ss[li + st];
        mx[li] = Math.max(mx[li], mx[li + st]);
      }
    }
    const norm = f32(Math.sqrt(ss[0]));
    const invn = norm > 0 ? f32(1 / norm) : 0;
    const scale = mx[0] > 0 ? f32(qm / mx[0]) : 0;
    for (let i = 0; i < dim; i++) {
      const v = x[base + i];
      if (y) y[base + i] = v * invn;
      const r = Math.floor(f32(f32(v * scale) + 0.5));
      q[base + i] = r > qm ? qm : r < -qm ? -qm : r;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// fft_radix2.wgsl

/** Largest line length the workgroup-memory FFT kernel handles. */
export const FFT_MAX_N = 2048;
/** Bytes of the `fft_radix2` uniform block. */
export const FFT_PARAMS_BYTES = 48;

/**
 * One batched 1-D FFT pass: `lines` lines of `n` complex values; element `k` of line `l` sits at
 * complex index `floor(l / linesPerImage) * imageStride + (l % linesPerImage) * lineStep +
 * k * elemStride`.
 */
export interface FftLinesConfig {
  /** Line length (power of two, 2..{@link FFT_MAX_N}). */
  n: number;
  /** Number of lines. */
  lines: number;
  /** Distance (complex values) between consecutive elements of a line. */
  elemStride: number;
  /** Distance between consecutive lines of one image. */
  lineStep: number;
  /** Lines per image. */
  linesPerImage: number;
  /** Distance between images. */
  imageStride: number;
  /** Inverse transform (e^{+…}). */
  inverse: boolean;
  /** Factor applied to the result (e.g. 1/(w·h) on the last inverse pass). */
  scale: number;
}

/** Lines handled by one workgroup of the FFT kernel. */
export function fftLinesPerGroup(n: number): number {
  return Math.max(1, Math.floor(256 / n));
}

/** log2 of a power of two. */
function log2i(n: number): number {
  let l = 0;
  while ((1 << l) < n) l++;
  return l;
}

/** Checks a power-of-two FFT size the kernel supports. */
export function checkFftSize(n: number): void {
  if (!Number.isInteger(n) || n < 2 || n > FFT_MAX_N || (n & (n - 1)) !== 0) {
    throw new RangeError(`FFT line length must be a power of two in 2..${FFT_MAX_N}, got ${n}`);
  }
}

/** Twiddle table for lengths dividing `nMax`: `nMax/2` complex values e^{-2πit/nMax}, interleaved. */
export function makeTwiddles(nMax: number): Float32Array {
  checkFftSize(nMax);
  const tw = new Float32Array(nMax);
  for (let t = 0; t < nMax / 2; t++) {
    const a = (2 * Math.PI * t) / nMax;
    tw[2 * t] = Math.cos(a);
    tw[2 * t + 1] = -Math.sin(a);
  }
  return tw;
}

/** Writes the `fft_radix2` uniform block for `cfg` with a twiddle table for `twN` into `dst`. */
export function packFftParams(
  cfg: FftLinesConfig,
  twN: number,
  dst: ArrayBuffer,
  offset = 0,
): void {
  const u = new Uint32Array(dst, offset, 12);
  u[0] = cfg.n;
  u[1] = log2i(cfg.n);
  u[2] = cfg.lines;
  u[3] = fftLinesPerGroup(cfg.n);
  u[4] = cfg.elemStride;
  u[5] = cfg.lineStep;
  u[6] = cfg.linesPerImage;
  u[7] = cfg.imageStride;
  u[8] = twN / cfg.n;
  u[9] = cfg.inverse ? 1 : 0;
  new Float32Array(dst, offset, 12)[10] = cfg.scale;
  u[11] = 0;
}

/**
 * The two passes of a batched 2-D FFT over `images` row-major `width × height` complex images
 * stored back to back: rows (elemStride 1) and columns (elemStride `width`).
 */
export function fft2dConfigs(
  width: number,
  height: number,
  images: number,
  inverse: boolean,
): { rows: FftLinesConfig; cols: FftLinesConfig } {
  checkFftSize(width);
  checkFftSize(height);
  const size = width * height;
  return {
    rows: {
      n: width,
      lines: images * height,
      elemStride: 1,
      lineStep: width,
      linesPerImage: height,
      imageStride: size,
      inverse,
      scale: 1,
    },
    cols: {
      n: height,
      lines: images * width,
      elemStride: width,
      lineStep: 1,
      linesPerImage: width,
      imageStride: size,
      inverse,
      scale: inverse ? 1 / size : 1,
    },
  };
}

/**
 * Twin of `fft_radix2.wgsl`: transforms the lines described by `cfg` in place in `data`
 * (interleaved complex float32) with the radix-2 Stockham algorithm, twiddles from `tw`
 * ({@link makeTwiddles}).
 */
export function fftLinesCpu(data: Float32Array, cfg: FftLinesConfig, tw: Float32Array): void {
  const n = cfg.n;
  checkFftSize(n);
  const twStride = tw.length / n;
  if (!Number.isInteger(twStride) || twStride < 1) throw new RangeError("twiddle table too small");
  const log2n = log2i(n);
  const half = n >> 1;
  let src = new Float32Array(2 * n);
  let dst = new Float32Array(2 * n);
  const sc = f32(cfg.scale);
  for (let line = 0; line < cfg.lines; line++) {
    const base = Math.floor(line / cfg.linesPerImage) * cfg.imageStride +
      (line % cfg.linesPerImage) * cfg.lineStep;
    for (let k = 0; k < n; k++) {
      const a = 2 * (base + k * cfg.elemStride);
      src[2 * k] = data[a];
      src[2 * k + 1] = data[a + 1];
    }
    for (let st = 0; st < log2n; st++) {
      const s = 1 << st;
      const m = half >> st;
      for (let b = 0; b < half; b++) {
        const p = b >> st;
        const q = b & (s - 1);
        const i0 = q + s * p, i1 = q + s * (p + m);
        const ar = src[2 * i0], ai = src[2 * i0 + 1];
        const cr = src[2 * i1], ci = src[2 * i1 + 1];
        const ti = p * s * twStride;
        const wr = tw[2 * ti];
        const wi = cfg.inverse ? -tw[2 * ti + 1] : tw[2 * ti + 1];
        const dr = f32(ar - cr), di = f32(ai - ci);
        const o0 = q + s * 2 * p, o1 = o0 + s;
        dst[2 * o0] = ar + cr;
        dst[2 * o0 + 1] = ai + ci;
        dst[2 * o1] = f32(dr * wr) - f32(di * wi);
        dst[2 * o1 + 1] = f32(dr * wi) + f32(di * wr);
      }
      const t = src;
      src = dst;
      dst = t;
    }
    for (let k = 0; k < n; k++) {
      const a = 2 * (base + k * cfg.elemStride);
      data[a] = src[2 * k] * sc;
      data[a + 1] = src[2 * k + 1] * sc;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cross_power.wgsl

/** Bytes of the `cross_power` uniform block. */
export const CROSS_PARAMS_BYTES = 16;

/** Writes the `cross_power` uniform block into `dst`. */
export function packCrossParams(
  count: number,
  pairs: number,
  phase: boolean,
  dst: ArrayBuffer,
  offset = 0,
): void {
  const u = new Uint32Array(dst, offset, 4);
  u[0] = count;
  u[1] = pairs;
  u[2] = phase ? 1 : 0;
  u[3] = 0;
}

/**
 * Twin of `cross_power.wgsl`: for pair `p` (spectra `2p` = a and `2p+1` = b in `spec`, `count`
 * complex values each) writes a·conj(b) to `out` image `p`, divided by (|a·conj(b)| + eps[p]) when
 * `phase` is true.
 */
export function crossPowerCpu(
  spec: Float32Array,
  count: number,
  pairs: number,
  phase: boolean,
  eps: Float32Array,
  out: Float32Array,
): void {
  for (let p = 0; p < pairs; p++) {
    const ea = 4 * p * count, eb = ea + 2 * count, eo = 2 * p * count;
    for (let k = 0; k < count; k++) {
      const ar = spec[ea + 2 * k], ai = spec[ea + 2 * k + 1];
      const br = spec[eb + 2 * k], bi = spec[eb + 2 * k + 1];
      let rr = f32(f32(ar * br) + f32(ai * bi));
      let ri = f32(f32(ai * br) - f32(ar * bi));
      if (phase) {
        const d = f32(f32(Math.sqrt(f32(f32(rr * rr) + f32(ri * ri)))) + eps[p]);
        rr = rr / d;
        ri = ri / d;
      }
      out[eo + 2 * k] = rr;
      out[eo + 2 * k + 1] = ri;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// peak_search.wgsl

/** Bytes of the `peak_search` uniform block. */
export const PEAK_PARAMS_BYTES = 16;

/** Writes the `peak_search` uniform block into `dst`. */
export function packPeakParams(count: number, images: number, dst: ArrayBuffer, offset = 0): void {
  const u = new Uint32Array(dst, offset, 4);
  u[0] = count;
  u[1] = images;
  u[2] = 0;
  u[3] = 0;
}

/**
 * Twin of `peak_search.wgsl`: index and value of the largest real part of each of `images`
 * complex images (`count` values each, interleaved); ties go to the lowest index, NaN is skipped.
 */
export function peakSearchCpu(
  data: Float32Array,
  count: number,
  images: number,
  outIndex: Uint32Array,
  outValue: Float32Array,
): void {
  const bv = new Float32Array(256);
  const bi = new Uint32Array(256);
  for (let img = 0; img < images; img++) {
    const base = img * count;
    for (let li = 0; li < 256; li++) {
      let best = -Infinity, idx = 0;
      for (let k = li; k < count; k += 256) {
        const v = data[2 * (base + k)];
        if (v > best) {
          best = v;
          idx = k;
        }
      }
      bv[li] = best;
      bi[li] = idx;
    }
    for (let st = 128; st > 0; st >>= 1) {
      for (let li = 0; li < st; li++) {
        const v = bv[li + st], j = bi[li + st];
        if (v > bv[li] || (v === bv[li] && j < bi[li])) {
          bv[li] = v;
          bi[li] = j;
        }
      }
    }
    outIndex[img] = bi[0];
    outValue[img] = bv[0];
  }
}

// ---------------------------------------------------------------------------------------------
// batch_distance.wgsl

/** Bytes of the `batch_distance` uniform block. */
export const DIST_PARAMS_BYTES = 16;
/** Largest vector length (int8 components) the distance kernel handles. */
export const DIST_MAX_DIM = 4096;

/**
 * Band rows for {@link batchDistanceCpu}: 4 u32 per row = (a index, first b index, number of b
 * vectors, output offset), plus the total number of outputs.
 */
export interface BandRows {
  /** Packed rows, `4 × rows`. */
  rows: Uint32Array<ArrayBuffer>;
  /** Number of rows. */
  count: number;
  /** Total outputs (sum of the row widths). */
  total: number;
  /** Largest row width. */
  maxWidth: number;
}

/**
 * Packs a band: row `r` compares a-vector `aIndex[r]` with b-vectors `jLo[r] .. jHi[r]`
 * (inclusive; an empty row has `jHi < jLo`); outputs are stored row after row (the layout of
 * `BandSims.sims` in src/dtw.ts).
 */
export function packBandRows(
  aIndex: ArrayLike<number>,
  jLo: ArrayLike<number>,
  jHi: ArrayLike<number>,
): BandRows {
  const count = aIndex.length;
  const rows = new Uint32Array(4 * count);
  let total = 0, maxWidth = 0;
  for (let r = 0; r < count; r++) {
    const w = Math.max(0, jHi[r] - jLo[r] + 1);
    rows[4 * r] = aIndex[r];
    rows[4 * r + 1] = jLo[r];
    rows[4 * r + 2] = w;
    rows[4 * r + 3] = total;
    total += w;
    if (w > maxWidth) maxWidth = w;
  }
  return { rows, count, total, maxWidth };
}

/** Writes the `batch_distance` uniform block into `dst`. */
export function packDistParams(
  dim: number,
  band: BandRows,
  scaled: boolean,
  dst: ArrayBuffer,
): void {
  const u = new Uint32Array(dst, 0, 4);
  u[0] = dim / 4;
  u[1] = band.count;
  u[2] = Math.max(1, Math.ceil(band.maxWidth / 64));
  u[3] = scaled ? 1 : 0;
}

/** Checks a vector length the distance kernel supports. */
export function checkDistDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 4 || dim > DIST_MAX_DIM || dim % 4 !== 0) {
    throw new RangeError(`distance kernel: dim must be a multiple of 4 in 4..${DIST_MAX_DIM}`);
  }
}

/**
 * Twin of `batch_distance.wgsl`: int8 dot products of the band cells, as float32, multiplied by
 * `invA[a] · invB[j]` (in that order, float32) when both are given; written to
 * `out[rowOffset + j − jLo]`.
 */
export function batchDistanceCpu(
  a: Int8Array,
  b: Int8Array,
  dim: number,
  band: BandRows,
  invA: Float32Array | null,
  invB: Float32Array | null,
  out: Float32Array,
): void {
  checkDistDim(dim);
  const scaled = invA !== null && invB !== null;
  const rows = band.rows;
  for (let r = 0; r < band.count; r++) {
    const ai = rows[4 * r], lo = rows[4 * r + 1], w = rows[4 * r + 2], o = rows[4 * r + 3];
    const ab = ai * dim;
    for (let j = 0; j < w; j++) {
      const bb = (lo + j) * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += a[ab + k] * b[bb + k];
      let v = f32(s);
      if (scaled) v = f32(f32(v * invA![ai]) * invB![lo + j]);
      out[o + j] = v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ncc_cross.wgsl

/** Bytes of the `ncc_cross` uniform block. */
export const NCC_CROSS_PARAMS_BYTES = 32;

/** Combos `combo0 .. combo0 + combos − 1` of `ncc_cross` (combo c = template k · pairs + pair p). */
export interface NccCrossConfig {
  /** Complex values per spectrum (`fftWidth × fftHeight`). */
  count: number;
  /** Image pairs (spectra) in the image buffer. */
  pairs: number;
  /** First combo. */
  combo0: number;
  /** Number of combos. */
  combos: number;
  /** Index in the template buffer of template k = 0. */
  tplBase: number;
}

/** Writes the `ncc_cross` uniform block into `dst` at `offset`. */
export function packNccCrossParams(cfg: NccCrossConfig, dst: ArrayBuffer, offset = 0): void {
  const u = new Uint32Array(dst, offset, 8);
  u.fill(0);
  u[0] = cfg.count;
  u[1] = cfg.pairs;
  u[2] = cfg.combo0;
  u[3] = cfg.combos;
  u[4] = cfg.tplBase;
}

/**
 * Twin of `ncc_cross.wgsl`: `work[(c − combo0)·count + e] = bg[p][e] · conj(tpl[tplBase + k][e])`
 * for the combos of `cfg` (interleaved complex float32 arrays).
 */
export function nccCrossCpu(
  bg: Float32Array,
  tpl: Float32Array,
  cfg: NccCrossConfig,
  work: Float32Array,
): void {
  const n = cfg.count;
  for (let l = 0; l < cfg.combos; l++) {
    const c = cfg.combo0 + l;
    const k = Math.floor(c / cfg.pairs), p = c - k * cfg.pairs;
    const xb = 2 * p * n, yb = 2 * (cfg.tplBase + k) * n, ob = 2 * l * n;
    for (let e = 0; e < n; e++) {
      const xr = bg[xb + 2 * e], xi = bg[xb + 2 * e + 1];
      const yr = tpl[yb + 2 * e], yi = tpl[yb + 2 * e + 1];
      work[ob + 2 * e] = f32(xr * yr) + f32(xi * yi);
      work[ob + 2 * e + 1] = f32(xi * yr) - f32(xr * yi);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ncc_max.wgsl

/** Bytes of the `ncc_max` uniform block. */
export const NCC_MAX_PARAMS_BYTES = 64;

/** One `ncc_max` dispatch (see the shader for the meaning of each field). */
export interface NccMaxConfig {
  /** Map width (`imageWidth − templateWidth + 1`). */
  mw: number;
  /** Map height. */
  mh: number;
  /** Row stride of the work surfaces (FFT width). */
  fw: number;
  /** Complex values per work surface. */
  count: number;
  /** Image pairs per template in the combo numbering. */
  pairs: number;
  /** Global index of pair 0. */
  pair0: number;
  /** Total number of images. */
  images: number;
  /** First combo of the work buffer. */
  combo0: number;
  /** Combos in the work buffer. */
  combos: number;
  /** Templates. */
  kCount: number;
  /** Offset of image 2·pair0's map in `inv`. */
  invBase: number;
  /** Offset of template 0 in `tqi`. */
  tqiBase: number;
  /** Offset (in entries) of template 0's map in the output. */
  outBase: number;
}

/** Writes the `ncc_max` uniform block into `dst` at `offset`. */
export function packNccMaxParams(cfg: NccMaxConfig, dst: ArrayBuffer, offset = 0): void {
  const u = new Uint32Array(dst, offset, 16);
  u.fill(0);
  u[0] = cfg.mw;
  u[1] = cfg.mh;
  u[2] = cfg.fw;
  u[3] = cfg.count;
  u[4] = cfg.pairs;
  u[5] = cfg.pair0;
  u[6] = cfg.images;
  u[7] = cfg.combo0;
  u[8] = cfg.combos;
  u[9] = cfg.kCount;
  u[10] = cfg.invBase;
  u[11] = cfg.tqiBase;
  u[12] = cfg.outBase;
}

/**
 * Twin of `ncc_max.wgsl`: updates the running best NCC (`outMax`, float32) and its image index
 * (`outArg`) per template and placement from the work surfaces (interleaved complex float32).
 */
export function nccMaxCpu(
  work: Float32Array,
  inv: Float32Array,
  tqi: Float32Array,
  cfg: NccMaxConfig,
  outMax: Float32Array,
  outArg: Uint32Array,
): void {
  const n = cfg.mw * cfg.mh;
  for (let k = 0; k < cfg.kCount; k++) {
    const first = k * cfg.pairs;
    const cLo = Math.max(cfg.combo0, first);
    const cHi = Math.min(cfg.combo0 + cfg.combos, first + cfg.pairs);
    if (cLo >= cHi) continue;
    const t = tqi[cfg.tqiBase + k];
    for (let i = 0; i < n; i++) {
      const v = Math.floor(i / cfg.mw), u = i - v * cfg.mw;
      const o = cfg.outBase + k * n + i;
      let best = -2, arg = 0;
      if (cfg.pair0 + (cLo - first) !== 0) {
        best = outMax[o];
        arg = outArg[o];
      }
      const e = v * cfg.fw + u;
      for (let c = cLo; c < cHi; c++) {
        const img = 2 * (c - first);
        const w = 2 * ((c - cfg.combo0) * cfg.count + e);
        const va = f32(f32(work[w] * inv[cfg.invBase + img * n + i]) * t);
        if (va > best) {
          best = va;
          arg = 2 * cfg.pair0 + img;
        }
        if (2 * cfg.pair0 + img + 1 < cfg.images) {
          const vb = f32(f32(work[w + 1] * inv[cfg.invBase + (img + 1) * n + i]) * t);
          if (vb > best) {
            best = vb;
            arg = 2 * cfg.pair0 + img + 1;
          }
        }
      }
      outMax[o] = best;
      outArg[o] = arg;
    }
  }
}
