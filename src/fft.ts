/**
 * In-place iterative radix-2 complex FFT (stages fused in pairs, radix-4 style) (1D and 2D) on split real/imaginary Float64Arrays.
 * Twiddle and bit-reversal tables are built once per size and cached; transforms allocate
 * nothing.
 * @module
 */

/** True when `n` is a positive power of two. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Smallest power of two `>= n` (1 for `n <= 1`). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** A 1D complex FFT of a fixed power-of-two length, with precomputed tables. */
export class Fft {
  /** Transform length. */
  readonly n: number;
  /** `cos(2 pi i / n)` for `i < n/2`. */
  readonly cos: Float64Array;
  /** `sin(2 pi i / n)` for `i < n/2`. */
  readonly sin: Float64Array;
  /** Bit-reversal permutation. */
  readonly rev: Uint32Array;
  /** log2(n). */
  readonly bits: number;

  /** Builds the tables for length `n` (a power of two). */
  constructor(n: number) {
    if (!isPowerOfTwo(n)) throw new RangeError(`FFT length must be a power of two, got ${n}`);
    this.n = n;
    const half = Math.max(1, n >> 1);
    this.cos = new Float64Array(half);
    this.sin = new Float64Array(half);
    for (let i = 0; i < half; i++) {
      const a = (2 * Math.PI * i) / n;
      this.cos[i] = Math.cos(a);
      this.sin[i] = Math.sin(a);
    }
    this.rev = new Uint32Array(n);
    let bits = 0;
    while ((1 << bits) < n) bits++;
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.bits = bits;
  }

  /**
   * Transforms `re/im[offset .. offset+n)` in place. Forward: `X[k] = sum x[j] e^{-2 pi i jk/n}`;
   * inverse (`inverse = true`) uses `e^{+...}` and does NOT divide by `n`.
   */
  transform(re: Float64Array, im: Float64Array, inverse = false, offset = 0): void {
    const n = this.n;
    const rev = this.rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        const a = offset + i, b = offset + j;
        const tr = re[a];
        re[a] = re[b];
        re[b] = tr;
        const ti = im[a];
        im[a] = im[b];
        im[b] = ti;
      }
    }
    const cos = this.cos, sin = this.sin;
    const sign = inverse ? 1 : -1;
    const end = offset + n;
    let h = 1;
    if ((this.bits & 1) === 1) {
      // an odd number of stages: one radix-2 stage (twiddle 1) first
      for (let a = offset; a < end; a += 2) {
        const b = a + 1;
        const xr = re[b], xi = im[b];
        re[b] = re[a] - xr;
        im[b] = im[a] - xi;
        re[a] += xr;
        im[a] += xi;
      }
      h = 2;
    }
    // the remaining stages two at a time (spans h and 2h fused: half the passes over memory)
    for (; h < n; h <<= 2) {
      const s1 = n / (2 * h), s2 = s1 >> 1, h2 = 2 * h, h3 = 3 * h, span = 4 * h;
      for (let j = 0; j < h; j++) {
        const w1r = cos[j * s1], w1i = sign * sin[j * s1];
        const w2r = cos[j * s2], w2i = sign * sin[j * s2];
        for (let a = offset + j; a < end; a += span) {
          const b = a + h, c = a + h2, d = a + h3;
          const x0r = re[a], x0i = im[a], x1r = re[b], x1i = im[b];
          const x2r = re[c], x2i = im[c], x3r = re[d], x3i = im[d];
          const t1r = x1r * w1r - x1i * w1i, t1i = x1r * w1i + x1i * w1r;
          const t3r = x3r * w1r - x3i * w1i, t3i = x3r * w1i + x3i * w1r;
          const a0r = x0r + t1r, a0i = x0i + t1i, a1r = x0r - t1r, a1i = x0i - t1i;
          const b0r = x2r + t3r, b0i = x2i + t3i, b1r = x2r - t3r, b1i = x2i - t3i;
          const u0r = b0r * w2r - b0i * w2i, u0i = b0r * w2i + b0i * w2r;
          // (sign * i) * w2 * b1
          const u1r = b1r * w2r - b1i * w2i, u1i = b1r * w2i + b1i * w2r;
          const vr = -sign * u1i, vi = sign * u1r;
          re[a] = a0r + u0r;
          im[a] = a0i + u0i;
          re[c] = a0r - u0r;
          im[c] = a0i - u0i;
          re[b] = a1r + vr;
          im[b] = a1i + vi;
          re[d] = a1r - vr;
          im[d] = a1i - vi;
        }
      }
    }
  }
}

const cache = new Map<number, Fft>();

/** The cached {@link Fft} for length `n` (a power of two). */
export function getFft(n: number): Fft {
  let f = cache.get(n);
  if (!f) {
    f = new Fft(n);
    cache.set(n, f);
  }
  return f;
}

/** Forward 1D FFT of whole arrays (length a power of two), in place. */
export function fft(re: Float64Array, im: Float64Array): void {
  getFft(re.length).transform(re, im, false);
}

/** Inverse 1D FFT of whole arrays, in place, normalised by `1/n`. */
export function ifft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  getFft(n).transform(re, im, true);
  const s = 1 / n;
  for (let i = 0; i < n; i++) {
    re[i] *= s;
    im[i] *= s;
  }
}

/**
 * 2D complex FFT over a `width x height` row-major grid (both powers of two). Column passes
 * run butterflies on whole rows at a time (contiguous memory, no gathering); passes that can be
 * skipped because inputs are zero or outputs are not needed are skipped.
 */
