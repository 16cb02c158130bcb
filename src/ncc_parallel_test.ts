import { assert, assertEquals } from "../tests/assert.ts";
import { rng } from "./gpu/test_util.ts";
import { CpuNccCorrelator, type NccBatch, type NccBest } from "./ncc.ts";
import { ParallelNccCorrelator, planParts, shareBatches, splitShares } from "./ncc_parallel.ts";

function request(seed: number) {
  const r = rng(seed);
  const width = 70, height = 40;
  const images = Array.from(
    { length: 7 },
    () => new Float32Array(width * height).map(() => r() * 2 - 1),
  );
  const sizes = [[9, 7], [12, 9], [16, 11], [70, 40], [80, 8]];
  const batches: NccBatch[] = sizes.map(([w, h], i) => ({
    width: w,
    height: h,
    // some null entries, one flat template
    templates: Array.from(
      { length: 4 },
      (_, k) =>
        (i + k) % 3 === 2
          ? null
          : k === 3 && i === 0
          ? new Float32Array(w * h).fill(5)
          : new Float32Array(w * h).map(() => r() * 2 - 1),
    ),
  }));
  return { images, width, height, batches };
}

function assertSame(a: (NccBest | null)[][], b: (NccBest | null)[][]) {
  assertEquals(a.length, b.length);
  a.forEach((row, i) => {
    assertEquals(row.length, b[i].length);
    row.forEach((x, k) => {
      const y = b[i][k];
      assertEquals(x === null, y === null, `entry ${i},${k}`);
      if (!x || !y) return;
      assertEquals([x.width, x.height], [y.width, y.height]);
      for (let j = 0; j < x.max.length; j++) {
        if (x.max[j] !== y.max[j] || x.arg[j] !== y.arg[j]) {
          throw new Error(`entry ${i},${k} differs at ${j}`);
        }
      }
    });
  });
}

Deno.test("shares split the non-null templates contiguously and cover each once", () => {
  const { batches } = request(1);
  const all = batches.flatMap((b, i) => b.templates.flatMap((t, k) => t ? [`${i},${k}`] : []));
  for (const parts of [1, 2, 3, 7, 100]) {
    const shares = splitShares(batches, parts);
    assertEquals(shares.length, Math.min(parts, all.length));
    const got = shares.flatMap((s) => s.items.map(([i, k]) => `${i},${k}`));
    assertEquals(got, all);
    const sizes = shares.map((s) => s.items.length);
    assert(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes}`);
    for (const s of shares) {
      const sub = shareBatches(batches, s);
      const n = sub.batches.reduce((m, b) => m + b.templates.filter(Boolean).length, 0);
      assertEquals(n, s.items.length);
      sub.from.forEach((b, j) => assertEquals(sub.batches[j].width, batches[b].width));
    }
  }
  assertEquals(splitShares([{ width: 2, height: 2, templates: [null] }], 4), []);
});

Deno.test("parts split many images by pairs, few images by templates", () => {
  const { batches } = request(1);
  // 7 images = 4 pairs: two threads take 2 pairs each
  assertEquals(planParts(7, batches, 2).map((p) => [p.lo, p.hi]), [[0, 4], [4, 7]]);
  for (const p of planParts(7, batches, 2)) assertEquals(p.batches, batches);
  const many = planParts(60, batches, 3).map((p) => [p.lo, p.hi]);
  assertEquals(many, [[0, 20], [20, 40], [40, 60]]);
  // too few pairs for three threads: every part sees all images, a share of the templates
  const few = planParts(7, batches, 3);
  assertEquals(few.length, 3);
  for (const p of few) assertEquals([p.lo, p.hi], [0, 7]);
  const n = few.reduce(
    (m, p) => m + p.batches.flatMap((b) => b.templates).filter(Boolean).length,
    0,
  );
  assertEquals(n, batches.flatMap((b) => b.templates).filter(Boolean).length);
  assertEquals(planParts(7, batches, 1).length, 1);
});

Deno.test("the parallel correlator gives exactly the single-threaded results", async () => {
  const q = request(2);
  const want = new CpuNccCorrelator().bestOverSync(q.images, q.width, q.height, q.batches);
  // 2 threads: split by images; 3: by templates (7 images are too few pairs)
  for (const threads of [1, 2, 3]) {
    const p = new ParallelNccCorrelator({ threads });
    try {
      assertEquals(p.threads, threads);
      // twice: the workers serve more than one request
      for (let n = 0; n < 2; n++) {
        assertSame(await p.bestOver(q.images, q.width, q.height, q.batches), want);
      }
    } finally {
      p.destroy();
    }
  }
});

Deno.test("without a loadable worker the calling thread computes everything", async () => {
  const q = request(3);
  const want = new CpuNccCorrelator().bestOverSync(q.images, q.width, q.height, q.batches);
  // missing module: no worker is started at all
  const missing = new ParallelNccCorrelator({
    threads: 2,
    workerUrl: new URL("./no_such_worker.ts", import.meta.url),
  });
  assertEquals(missing.threads, 1);
  assertSame(await missing.bestOver(q.images, q.width, q.height, q.batches), want);
  missing.destroy();
  // a module that fails to load: the worker is retired, its share computed here
  const dir = await Deno.makeTempDir();
  try {
    const broken = `${dir}/broken_worker.ts`;
    await Deno.writeTextFile(broken, "throw new Error('cannot start');\n");
    const p = new ParallelNccCorrelator({ threads: 2, workerUrl: new URL(`file://${broken}`) });
    try {
      assertSame(await p.bestOver(q.images, q.width, q.height, q.batches), want);
      assertEquals(p.threads, 1);
    } finally {
      p.destroy();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
