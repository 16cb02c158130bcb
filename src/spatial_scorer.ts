/**
 * Direct (pixel-space) NCC scoring of placements for the spatial search, with template and
 * filtered-bg caches, and the hill climbing over position and scale that refines a placement at
 * one pyramid level. Pure: no I/O.
 * @module
 */
import { boxHighPass, type Rect } from "./gray_image.ts";
import { nccPlaced } from "./ncc.ts";
import {
  EPS,
  type Level,
  Pyramid,
  type RenderedTemplate,
  renderTemplate,
} from "./spatial_pyramid.ts";

// ---------------------------------------------------------------------------------------------
// Scoring in pixel space

/** A placement at a pyramid level: footprint origin in level pixels, footprint size full-res. */
export interface LevelState {
  xl: number;
  yl: number;
  fw: number;
  fh: number;
}

/** Budget of the rendered-template cache. */
const TEMPLATE_CACHE_BYTES = 32 * 1024 * 1024;
/** Budget of the band-passed bg image cache. */
const BG_CACHE_BYTES = 32 * 1024 * 1024;

/** A least-recently-used cache with a byte budget. */
class LruCache<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  /** The cached value (refreshing its recency), or undefined. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Stores a value, evicting the least recently used ones beyond the budget. */
  set(key: string, value: V, bytes: number): void {
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.budget || this.map.size <= 1) break;
      this.map.delete(k);
      this.bytes -= e.bytes;
    }
  }

  /** Empties the cache. */
  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}

/** Direct-NCC scoring of placements against fg/bg pyramids, with a template cache. */
export class Scorer {
  readonly fgW: number;
  readonly fgH: number;
  readonly bgW: number;
  readonly bgH: number;
  private readonly cache = new LruCache<RenderedTemplate | null>(TEMPLATE_CACHE_BYTES);
  private readonly bgCache = new LruCache<Level>(BG_CACHE_BYTES);

  constructor(
    readonly fg: Pyramid[],
    readonly bg: Pyramid[],
    readonly content: Rect,
    /** fg samples whose content is not flat (only those are scored). */
    readonly informative: boolean[],
    /** fg's templates clipped at this many robust deviations ({@link renderTemplate}). */
    readonly clip?: number,
  ) {
    this.fgW = fg[0].levels[0].width;
    this.fgH = fg[0].levels[0].height;
    this.bgW = bg[0].levels[0].width;
    this.bgH = bg[0].levels[0].height;
  }

  /** Deepest pyramid level usable for both fg and bg. */
  get maxLevel(): number {
    return Math.min(this.fg[0].maxLevel, this.bg[0].maxLevel);
  }

