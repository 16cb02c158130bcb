/**
 * The spatial search's settings per precision and its coarse stage: FFT NCC maps of every fg
 * sample's content over every bg sample at per-scale working resolutions, the consensus over fg
 * samples, and its peaks as candidates. A generator, so that any correlator (CPU or WGSL) can
 * answer its requests. Pure: no I/O.
 * @module
 */
import { boxHighPass, type Rect } from "./gray_image.ts";
import { nextPowerOfTwo } from "./fft.ts";
import {
  CpuNccCorrelator,
  type NccBatch,
  type NccBest,
  type NccCorrelator,
  nccPeaks,
} from "./ncc.ts";
import {
  bandRadius,
  EPS,
  Pyramid,
  type RenderedTemplate,
  renderTemplate,
} from "./spatial_pyramid.ts";
import { type Cand } from "./spatial_candidates.ts";

// ---------------------------------------------------------------------------------------------
// Settings

/** Search parameters of one precision level (see {@link settings}). */
export interface Settings {
  /** Footprint content short side at the coarse level (px). */
  minSide: number;
  /** Scale grid ratio. */
  ratio: number;
  /** Largest coarse bg side (FFT size). */
  maxFft: number;
  /** Candidates kept after the coarse stage. */
  keep: number;
  /** Peaks per scale. */
  peaks: number;
  /** Candidates refined at full resolution. */
  fullRes: number;
  /** Row step of the full-resolution search (final scores always use every row). */
  rowStep: number;
  /** Fine scale search at full resolution for every contender (else only the best free one). */
  fineAll: boolean;
  /** Single-pixel size steps tried per move by the fine scale search (0: none). */
  ladderReach: number;
}

/** The settings of a precision level 0-4 (rounded and clamped; not a number: 2). */
export function settings(precision: number): Settings {
  const p = Number.isFinite(precision) ? Math.max(0, Math.min(4, Math.round(precision))) : 2;
  return [
    {
      minSide: 20,
      ratio: 1.12,
      maxFft: 256,
      keep: 4,
      peaks: 2,
      fullRes: 2,
      rowStep: 4,
      fineAll: false,
      ladderReach: 0,
    },
    {
      minSide: 24,
      ratio: 1.09,
      maxFft: 256,
      keep: 6,
      peaks: 2,
      fullRes: 2,
      rowStep: 3,
      fineAll: false,
      ladderReach: 2,
    },
    {
      minSide: 28,
      ratio: 1.07,
      maxFft: 256,
      keep: 8,
      peaks: 3,
      fullRes: 3,
      rowStep: 3,
      fineAll: false,
      ladderReach: 3,
    },
    {
      minSide: 36,
      ratio: 1.045,
      maxFft: 512,
      keep: 10,
      peaks: 3,
      fullRes: 3,
      rowStep: 2,
      fineAll: true,
      ladderReach: 4,
    },
    {
      minSide: 44,
      ratio: 1.03,
      maxFft: 512,
      keep: 14,
      peaks: 4,
      fullRes: 4,
      rowStep: 1,
      fineAll: true,
      ladderReach: 4,
    },
  ][p];
}

/** A scale of the coarse grid, with its footprint size and whether it is a special size. */
export interface GridScale {
  fw: number;
  fh: number;
  forced: boolean;
}

// ---------------------------------------------------------------------------------------------
// Coarse stage

/** A coarse candidate and the working resolution it came from. */
export interface Coarse {
  cand: Cand;
  /** Working-resolution factor (bg pixels per working pixel). */
  d: number;
  forced: boolean;
}

/** Size of the FFT grid for a bg image seen at factor d. */
export function fftArea(bgW: number, bgH: number, d: number): { w: number; h: number } {
  return {
    w: nextPowerOfTwo(Math.floor(bgW / d + EPS)),
    h: nextPowerOfTwo(Math.floor(bgH / d + EPS)),
  };
}

/**
 * Working-resolution factor for each grid scale: among factors that make the bg just fit a
 * power-of-two FFT (bgH/2^m, bgW/2^m, or half-octaves), with FFT sides <= maxFft and the
 * footprint's content short side >= minSide (or as large as allowed), the cheapest FFT.
 */
export function chooseFactors(
  scales: GridScale[],
  fgW: number,
  fgH: number,
  bgW: number,
  bgH: number,
  content: Rect,
  maxLevel: number,
  set: Settings,
): number[] {
  const ds = new Set<number>();
  const dMax = 2 ** maxLevel * 1.999;
  for (let m = 0; m < 24; m++) {
    for (const d of [bgH / 2 ** m, bgW / 2 ** m, 2 ** (m / 2)]) if (d >= 1 && d <= dMax) ds.add(d);
  }
  const all = [...ds].sort((a, b) => b - a);
  const allowed = all.filter((d) => {
    const f = fftArea(bgW, bgH, d);
    return Math.max(f.w, f.h) <= set.maxFft;
  });
  // none within maxFft (a tiny fg limits the pyramid depth): the coarsest factor, smallest FFT
  const pool = allowed.length ? allowed : [all[0]];
  return scales.map((g) => {
    const short = Math.min((content.width * g.fw) / fgW, (content.height * g.fh) / fgH);
    const bestFoot = short / pool[pool.length - 1];
    const need = Math.min(set.minSide, 0.8 * bestFoot);
    let best = pool[pool.length - 1], bestArea = Infinity;
    for (const d of pool) {
      if (short / d < need - EPS) continue;
      const f = fftArea(bgW, bgH, d);
      if (f.w * f.h < bestArea) {
        bestArea = f.w * f.h;
        best = d;
      }
    }
    return best;
  });
}

