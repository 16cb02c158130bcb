/**
 * The worker of {@link ParallelNccCorrelator} (src/ncc_parallel.ts): answers each
 * {@link WorkerRequest} with {@link CpuNccCorrelator.bestOverSync}, its maps transferred back.
 * @module
 */
import { CpuNccCorrelator } from "./ncc.ts";
import type { WorkerReply, WorkerRequest } from "./ncc_parallel.ts";

/** The worker's global scope, as far as it is used here. */
interface Scope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer: Transferable[]): void;
}

const scope = globalThis as unknown as Scope;
const cpu = new CpuNccCorrelator();

scope.onmessage = (e) => {
  const { id, images, width, height, batches } = e.data;
  let reply: WorkerReply;
  const transfer: Transferable[] = [];
  try {
    const results = cpu.bestOverSync(images, width, height, batches);
    for (const row of results) {
      for (const r of row) {
        if (r) transfer.push(r.max.buffer as ArrayBuffer, r.arg.buffer as ArrayBuffer);
      }
    }
    reply = { id, ok: true, results };
  } catch (err) {
    reply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  scope.postMessage(reply, transfer);
};