  /** fg sample k's content rendered for footprint `fw x fh` at a pyramid level (cached). */
  template(k: number, fw: number, fh: number, level: number): RenderedTemplate | null {
    const key = `${k}|${level}|${fw}|${fh}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const t = renderTemplate(this.fg[k], this.content, fw, fh, 2 ** level, undefined, this.clip);
    this.cache.set(key, t, t ? t.data.byteLength : 0);
    return t;
  }

  /** Drops cached templates (filtered bg images stay cached, within their own budget). */
  clearCache(): void {
    this.cache.clear();
  }

  /** bg sample b at a pyramid level, band-passed with radius r (cached). */
  bgImage(b: number, level: number, r: number): Level {
    const key = `${b}|${level}|${r}`;
    const hit = this.bgCache.get(key);
    if (hit) return hit;
    const lv = this.bg[b].get(level);
    const data = new Float32Array(lv.width * lv.height);
    boxHighPass(lv.data, lv.width, lv.height, r, data);
    const out = { width: lv.width, height: lv.height, data };
    this.bgCache.set(key, out, data.byteLength);
    return out;
  }

  /** NCC of fg sample k against bg sample b at a placement; -Infinity when invalid. */
  scoreOne(k: number, b: number, st: LevelState, level: number, rowStep: number): number {
    const t = this.template(k, st.fw, st.fh, level);
    if (!t) return -Infinity;
    const img = this.bgImage(b, level, t.r);
    const x = st.xl + t.offX, y = st.yl + t.offY;
    if (x < 0 || y < 0 || x + t.width > img.width || y + t.height > img.height) return -Infinity;
    return nccPlaced(t, img.data, img.width, x, y, rowStep);
  }

  /** Mean NCC over the fg samples with a pair (`pairs[k] >= 0`); -Infinity when invalid. */
  score(pairs: number[], st: LevelState, level: number, rowStep: number): number {
    let s = 0, n = 0;
    for (let k = 0; k < pairs.length; k++) {
      if (pairs[k] < 0) continue;
      const v = this.scoreOne(k, pairs[k], st, level, rowStep);
      if (v === -Infinity) return -Infinity;
      s += v;
      n++;
    }
    return n > 0 ? s / n : 0;
  }

  /** Mean of bg sample b's luma under fg's content at a placement (NaN when invalid). */
  meanUnder(k: number, b: number, st: LevelState, level: number): number {
    const t = this.template(k, st.fw, st.fh, level);
    if (!t) return NaN;
    const img = this.bg[b].get(level);
    const x = st.xl + t.offX, y = st.yl + t.offY;
    if (x < 0 || y < 0 || x + t.width > img.width || y + t.height > img.height) return NaN;
    let s = 0;
    for (let r = 0; r < t.height; r++) {
      const o = (y + r) * img.width + x;
      for (let c = 0; c < t.width; c++) s += img.data[o + c];
    }
    return s / (t.width * t.height);
  }

  /**
   * bg samples ranked (best first) for each fg sample at a placement, among `among[k]` (default
   * all). Flat fg samples rank bg samples by how close their mean luma is.
   */
  rankPairs(st: LevelState, level: number, rowStep: number, among?: number[][]): number[][] {
    const out: number[][] = [];
    const all = this.bg.map((_, b) => b);
    for (let k = 0; k < this.fg.length; k++) {
      const list = among?.[k] ?? all;
      const t = this.template(k, st.fw, st.fh, level);
      const scored = list.map((b) => {
        const v = !t
          ? 0
          : this.informative[k]
          ? this.scoreOne(k, b, st, level, rowStep)
          : -Math.abs(this.meanUnder(k, b, st, level) - t.rawMean);
        return { b, v: Number.isNaN(v) ? -Infinity : v };
      });
      scored.sort((p, q) => (q.v - p.v) || (p.b - q.b));
      out.push(scored.map((p) => p.b));
    }
    return out;
  }
}

/** Scored pairs: `pairs` with the flat (uninformative) fg samples set to -1. */
export function scoredPairs(pairs: number[], informative: boolean[]): number[] {
  return pairs.map((b, k) => (informative[k] ? b : -1));
}

/** Options of {@link climb}. */
export interface ClimbOptions {
  /** Initial exhaustive position radius (level pixels). */
  radius: number;
  /** Relative scale step; 0 keeps the footprint size fixed. */
  delta: number;
  /**
   * Step through every distinct footprint size instead (full resolution, where single steps
   * may change only the width or only the height).
   */
  pixelLadder?: boolean;
  /** Largest number of single-pixel ladder steps per move (default 4). */
  ladderReach?: number;
  rowStep: number;
  maxMoves: number;
  minScale: number;
  maxScale: number;
}

/**
 * Hill climbing over (position, scale) at one pyramid level: an exhaustive square of positions
 * first, then greedy moves to the best neighbour (8 positions at the same scale; one or two
 * scale steps up/down (up to 4 single-pixel steps with `pixelLadder`) with the content centre
 * kept in place, plus their 8 neighbours: several steps get over small bumps of the score).
 */
export function climb(
  sc: Scorer,
  pairs: number[],
  level: number,
  start: LevelState,
  o: ClimbOptions,
): { state: LevelState; score: number } {
  const f = 2 ** level;
  const fgW = sc.fgW, fgH = sc.fgH;
  const s0 = Math.sqrt((start.fw / fgW) * (start.fh / fgH));
  const ccx = sc.content.x + sc.content.width / 2, ccy = sc.content.y + sc.content.height / 2;
  const sizes = new Map<number, [number, number] | null>();
  const sVal = new Map<number, number>([[0, s0]]);
  const valid = (fw: number, fh: number) => {
    const ss = Math.sqrt((fw / fgW) * (fh / fgH));
    return fw >= 1 && fh >= 1 && ss >= o.minScale * (1 - EPS) && ss <= o.maxScale * (1 + EPS);
  };
  const sizeAt = (i: number): [number, number] | null => {
    let r = sizes.get(i);
    if (r !== undefined) return r;
    if (i === 0) r = [start.fw, start.fh];
    else if (o.pixelLadder) {
      // the next distinct (round(fgW*s), round(fgH*s)) as s moves away from size i -/+ 1
      const j = i - Math.sign(i);
      const prev = sizeAt(j);
      r = null;
      if (prev) {
        let sv = sVal.get(j) ?? s0, fw = prev[0], fh = prev[1];
        const step = 1 + (Math.sign(i) * 0.25) / Math.max(fgW, fgH);
        for (let it = 0; it < 64 && fw === prev[0] && fh === prev[1]; it++) {
          sv *= step;
          fw = Math.round(fgW * sv);
          fh = Math.round(fgH * sv);
        }
        sVal.set(i, sv);
        if (valid(fw, fh) && (fw !== prev[0] || fh !== prev[1])) r = [fw, fh];
      }
    } else {
      const sv = s0 * (1 + o.delta) ** i;
      const fw = Math.round(fgW * sv), fh = Math.round(fgH * sv);
      r = valid(fw, fh) ? [fw, fh] : null;
    }
    sizes.set(i, r);
    return r;
  };
  const memo = new Map<string, number>();
  const ev = (i: number, xl: number, yl: number): number => {
    const key = `${i},${xl},${yl}`;
    const m = memo.get(key);
    if (m !== undefined) return m;
    const sz = sizeAt(i);
    const v = sz ? sc.score(pairs, { xl, yl, fw: sz[0], fh: sz[1] }, level, o.rowStep) : -Infinity;
    memo.set(key, v);
    return v;
  };
  let best = { i: 0, xl: start.xl, yl: start.yl, score: -Infinity };
  const R = o.radius;
  for (let dy = -R; dy <= R; dy++) {
    for (let dx = -R; dx <= R; dx++) {
      const v = ev(0, start.xl + dx, start.yl + dy);
      if (v > best.score) best = { i: 0, xl: start.xl + dx, yl: start.yl + dy, score: v };
    }
  }
  for (let move = 0; move < o.maxMoves && best.score > -Infinity; move++) {
    let cand = best;
    const consider = (i: number, xl: number, yl: number) => {
      const v = ev(i, xl, yl);
      if (v > cand.score + 1e-9) cand = { i, xl, yl, score: v };
    };
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) if (dx || dy) consider(best.i, best.xl + dx, best.yl + dy);
    }
    if (o.delta > 0) {
      const cur = sizeAt(best.i);
      const reach = o.pixelLadder ? (o.ladderReach ?? 4) : 2;
      for (let di = -reach; di <= reach; di++) {
        if (di === 0) continue;
        const nz = sizeAt(best.i + di);
        if (!nz || !cur) continue;
        const ax = Math.round(best.xl + (ccx * (cur[0] - nz[0])) / (fgW * f));
        const ay = Math.round(best.yl + (ccy * (cur[1] - nz[1])) / (fgH * f));
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) consider(best.i + di, ax + dx, ay + dy);
        }
      }
    }
    if (cand === best) break;
    best = cand;
  }
  const sz = sizeAt(best.i) ?? [start.fw, start.fh];
  return { state: { xl: best.xl, yl: best.yl, fw: sz[0], fh: sz[1] }, score: best.score };
}
