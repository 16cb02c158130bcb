/**
 * Procedural "videos" for the temporal-alignment tests (test support only; no I/O).
 *
 * A master clip is a list of shots; each shot pans and zooms over a smooth seeded random texture,
 * with optional fades and film grain that changes with every master frame. Foreground and
 * background clips are derived by nearest-frame sampling of the master on their own timestamps,
 * then degraded independently (grading, blur, noise, coarse quantisation), so ground truth is
 * known exactly: two frames show the same moment when they sample the same master frame.
 * @module
 */

/** Seeded PRNG (mulberry32) returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Side of the square, wrapping textures in texels. */
export const TEXTURE_SIZE = 256;

/** Smooth multi-octave value-noise texture (values roughly in [0, 1]), wrapping at its edges. */
export function makeTexture(seed: number): Float32Array {
  const n = TEXTURE_SIZE;
  const tex = new Float32Array(n * n);
  const rnd = mulberry32(seed);
  let amp = 1;
  let total = 0;
  for (const cell of [64, 32, 16, 8, 4]) {
    const g = n / cell;
    const lattice = new Float32Array(g * g);
    for (let k = 0; k < lattice.length; k++) lattice[k] = rnd();
    for (let y = 0; y < n; y++) {
      const fy = y / cell;
      const y0 = Math.floor(fy);
      let ty = fy - y0;
      ty = ty * ty * (3 - 2 * ty);
      const r0 = (y0 % g) * g;
      const r1 = ((y0 + 1) % g) * g;
      for (let x = 0; x < n; x++) {
        const fx = x / cell;
        const x0 = Math.floor(fx);
        let tx = fx - x0;
        tx = tx * tx * (3 - 2 * tx);
        const c0 = x0 % g;
        const c1 = (x0 + 1) % g;
        const top = lattice[r0 + c0] + (lattice[r0 + c1] - lattice[r0 + c0]) * tx;
        const bot = lattice[r1 + c0] + (lattice[r1 + c1] - lattice[r1 + c0]) * tx;
        tex[y * n + x] += amp * (top + (bot - top) * ty);
      }
    }
    total += amp;
    amp *= 0.6;
  }
  for (let k = 0; k < tex.length; k++) tex[k] /= total;
  return tex;
}

/** One shot of the master clip. */
export interface ShotSpec {
  /** Length in seconds. */
  duration: number;
  /** Texture seed (a new seed = a scene cut). */
  textureSeed: number;
  /** Pan speed in output pixels per second (64-pixel-wide frame), x and y. */
  vx: number;
  /** Vertical pan speed in output pixels per second. */
  vy: number;
  /** Relative zoom change per second (0 = none). */
  zoomRate?: number;
  /** Seconds of fade from black at the start. */
  fadeIn?: number;
  /** Seconds of fade to black at the end. */
  fadeOut?: number;
}

/** A master clip: shots played back to back at `fps`, with per-frame grain. */
export interface MasterSpec {
  /** Master frame rate (a common multiple of the derived clips' rates). */
  fps: number;
  /** Shots in order. */
  shots: ShotSpec[];
  /** Grain amplitude in 8-bit levels (changes every master frame). */
  grain: number;
}

/** Output thumbnail side in pixels. */
export const SYNTH_SIDE = 64;

/** Renders master frames on demand, caching textures. */
export class MasterClip {
  /** Spec rendered. */
  readonly spec: MasterSpec;
  /** Total duration in seconds. */
  readonly duration: number;
  private readonly textures = new Map<number, Float32Array>();
  private readonly starts: number[] = [];

  /** Builds the renderer for `spec`. */
  constructor(spec: MasterSpec) {
    this.spec = spec;
    let t = 0;
    for (const s of spec.shots) {
      this.starts.push(t);
      t += s.duration;
    }
    this.duration = t;
  }

  /** Number of master frames. */
  get frameCount(): number {
    return Math.floor(this.duration * this.spec.fps);
  }

  /** Index of the shot containing master frame `m`. */
  shotOf(m: number): number {
    const t = m / this.spec.fps;
    let k = 0;
    while (k + 1 < this.starts.length && this.starts[k + 1] <= t) k++;
    return k;
  }

