import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * Moves SQLite's WAL checkpoints off the event loop. With automatic checkpoints every 1,000
 * pages, the commit that crossed the line copied 4 MB into the database file and waited for two
 * fsyncs on the request's thread: one commit in 40 took about 6 ms, most of all commit time. A
 * worker thread with its own connection now checkpoints passively (never blocking readers or the
 * writer) twenty times a second, so that work and its fsyncs happen beside the requests. The
 * interval bounds what is left for the writer's own checkpoint when it crosses its mark: at 200 ms,
 * under issuance load, that was up to 200 ms of pages to copy and fsync on the request's thread —
 * stalls of 10-25 ms that set the p99 of certificatedata (28 ms; 22 ms at 50 ms). Once a
 * checkpoint has copied the whole WAL, whichever connection ran it, the writer's next commit starts
 * the WAL over from its beginning (seen here: 601 frames, then 3). The server's connection keeps
 * an automatic checkpoint at a ten times higher mark, for when the worker falls behind; by then
 * nearly every page has been copied already, and what is left on the request's thread is small.
 */

export const WRITER_AUTOCHECKPOINT_PAGES = 10_000;
const INTERVAL_MS = 50;

// Runs as a CommonJS script in the worker; better-sqlite3's path comes from the parent, so the
// worker resolves nothing itself.
const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 0");
db.pragma("synchronous = NORMAL");
let timer;
const tick = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch { /* busy: the writer is checkpointing; next tick */ }
  timer = setTimeout(tick, workerData.intervalMs);
};
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on("message", () => {
  clearTimeout(timer);
  db.close();
  parentPort.postMessage("closed");
  parentPort.close();
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(file: string): Checkpointer {
  const module = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, file, intervalMs: INTERVAL_MS } });
  // A failing checkpointer must not take the server down: the writer's own checkpoints remain.
  worker.on("error", () => {});
  worker.unref();
  // One that already ended (an error) will send nothing more: stopping it must not wait.
  let exited = false;
  worker.once("exit", () => (exited = true));
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      if (exited) return Promise.resolve();
      stopped ??= new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
        worker.once("message", () => void worker.terminate());
        worker.postMessage("stop");
      });
      return stopped;
    },
  };
}
