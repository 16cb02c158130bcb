/**
 * {@link NccCorrelator} on every CPU core: a request is split by images (or, when there are
 * few, by templates) into parts, one computed on the calling thread and the others in Web
 * Workers (src/ncc_worker.ts), each with {@link CpuNccCorrelator.bestOverSync}, and merged, so
 * the result is bit-identical to the single-threaded correlator. A part's images go to its
 * worker in shared memory. A worker that cannot start (a build without the worker module) or
 * fails is retired and its share computed on the calling thread.
 * @module
 */
import { CpuNccCorrelator, type NccBatch, type NccBest, type NccCorrelator } from "./ncc.ts";
import type { PixelArray } from "./gray_image.ts";

/** One share of a request: which items (batch index, template index) it computes. */
export interface NccShare {
  /** Items in request order, `[batch, template]`. */
  items: [number, number][];
}

/**
 * Splits the non-null templates of `batches` into `parts` contiguous shares of (nearly) equal
 * size, batch-major, so that a share touches few batches (each batch costs one window-variance
 * pass per image). Empty shares are dropped.
 */
export function splitShares(batches: NccBatch[], parts: number): NccShare[] {
  const all: [number, number][] = [];
  batches.forEach((b, i) =>
    b.templates.forEach((t, k) => {
      if (t) all.push([i, k]);
    })
  );
  const n = Math.max(1, Math.min(parts, all.length));
  const out: NccShare[] = [];
  for (let p = 0; p < n; p++) {
    const items = all.slice(
      Math.round((p * all.length) / n),
      Math.round(((p + 1) * all.length) / n),
    );
    if (items.length > 0) out.push({ items });
  }
  return out;
}

/** The sub-request of `share`: only its batches, other templates null. */
export function shareBatches(batches: NccBatch[], share: NccShare): {
  batches: NccBatch[];
  /** Index in `batches` of each sub-request batch. */
  from: number[];
} {
  const from: number[] = [];
  const sub: NccBatch[] = [];
  for (const [b, k] of share.items) {
    if (from[from.length - 1] !== b) {
      from.push(b);
      sub.push({
        width: batches[b].width,
        height: batches[b].height,
        templates: batches[b].templates.map(() => null),
      });
    }
    sub[sub.length - 1].templates[k] = batches[b].templates[k];
  }
  return { batches: sub, from };
}

/**
 * One thread's part of a request: the images `[lo, hi)` against `batches` (sub-batches of the
 * request's, `from` giving each one's index there).
 */
export interface Part {
  lo: number;
  hi: number;
  batches: NccBatch[];
  from: number[];
}

/**
 * How a request is shared by `threads` threads: by images (pairs of them, as the FFT packs two
 * per transform) when there are at least two pairs per thread, so that no image is transformed
 * twice; else by templates ({@link splitShares}). One part: no sharing.
 */
export function planParts(images: number, batches: NccBatch[], threads: number): Part[] {
  const all = { batches, from: batches.map((_, i) => i) };
  const pairs = Math.ceil(images / 2);
  if (threads <= 1 || images === 0) return [{ lo: 0, hi: images, ...all }];
  if (pairs >= 2 * threads) {
    const out: Part[] = [];
    for (let p = 0; p < threads; p++) {
      const lo = 2 * Math.round((p * pairs) / threads);
      const hi = Math.min(images, 2 * Math.round(((p + 1) * pairs) / threads));
      out.push({ lo, hi, ...all });
    }
    return out;
  }
  return splitShares(batches, threads).map((share) => ({
    lo: 0,
    hi: images,
    ...shareBatches(batches, share),
  }));
}

/**
 * Merges a part's results into `out`: by templates, its entries are placed; by images, each
 * placement keeps the higher score (an equal one keeps the earlier part's, lower, image index).
 */
export function mergePart(out: (NccBest | null)[][], part: Part, res: (NccBest | null)[][]): void {
  part.from.forEach((b, j) => {
    res[j].forEach((r, k) => {
      if (!r || !part.batches[j].templates[k]) return;
      const o = out[b][k];
      if (!o) {
        if (part.lo > 0) { for (let i = 0; i < r.arg.length; i++) r.arg[i] += part.lo; }
        out[b][k] = r;
        return;
      }
      const om = o.max, oa = o.arg, rm = r.max, ra = r.arg, lo = part.lo;
      for (let i = 0; i < om.length; i++) {
        if (rm[i] > om[i]) {
          om[i] = rm[i];
          oa[i] = ra[i] + lo;
        }
      }
    });
  });
}

/** A request as a worker receives it. */
export interface WorkerRequest {
  id: number;
  images: Float32Array[];
  width: number;
  height: number;
  batches: NccBatch[];
}

/** A worker's answer. */
export type WorkerReply =
  | { id: number; ok: true; results: (NccBest | null)[][] }
  | { id: number; ok: false; error: string };