  /** Renders master frame `m` into `out` (SYNTH_SIDE² floats, 8-bit scale). */
  render(m: number, out: Float32Array): void {
    const k = this.shotOf(m);
    const shot = this.spec.shots[k];
    const t = m / this.spec.fps - this.starts[k];
    let tex = this.textures.get(shot.textureSeed);
    if (!tex) {
      tex = makeTexture(shot.textureSeed);
      this.textures.set(shot.textureSeed, tex);
    }
    const n = TEXTURE_SIZE;
    const side = SYNTH_SIDE;
    const texelsPerPx = 1.5 / (1 + (shot.zoomRate ?? 0) * t);
    const cx = 40 + shot.vx * t * 1.5;
    const cy = 90 + shot.vy * t * 1.5;
    let fade = 1;
    if (shot.fadeIn && t < shot.fadeIn) fade = t / shot.fadeIn;
    if (shot.fadeOut && t > shot.duration - shot.fadeOut) {
      fade = Math.min(fade, Math.max(0, (shot.duration - t) / shot.fadeOut));
    }
    const rnd = mulberry32(0x9e3779b9 ^ (m * 2654435761));
    for (let y = 0; y < side; y++) {
      const ty = cy + (y - side / 2 + 0.5) * texelsPerPx;
      const y0 = Math.floor(ty);
      const fy = ty - y0;
      const r0 = (((y0 % n) + n) % n) * n;
      const r1 = ((((y0 + 1) % n) + n) % n) * n;
      for (let x = 0; x < side; x++) {
        const tx = cx + (x - side / 2 + 0.5) * texelsPerPx;
        const x0 = Math.floor(tx);
        const fx = tx - x0;
        const c0 = ((x0 % n) + n) % n;
        const c1 = (c0 + 1) % n;
        const top = tex[r0 + c0] + (tex[r0 + c1] - tex[r0 + c0]) * fx;
        const bot = tex[r1 + c0] + (tex[r1 + c1] - tex[r1 + c0]) * fx;
        const v = (top + (bot - top) * fy) * 255 * 1.6 - 80;
        out[y * side + x] = v * fade + (rnd() - 0.5) * 2 * this.spec.grain;
      }
    }
  }
}

/** How one derived clip degrades the master (grading, blur, noise, quantisation). */
export interface Degradation {
  /** Contrast gain. */
  gain: number;
  /** Brightness offset in 8-bit levels. */
  bias: number;
  /** Gamma applied to the [0, 1] signal. */
  gamma: number;
  /** 3x3 blur mix in [0, 1] (0 = sharp). */
  blur: number;
  /** Additive noise amplitude in 8-bit levels (fresh per frame: encoder noise). */
  noise: number;
  /** Quantisation step in 8-bit levels (crude compression), 1 = none. */
  quant: number;
  /** Seed of the noise. */
  seed: number;
  /** Resampling zoom about the centre (misregistered crop), 1 = none. */
  scale?: number;
  /** Resampling shift in pixels (misregistered crop), x. */
  shiftX?: number;
  /** Resampling shift in pixels, y. */
  shiftY?: number;
}

/** No degradation. */
export const CLEAN: Degradation = {
  gain: 1,
  bias: 0,
  gamma: 1,
  blur: 0,
  noise: 0,
  quant: 1,
  seed: 1,
};