export class Fft2D {
  /** Grid width (power of two). */
  readonly width: number;
  /** Grid height (power of two). */
  readonly height: number;
  private readonly rowFft: Fft;
  private readonly colFft: Fft;

  /** Prepares a transform for a `width x height` grid. */
  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.rowFft = getFft(width);
    this.colFft = getFft(height);
  }

  /**
   * Forward transform in place. Only the top-left `usedCols x usedRows` block may be non-zero
   * on input (pass its size to skip transforms of all-zero rows or columns).
   */
  forward(re: Float64Array, im: Float64Array, usedRows = this.height, usedCols = this.width): void {
    const w = this.width, h = this.height;
    const rows = Math.min(h, usedRows), cols = Math.min(w, usedCols);
    const lw = Math.log2(w), lh = Math.log2(h);
    // rows first: `rows` row FFTs + all columns; columns first: `cols` columns + all rows
    if (rows * w * lw + w * h * lh <= cols * h * lh + h * w * lw) {
      for (let y = 0; y < rows; y++) this.rowFft.transform(re, im, false, y * w);
      this.columns(re, im, false, w);
    } else {
      this.columns(re, im, false, cols);
      for (let y = 0; y < h; y++) this.rowFft.transform(re, im, false, y * w);
    }
  }

  /**
   * Inverse transform in place, normalised by `1/(width*height)`. Only the top-left
   * `outCols x outRows` block of the result is guaranteed (the rest may hold partial sums).
   */
  inverse(re: Float64Array, im: Float64Array, outRows = this.height, outCols = this.width): void {
    const w = this.width, h = this.height;
    const rows = Math.min(h, outRows), cols = Math.min(w, outCols);
    const lw = Math.log2(w), lh = Math.log2(h);
    if (w * h * lh + rows * w * lw <= h * w * lw + cols * h * lh) {
      this.columns(re, im, true, w);
      for (let y = 0; y < rows; y++) this.rowFft.transform(re, im, true, y * w);
    } else {
      for (let y = 0; y < h; y++) this.rowFft.transform(re, im, true, y * w);
      this.columns(re, im, true, cols);
    }
    const s = 1 / (w * h);
    for (let y = 0; y < rows; y++) {
      for (let x = y * w, end = x + cols; x < end; x++) {
        re[x] *= s;
        im[x] *= s;
      }
    }
  }

  /** Column transforms of columns `x < cols`, butterflies applied to row segments. */
  private columns(re: Float64Array, im: Float64Array, inverse: boolean, cols: number): void {
    const w = this.width, h = this.height;
    if (h === 1) return;
    const { rev, cos, sin } = this.colFft;
    for (let i = 0; i < h; i++) {
      const j = rev[i];
      if (j > i) {
        const a = i * w, b = j * w;
        for (let x = 0; x < cols; x++) {
          const tr = re[a + x];
          re[a + x] = re[b + x];
          re[b + x] = tr;
          const ti = im[a + x];
          im[a + x] = im[b + x];
          im[b + x] = ti;
        }
      }
    }
    const sign = inverse ? 1 : -1;
    let q = 1;
    if ((this.colFft.bits & 1) === 1) {
      // an odd number of stages: one radix-2 stage (twiddle 1) first
      for (let start = 0; start < h; start += 2) {
        const a = start * w, b = a + w;
        for (let x = 0; x < cols; x++) {
          const br = re[b + x], bi = im[b + x];
          re[b + x] = re[a + x] - br;
          im[b + x] = im[a + x] - bi;
          re[a + x] += br;
          im[a + x] += bi;
        }
      }
      q = 2;
    }
    // the remaining stages two at a time, as in Fft.transform (rows are the vectors)
    for (; q < h; q <<= 2) {
      const s1 = h / (2 * q), s2 = s1 >> 1;
      for (let j = 0; j < q; j++) {
        const w1r = cos[j * s1], w1i = sign * sin[j * s1];
        const w2r = cos[j * s2], w2i = sign * sin[j * s2];
        for (let start = 0; start < h; start += 4 * q) {
          const a = (start + j) * w, b = a + q * w, c = b + q * w, d = c + q * w;
          for (let x = 0; x < cols; x++) {
            const x0r = re[a + x], x0i = im[a + x], x1r = re[b + x], x1i = im[b + x];
            const x2r = re[c + x], x2i = im[c + x], x3r = re[d + x], x3i = im[d + x];
            const t1r = x1r * w1r - x1i * w1i, t1i = x1r * w1i + x1i * w1r;
            const t3r = x3r * w1r - x3i * w1i, t3i = x3r * w1i + x3i * w1r;
            const a0r = x0r + t1r, a0i = x0i + t1i, a1r = x0r - t1r, a1i = x0i - t1i;
            const b0r = x2r + t3r, b0i = x2i + t3i, b1r = x2r - t3r, b1i = x2i - t3i;
            const u0r = b0r * w2r - b0i * w2i, u0i = b0r * w2i + b0i * w2r;
            const u1r = b1r * w2r - b1i * w2i, u1i = b1r * w2i + b1i * w2r;
            const vr = -sign * u1i, vi = sign * u1r;
            re[a + x] = a0r + u0r;
            im[a + x] = a0i + u0i;
            re[c + x] = a0r - u0r;
            im[c + x] = a0i - u0i;
            re[b + x] = a1r + vr;
            im[b + x] = a1i + vi;
            re[d + x] = a1r - vr;
            im[d + x] = a1i - vi;
          }
        }
      }
    }
  }
}
