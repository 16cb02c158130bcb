/**
 * Placements being refined by the spatial search: conversion to the public candidate, distance
 * between candidates, the choice of the best one (exact sizes preferred on ties) and pruning of
 * near-duplicates between pyramid levels. Pure: no I/O.
 * @module
 */
import { type Rect } from "./gray_image.ts";
import type { SpatialCandidate } from "./spatial_search.ts";

// ---------------------------------------------------------------------------------------------
// Candidates

/** A placement being refined (full-res coordinates). */
export interface Cand {
  x: number;
  y: number;
  fw: number;
  fh: number;
  score: number;
  /** Footprint size fixed (exact 1.0, a "fits bg" size, or a user-fixed scale). */
  fixed: boolean;
  /** bg sample per fg sample. */
  pairs: number[];
  /** A few best bg samples per fg sample (re-ranked at finer levels). */
  shortlist?: number[][];
  /** Pyramid level where refinement starts. */
  start: number;
}

/** A footprint's scale relative to fg: geometric mean of its two axis scales. */
export function candScale(c: { fw: number; fh: number }, fgW: number, fgH: number): number {
  return Math.sqrt((c.fw / fgW) * (c.fh / fgH));
}

/** The public {@link SpatialCandidate} of a candidate being refined. */
export function toCandidate(c: Cand, fgW: number, fgH: number): SpatialCandidate {
  const scaleX = c.fw / fgW, scaleY = c.fh / fgH;
  return {
    x: c.x,
    y: c.y,
    scale: Math.sqrt(scaleX * scaleY),
    scaleX,
    scaleY,
    width: c.fw,
    height: c.fh,
    score: c.score,
  };
}

/** Distance in bg pixels between the content centres of two placements. */
export function centreDistance(a: Cand, b: Cand, content: Rect, fgW: number, fgH: number): number {
  const cx = content.x + content.width / 2, cy = content.y + content.height / 2;
  const ax = a.x + (cx * a.fw) / fgW, ay = a.y + (cy * a.fh) / fgH;
  const bx = b.x + (cx * b.fw) / fgW, by = b.y + (cy * b.fh) / fgH;
  return Math.hypot(ax - bx, ay - by);
}

/**
 * True when two placements are clearly different: content centres more than `px` (8) bg pixels
 * apart or scales more than `rel` (3 %) apart.
 */
export function clearlyDifferent(
  a: Cand,
  b: Cand,
  content: Rect,
  fgW: number,
  fgH: number,
  px = 8,
  rel = 0.03,
): boolean {
  const ds = Math.abs(Math.log(candScale(a, fgW, fgH) / candScale(b, fgW, fgH)));
  return ds > Math.log(1 + rel) || centreDistance(a, b, content, fgW, fgH) > px;
}

/** Score difference within which candidates count as tied (exact sizes then win). */
const TIE = 0.002;

/**
 * Share of the top score's shortfall from 1 within which an exact size (100 %, or "fg = whole
 * bg") still wins, up to {@link EXACT_TIE_MAX}: resampling fg for any other size smooths its
 * noise, which alone raises the NCC of a noisy fg (grain, heavy compression). A film crop with
 * per-frame noise scored 0.9856 at 99.84 % and 0.9770 at its true 100 % (2026-12-08).
 */
const EXACT_TIE_SHARE = 0.75;
/** Cap of the exact sizes' tie margin. */
const EXACT_TIE_MAX = 0.015;

/** True when the candidate's footprint is fg's own size (100 %). */
export function isUnit(c: Cand, fgW: number, fgH: number): boolean {
  return c.fw === fgW && c.fh === fgH;
}

/**
 * The winner among scored candidates: the top score, except that an exact 100 % candidate wins
 * within {@link TIE} of it (more for a noisy top score within 2 % of its size, see
 * {@link EXACT_TIE_SHARE}), then an exact "fg = whole bg" fit (likewise), then, within
 * {@link TIE}, the scale closest to 1.
 */
