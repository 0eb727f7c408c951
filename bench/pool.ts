// The load generator's worker threads, driven by jobs (see protocol.ts).
import { Worker } from "node:worker_threads";
import type { Job, LoadResult, ResultMessage, SignResult } from "./protocol.js";

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: LoadResult | SignResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL("./worker.js", import.meta.url));
      w.on("message", (msg: ResultMessage) => {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(`worker job failed: ${msg.error}`));
      });
      w.on("error", (err) => this.failAll(err));
      w.on("exit", (code) => {
        if (code !== 0) this.failAll(new Error(`load-generator worker exited with ${code}`));
      });
      this.workers.push(w);
    }
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }

  run<T extends LoadResult | SignResult>(worker: number, job: Job, timeoutMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`a ${job.kind} job did not finish within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.workers[worker % this.size]!.postMessage({ id, job });
    });
  }

  /** One job per worker (jobs[i] on worker i), all at once. */
  runAll<T extends LoadResult | SignResult>(jobs: Job[], timeoutMs: number): Promise<T[]> {
    return Promise.all(jobs.map((job, i) => this.run<T>(i, job, timeoutMs)));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** `total` split into `parts` near-equal positive shares (fewer parts when total is small). */
export function split(total: number, parts: number): number[] {
  const n = Math.max(1, Math.min(parts, total));
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}