/** False when `url` is a local file that cannot be found (other URLs: assumed to exist). */
function moduleExists(url: URL): boolean {
  if (url.protocol !== "file:") return true;
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

interface Helper {
  worker: Worker;
  /** The pending request's settle functions, by id. */
  pending: Map<number, (r: WorkerReply | null) => void>;
  dead: boolean;
}

/** Options of {@link ParallelNccCorrelator}. */
export interface ParallelNccOptions {
  /** Threads in all, the calling one included (default: `navigator.hardwareConcurrency`). */
  threads?: number;
  /** The worker module (default: src/ncc_worker.ts beside this module). */
  workerUrl?: URL;
}

/**
 * {@link NccCorrelator} that computes on `threads` CPU threads (the calling one and
 * `threads − 1` workers), with the same results as {@link CpuNccCorrelator}. Call `destroy()`
 * when done (it terminates the workers).
 */
export class ParallelNccCorrelator implements NccCorrelator {
  /** Always "cpu" (the same computation as {@link CpuNccCorrelator}). */
  readonly kind = "cpu";
  readonly #cpu = new CpuNccCorrelator();
  readonly #helpers: Helper[] = [];
  #nextId = 0;

  /** Starts the workers (none for one thread). */
  constructor(opts: ParallelNccOptions = {}) {
    const threads = Math.max(1, Math.floor(opts.threads ?? navigator.hardwareConcurrency ?? 1));
    const url = opts.workerUrl ?? new URL("./ncc_worker.ts", import.meta.url);
    // a one-file bundle has no worker module beside it: no workers (Deno would report the
    // failed load on stderr even though it is handled)
    if (threads > 1 && !moduleExists(url)) return;
    for (let i = 1; i < threads; i++) {
      let worker: Worker;
      try {
        worker = new Worker(url, { type: "module" });
      } catch {
        break;
      }
      const h: Helper = { worker, pending: new Map(), dead: false };
      const retire = () => {
        h.dead = true;
        for (const settle of h.pending.values()) settle(null);
        h.pending.clear();
        h.worker.terminate();
      };
      worker.onmessage = (e: MessageEvent<WorkerReply>) => {
        const settle = h.pending.get(e.data.id);
        h.pending.delete(e.data.id);
        settle?.(e.data);
      };
      worker.onerror = (e: ErrorEvent) => {
        // not fatal to the process: the share is computed here instead
        e.preventDefault();
        retire();
      };
      worker.onmessageerror = () => retire();
      this.#helpers.push(h);
    }
  }

  /** Threads that compute a request now (the calling one and the live workers). */
  get threads(): number {
    return 1 + this.#helpers.filter((h) => !h.dead).length;
  }

  /** {@link NccCorrelator.bestOver} on all threads. */
  async bestOver(
    images: PixelArray[],
    width: number,
    height: number,
    batches: NccBatch[],
  ): Promise<(NccBest | null)[][]> {
    const live = this.#helpers.filter((h) => !h.dead);
    const parts = planParts(images.length, batches, 1 + live.length);
    if (parts.length <= 1) return this.#cpu.bestOverSync(images, width, height, batches);
    const out: (NccBest | null)[][] = batches.map((b) => b.templates.map(() => null));
    const run = (part: Part) =>
      this.#cpu.bestOverSync(images.slice(part.lo, part.hi), width, height, part.batches);
    const asked = parts.slice(1).map((part, i) => {
      const h = live[i];
      const id = this.#nextId++;
      // the part's images in shared memory: no copy per worker, none back
      const shared = images.slice(part.lo, part.hi).map((img) => {
        const a = new Float32Array(new SharedArrayBuffer(img.length * 4));
        a.set(img);
        return a;
      });
      const reply = new Promise<WorkerReply | null>((resolve) => h.pending.set(id, resolve));
      try {
        const msg: WorkerRequest = { id, images: shared, width, height, batches: part.batches };
        h.worker.postMessage(msg);
      } catch {
        h.pending.delete(id);
        return Promise.resolve(null);
      }
      return reply;
    });
    mergePart(out, parts[0], run(parts[0]));
    // in part order: ties between images go to the lowest index, as on one thread
    for (let i = 1; i < parts.length; i++) {
      const r = await asked[i - 1];
      if (r && !r.ok) throw new Error(`NCC worker failed: ${r.error}`);
      // a worker that could not run it: computed here
      mergePart(out, parts[i], r ? r.results : run(parts[i]));
    }
    return out;
  }

  /** Terminates the workers. */
  destroy(): void {
    for (const h of this.#helpers) {
      if (h.dead) continue;
      h.dead = true;
      for (const settle of h.pending.values()) settle(null);
      h.pending.clear();
      h.worker.terminate();
    }
  }
}