/** Degrades a rendered frame into an 8-bit thumbnail. `scratch` holds SYNTH_SIDE² floats. */
export function degrade(
  frame: Float32Array,
  d: Degradation,
  frameSeed: number,
  scratch: Float32Array,
  out: Uint8Array,
): void {
  const side = SYNTH_SIDE;
  const rnd = mulberry32((d.seed * 7919) ^ (frameSeed * 104729));
  let src = frame;
  const sc = d.scale ?? 1;
  if (sc !== 1 || d.shiftX || d.shiftY) {
    const h = side / 2;
    for (let y = 0; y < side; y++) {
      const sy = Math.min(
        side - 1.001,
        Math.max(0, (y + 0.5 - h) / sc + h - 0.5 + (d.shiftY ?? 0)),
      );
      const y0 = Math.floor(sy);
      const fy = sy - y0;
      for (let x = 0; x < side; x++) {
        const sx = Math.min(
          side - 1.001,
          Math.max(0, (x + 0.5 - h) / sc + h - 0.5 + (d.shiftX ?? 0)),
        );
        const x0 = Math.floor(sx);
        const fx = sx - x0;
        const i0 = y0 * side + x0;
        const top = frame[i0] + (frame[i0 + 1] - frame[i0]) * fx;
        const bot = frame[i0 + side] + (frame[i0 + side + 1] - frame[i0 + side]) * fx;
        scratch[y * side + x] = top + (bot - top) * fy;
      }
    }
    src = scratch.slice();
  }
  if (d.blur > 0) {
    const w = d.blur / 9;
    for (let y = 0; y < side; y++) {
      const r0 = Math.max(0, y - 1) * side, r1 = y * side, r2 = Math.min(side - 1, y + 1) * side;
      for (let x = 0; x < side; x++) {
        const xl = x > 0 ? x - 1 : 0, xr = x < side - 1 ? x + 1 : x;
        const s = src[r0 + xl] + src[r0 + x] + src[r0 + xr] + src[r1 + xl] + src[r1 + x] +
          src[r1 + xr] + src[r2 + xl] + src[r2 + x] + src[r2 + xr];
        scratch[r1 + x] = src[r1 + x] * (1 - d.blur) + s * w;
      }
    }
  } else if (src !== scratch) {
    scratch.set(src);
  }
  const lut = gammaTable(d.gamma);
  const top = GAMMA_STEPS - 1;
  for (let i = 0; i < side * side; i++) {
    const u = scratch[i] * (top / 255);
    const g = lut[u <= 0 ? 0 : u >= top ? top : Math.round(u)];
    let v = g * 255 * d.gain + d.bias + (rnd() - 0.5) * 2 * d.noise;
    v = Math.round(v / d.quant) * d.quant;
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

const GAMMA_STEPS = 4096;
const gammaTables = new Map<number, Float32Array>();

/** `x^gamma` sampled on [0, 1] (cached per gamma). */
function gammaTable(gamma: number): Float32Array {
  let t = gammaTables.get(gamma);
  if (!t) {
    t = new Float32Array(GAMMA_STEPS);
    for (let k = 0; k < GAMMA_STEPS; k++) t[k] = Math.pow(k / (GAMMA_STEPS - 1), gamma);
    gammaTables.set(gamma, t);
  }
  return t;
}

/** Master frame index shown at time `t` (seconds) when sampling the master by nearest frame. */
export function nearestMasterFrame(t: number, masterFps: number): number {
  return Math.round(t * masterFps);
}

/** A clip derived from a master by nearest-frame sampling. */
export interface DerivedSpec {
  /** Nominal frame rate. */
  fps: number;
  /** Master time (seconds) shown by frame 0. */
  start: number;
  /** Number of frames. */
  frames: number;
  /** Degradation applied to every frame. */
  degradation: Degradation;
  /** Frame indices after which one content frame is skipped (dropped frames). */
  drops?: number[];
  /** Frame indices whose content is repeated by the next frame (duplicated frames). */
  dups?: number[];
  /** Fraction of frames removed from the timeline (variable frame rate), seeded. */
  vfrDrop?: number;
  /** Seed for `vfrDrop`. */
  vfrSeed?: number;
  /** Playback speed: master seconds per clip second (default 1). */
  speed?: number;
  /** Edits: after frame `at`, the content jumps forward by `seconds` (a removed segment). */
  jumps?: { at: number; seconds: number }[];
}

/** Timestamps (presentation, seconds from 0) and master frame shown by each derived frame. */
export interface DerivedClip {
  /** Presentation time of each frame. */
  times: Float64Array;
  /** Master frame index shown by each frame (clamped to the master). */
  master: Int32Array;
}

/** Samples the master timeline for a derived clip (no rendering). */
export function deriveClip(
  spec: DerivedSpec,
  masterFps: number,
  masterFrames: number,
): DerivedClip {
  const drops = new Set(spec.drops ?? []);
  const dups = new Set(spec.dups ?? []);
  const rnd = mulberry32(spec.vfrSeed ?? 99);
  const times: number[] = [];
  const master: number[] = [];
  let content = 0;
  let skipped = 0;
  const speed = spec.speed ?? 1;
  for (let k = 0; k < spec.frames; k++) {
    const keep = !(spec.vfrDrop && k > 0 && rnd() < spec.vfrDrop);
    for (const j of spec.jumps ?? []) if (j.at === k) skipped += j.seconds;
    if (keep) {
      times.push(k / spec.fps);
      const m = nearestMasterFrame(spec.start + skipped + (speed * content) / spec.fps, masterFps);
      master.push(Math.max(0, Math.min(masterFrames - 1, m)));
    }
    content += dups.has(k) ? 0 : drops.has(k) ? 2 : 1;
  }
  return { times: Float64Array.from(times), master: Int32Array.from(master) };
}

/** Renders, degrades and passes each frame of a derived clip to `sink` (thumbnail, index). */
export function renderClip(
  clip: MasterClip,
  derived: DerivedClip,
  d: Degradation,
  sink: (thumb: Uint8Array, index: number) => void,
): void {
  const side = SYNTH_SIDE;
  const frame = new Float32Array(side * side);
  const scratch = new Float32Array(side * side);
  const thumb = new Uint8Array(side * side);
  for (let k = 0; k < derived.master.length; k++) {
    clip.render(derived.master[k], frame);
    degrade(frame, d, derived.master[k] * 31 + k, scratch, thumb);
    sink(thumb, k);
  }
}

/** Latent "content" for synthetic embeddings (no rendering): an AR(1) walk per master step. */
export interface LatentSpec {
  /** Embedding dimension. */
  dim: number;
  /** Correlation of consecutive master steps (closer to 1 = slower change). */
  rho: number;
  /** Seed. */
  seed: number;
  /** Master step ranges [from, to) where the content is frozen (static shots). */
  frozen?: [number, number][];
  /** Master steps where the content is redrawn from scratch (scene cuts). */
  cuts?: number[];
}

/**
 * Synthetic int8 embeddings: walks the latent over master steps 0..max(pick) and emits, for each
 * clip, the latent at the master steps it picks plus independent noise (an "encode").
 */
export function latentEmbeddings(
  spec: LatentSpec,
  clips: { master: Int32Array; noise: number; seed: number }[],
): Int8Array[] {
  const dim = spec.dim;
  const rnd = mulberry32(spec.seed);
  const x = new Float32Array(dim);
  const redraw = () => {
    for (let d = 0; d < dim; d++) x[d] = rnd() - 0.5;
  };
  redraw();
  const s = Math.sqrt(1 - spec.rho * spec.rho);
  const cuts = new Set(spec.cuts ?? []);
  const frozen = spec.frozen ?? [];
  let last = 0;
  for (const c of clips) for (const m of c.master) last = Math.max(last, m);
  const outs = clips.map((c) => new Int8Array(c.master.length * dim));
  const noise = clips.map((c) => mulberry32(c.seed));
  // clip frames sorted by master step (each clip's master indices are non-decreasing)
  const cursor = clips.map(() => 0);
  for (let m = 0; m <= last; m++) {
    if (cuts.has(m)) redraw();
    else if (!frozen.some(([a, b]) => m >= a && m < b)) {
      for (let d = 0; d < dim; d++) x[d] = spec.rho * x[d] + s * (rnd() - 0.5);
    }
    for (let c = 0; c < clips.length; c++) {
      const cl = clips[c];
      while (cursor[c] < cl.master.length && cl.master[cursor[c]] === m) {
        const o = cursor[c] * dim;
        const r = noise[c];
        for (let d = 0; d < dim; d++) {
          const q = Math.round((x[d] + (r() - 0.5) * cl.noise) * 200);
          outs[c][o + d] = q > 127 ? 127 : q < -127 ? -127 : q;
        }
        cursor[c]++;
      }
    }
  }
  return outs;
}
