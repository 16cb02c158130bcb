import { assert, assertEquals } from "../tests/assert.ts";
import type { ChainPoint } from "./band.ts";
import { checkBreaks } from "./chain_check.ts";
import { EmbeddingStore } from "./embedding_store.ts";
import { rng } from "./gpu/test_util.ts";

const DIM = 32;

/**
 * bg: footage that repeats every `period` frames (a slow random walk) plus a little noise of its
 * own per frame, so look-alikes one period apart are close but not identical; `cut` removes bg
 * frames [cut.at, cut.at + cut.len) from what fg sees.
 */
function scene(period: number, M: number) {
  const rand = rng(7);
  const base: Float32Array[] = [];
  let v = new Float32Array(DIM).map(() => rand() * 2 - 1);
  for (let j = 0; j < period; j++) {
    v = v.map((x) => 0.97 * x + 0.3 * (rand() * 2 - 1));
    base.push(v);
  }
  const bg = new EmbeddingStore(M, DIM);
  for (let j = 0; j < M; j++) {
    const b = base[j % period];
    bg.push(
      Int8Array.from(
        b,
        (x) => Math.max(-127, Math.min(127, Math.round(40 * x + 6 * (rand() * 2 - 1)))),
      ),
    );
  }
  return bg;
}

function copy(bg: EmbeddingStore, frames: number[]) {
  const fg = new EmbeddingStore(frames.length, DIM);
  for (const j of frames) fg.push(bg.data.subarray(j * DIM, (j + 1) * DIM));
  return fg;
}

const times = (n: number) => Float64Array.from({ length: n }, (_, i) => i / 30);

/** checkBreaks at 30 fps, rate 1, a bg stride of 16 (radius 27). */
function check(chain: ChainPoint[], fg: EmbeddingStore, bg: EmbeddingStore) {
  const fgTimes = times(fg.count), bgTimes = times(bg.count);
  return checkBreaks(chain, { fg, bg, fgTimes, bgTimes, rate: 1, radius: 27, baseline: 0.2 });
}

function chainOf(points: [number, number][], breaksAt: number[]): ChainPoint[] {
  return points.map(([f, b]) => ({ fg: f, bg: b, score: 0.99, breakBefore: breaksAt.includes(f) }));
}

Deno.test("checkBreaks drops a detour onto a look-alike stretch one period away", () => {
  const P = 600, M = 6000, start = 1000, N = 4000;
  const bg = scene(P, M);
  const fg = copy(bg, Array.from({ length: N }, (_, i) => start + i));
  // every 16th fg frame on the true line, except fg 1600..2200 matched one period later
  const pts: [number, number][] = [];
  for (let i = 0; i < N; i += 16) pts.push([i, i >= 1600 && i < 2200 ? start + i + P : start + i]);
  const chain = chainOf(pts, [1600, 2208]);
  const out = check(chain, fg, bg);
  assertEquals(out.filter((p) => p.breakBefore).length, 0);
  assert(out.every((p) => p.bg === start + p.fg), "only true-line points are left");
  assert(out.length > 200, `${out.length} points kept`);
});

Deno.test("checkBreaks keeps a genuine break (a segment missing from bg)", () => {
  const P = 6000, M = 6000, N = 3000;
  const bg = scene(P, M);
  // fg = bg 500..1999, then bg 3500..4999: 1500 bg frames are missing from fg
  const frames = [
    ...Array.from({ length: 1500 }, (_, i) => 500 + i),
    ...Array.from({ length: 1500 }, (_, i) => 3500 + i),
  ];
  const fg = copy(bg, frames);
  const pts: [number, number][] = [];
  for (let i = 0; i < N; i += 16) pts.push([i, frames[i]]);
  const chain = chainOf(pts, [1504]);
  const out = check(chain, fg, bg);
  assertEquals(out.length, chain.length);
  assertEquals(out.filter((p) => p.breakBefore).map((p) => p.fg), [1504]);
});
