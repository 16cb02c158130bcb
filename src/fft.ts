/**
 * In-place iterative radix-2 complex FFT (1D and 2D) on split real/imaginary Float64Arrays.
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
    // size-2 butterflies (twiddle 1)
    for (let a = offset, end = offset + n - 1; a < end; a += 2) {
      const b = a + 1;
      const xr = re[b], xi = im[b];
      re[b] = re[a] - xr;
      im[b] = im[a] - xi;
      re[a] += xr;
      im[a] += xi;
    }
    for (let size = 4; size <= n; size <<= 1) {
      const half = size >> 1;
      const step = n / size;
      for (let j = 0, t = 0; j < half; j++, t += step) {
        const wr = cos[t], wi = sign * sin[t];
        for (let a = offset + j, end = offset + n; a < end; a += size) {
          const b = a + half;
          const br = re[b], bi = im[b];
          const xr = br * wr - bi * wi;
          const xi = br * wi + bi * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
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
    for (let size = 2; size <= h; size <<= 1) {
      const half = size >> 1;
      const step = h / size;
      for (let j = 0; j < half; j++) {
        const wr = cos[j * step], wi = sign * sin[j * step];
        for (let start = 0; start < h; start += size) {
          const a = (start + j) * w, b = a + half * w;
          if (j === 0) {
            for (let x = 0; x < cols; x++) {
              const br = re[b + x], bi = im[b + x];
              re[b + x] = re[a + x] - br;
              im[b + x] = im[a + x] - bi;
              re[a + x] += br;
              im[a + x] += bi;
            }
          } else {
            for (let x = 0; x < cols; x++) {
              const br = re[b + x], bi = im[b + x];
              const xr = br * wr - bi * wi;
              const xi = br * wi + bi * wr;
              re[b + x] = re[a + x] - xr;
              im[b + x] = im[a + x] - xi;
              re[a + x] += xr;
              im[a + x] += xi;
            }
          }
        }
      }
    }
  }
}