export function pickBest(cands: Cand[], fgW: number, fgH: number, bgW: number, bgH: number): Cand {
  let top = cands[0];
  for (const c of cands) if (c.score > top.score) top = c;
  const near = cands.filter((c) => c.score >= top.score - TIE);
  // the wider margin only where the top candidate's size is within 2 % of the exact one's
  const noisy = Math.max(TIE, Math.min(EXACT_TIE_MAX, EXACT_TIE_SHARE * (1 - top.score)));
  const close = (fw: number, fh: number) =>
    Math.abs(Math.log(Math.sqrt((top.fw / fw) * (top.fh / fh)))) < 0.02;
  const tied = (c: Cand) => c.score >= top.score - (close(c.fw, c.fh) ? noisy : TIE);
  const unit = cands.filter((c) => isUnit(c, fgW, fgH) && tied(c));
  if (unit.length) return unit.reduce((a, b) => (b.score > a.score ? b : a));
  const fit = cands.filter((c) =>
    c.fw === bgW && c.fh === bgH && c.x === 0 && c.y === 0 && tied(c)
  );
  if (fit.length) return fit.reduce((a, b) => (b.score > a.score ? b : a));
  let best = top;
  for (const c of near) {
    if (
      Math.abs(Math.log(candScale(c, fgW, fgH))) < Math.abs(Math.log(candScale(best, fgW, fgH)))
    ) {
      best = c;
    }
  }
  return best;
}

/** Candidates sorted by score (fixed sizes first on ties) without same-placement duplicates. */
export function pruneSame(cands: Cand[]): Cand[] {
  const sorted = cands.filter((c) => c.score > -Infinity).sort((a, b) =>
    b.score - a.score || Number(b.fixed) - Number(a.fixed)
  );
  const uniq: Cand[] = [];
  for (const c of sorted) {
    const dup = uniq.some((u) =>
      u.fw === c.fw && u.fh === c.fh && Math.abs(u.x - c.x) <= 1 && Math.abs(u.y - c.y) <= 1
    );
    if (!dup) uniq.push(c);
  }
  return uniq;
}

/**
 * Sorts candidates by score, drops near-duplicates (same size and within 1 px), keeps up to
 * `n` free candidates within `margin` of the best score (always including the best clearly
 * different one, the runner-up, with tolerances widened for the coarse `level`) plus
 * fixed-size candidates within 0.3 of the best score.
 */
export function prune(
  cands: Cand[],
  n: number,
  margin: number,
  level: number,
  content: Rect,
  fgW: number,
  fgH: number,
): Cand[] {
  const f = 2 ** level;
  const uniq: Cand[] = [];
  for (const c of pruneSame(cands)) {
    // near-duplicates of a better candidate of the same kind will converge to it
    const dup = uniq.some((u) =>
      u.fixed === c.fixed &&
      !clearlyDifferent(u, c, content, fgW, fgH, Math.max(3, 2 * f), Math.min(0.05, 0.004 * f))
    );
    if (!dup) uniq.push(c);
  }
  if (uniq.length === 0) return [];
  const top = uniq[0].score;
  const free = uniq.filter((c) => !c.fixed);
  const out: Cand[] = [];
  if (free.length) {
    out.push(free[0]);
    // positions/scales are still rough at coarse levels: demand a larger difference there
    const other = free.find((c) =>
      clearlyDifferent(c, free[0], content, fgW, fgH, Math.max(8, 4 * f), 0.03 + (0.01 * f) / 2)
    );
    if (other && n > 1) out.push(other);
    for (const c of free) {
      if (out.length >= n || c.score < top - margin) break;
      if (!out.includes(c)) out.push(c);
    }
  }
  // exact sizes (100 %, fits) survive generously: at coarse levels they cannot sit on odd
  // full-res positions and lose to slightly rescaled neighbours
  for (const c of uniq) if (c.fixed && c.score >= top - 0.3) out.push(c);
  return out;
}