/** What the coarse stage asks a correlator: bg images at one working resolution, templates. */
export interface CoarseRequest {
  /** Band-passed bg samples at the working resolution. */
  images: Float32Array[];
  /** Their width. */
  width: number;
  /** Their height. */
  height: number;
  /** One batch per grid scale of the working resolution (fg samples' templates). */
  batches: NccBatch[];
}

/**
 * Coarse stage: for every grid scale, NCC maps (FFT) of each fg sample's band-passed content
 * over every bg sample at a small working resolution; per fg sample the best bg sample per
 * position; consensus = mean over fg samples (the worst dropped when >= 4); its peaks become
 * candidates (full-res coordinates). A generator: it yields one correlation request per working
 * resolution (all its grid scales at once, so that a GPU correlator makes one round trip per
 * working resolution) and is resumed with the answer; it returns the candidates. `clip`: fg's
 * templates clipped as in {@link renderTemplate}.
 */
export function* coarseSteps(
  fgPyr: Pyramid[],
  bgPyr: Pyramid[],
  content: Rect,
  scales: GridScale[],
  informative: boolean[],
  set: Settings,
  clip?: number,
): Generator<CoarseRequest, Coarse[], (NccBest | null)[][]> {
  const fgW = fgPyr[0].levels[0].width, fgH = fgPyr[0].levels[0].height;
  const bgW = bgPyr[0].levels[0].width, bgH = bgPyr[0].levels[0].height;
  const maxLevel = Math.min(fgPyr[0].maxLevel, bgPyr[0].maxLevel);
  const factors = chooseFactors(scales, fgW, fgH, bgW, bgH, content, maxLevel, set);
  const groups = new Map<number, GridScale[]>();
  scales.forEach((g, i) => {
    const list = groups.get(factors[i]) ?? [];
    list.push(g);
    groups.set(factors[i], list);
  });
  const out: Coarse[] = [];
  for (const [d, group] of groups) {
    // one band-pass radius per working resolution, from its smallest footprint
    let shortest = Infinity;
    for (const g of group) {
      const sx = g.fw / fgW / d, sy = g.fh / fgH / d;
      shortest = Math.min(shortest, content.width * sx, content.height * sy);
    }
    let r = bandRadius(shortest);
    while (r > 1 && shortest - 2 * r < 6) r = Math.max(1, r >> 1);
    const bgC = bgPyr.map((p) => {
      const lv = p.atFactor(d);
      const data = new Float32Array(lv.width * lv.height);
      boxHighPass(lv.data, lv.width, lv.height, r, data);
      return { width: lv.width, height: lv.height, data };
    });
    const cw = bgC[0].width, ch = bgC[0].height;
    const items: { g: GridScale; t0: RenderedTemplate }[] = [];
    const batches: NccBatch[] = [];
    for (const g of group) {
      const tpls = fgPyr.map((p, k) =>
        informative[k] ? renderTemplate(p, content, g.fw, g.fh, d, r, clip) : null
      );
      const t0 = tpls.find((t) => t !== null);
      if (!t0 || t0.width > cw || t0.height > ch) continue;
      items.push({ g, t0 });
      batches.push({
        width: t0.width,
        height: t0.height,
        templates: tpls.map((t) => t?.data ?? null),
      });
    }
    if (items.length === 0) continue;
    const answers = yield { images: bgC.map((b) => b.data), width: cw, height: ch, batches };
    items.forEach(({ g, t0 }, s) => {
      const res = answers[s];
      const used: number[] = [];
      res.forEach((m, k) => {
        if (m) used.push(k);
      });
      if (used.length === 0) return;
      const mw = cw - t0.width + 1, mh = ch - t0.height + 1, n = mw * mh;
      const cons = new Float32Array(n);
      const m = used.length, drop = m >= 4;
      const maps = used.map((k) => res[k]!.max);
      for (let i = 0; i < n; i++) {
        let s = 0, lo = Infinity;
        for (const mk of maps) {
          const v = mk[i];
          s += v;
          if (v < lo) lo = v;
        }
        cons[i] = drop ? (s - lo) / (m - 1) : s / m;
      }
      const peaks = nccPeaks({ width: mw, height: mh, data: cons }, set.peaks, 2);
      for (const pk of peaks) {
        const i = pk.y * mw + pk.x;
        out.push({
          cand: {
            x: Math.round((pk.x - t0.offX) * d),
            y: Math.round((pk.y - t0.offY) * d),
            fw: g.fw,
            fh: g.fh,
            score: pk.score,
            fixed: g.forced,
            pairs: fgPyr.map((_, k) => (res[k] ? res[k]!.arg[i] : 0)),
            start: 0,
          },
          d,
          forced: g.forced,
        });
      }
    });
  }
  return out;
}

/** Runs {@link coarseSteps} to completion with a synchronous CPU correlator. */
export function coarseSync(
  steps: Generator<CoarseRequest, Coarse[], (NccBest | null)[][]>,
): Coarse[] {
  const cpu = new CpuNccCorrelator();
  let r = steps.next(undefined as unknown as (NccBest | null)[][]);
  while (!r.done) {
    const q = r.value;
    r = steps.next(cpu.bestOverSync(q.images, q.width, q.height, q.batches));
  }
  return r.value;
}

/** Runs {@link coarseSteps} to completion with any correlator. */
export async function coarseAsync(
  steps: Generator<CoarseRequest, Coarse[], (NccBest | null)[][]>,
  correlator: NccCorrelator,
): Promise<Coarse[]> {
  let r = steps.next(undefined as unknown as (NccBest | null)[][]);
  while (!r.done) {
    const q = r.value;
    r = steps.next(await correlator.bestOver(q.images, q.width, q.height, q.batches));
  }
  return r.value;
}
