import cluster, { type Worker } from "node:cluster";
import { makeDirectory } from "../sync-directory.js";
import type { OpenClmConfig } from "../config/types.js";
import { loadKek } from "../crypto/envelope.js";

/**
 * `openclm serve --workers N`: N server processes sharing one listening socket (node:cluster),
 * so one machine's cores all serve. They coordinate through the PostgreSQL database exactly as
 * separate machines would; this primary process only starts them, replaces one that dies, and
 * stops them all on SIGTERM/SIGINT. SQLite has one server process per database file.
 */

export interface ClusterMessage {
  type: "listening";
  url: string;
}

const RESTART_DELAY_MS = 1_000;
const STOP_TIMEOUT_MS = 15_000;

export async function runCluster(workers: number, config: OpenClmConfig, dataDir: string): Promise<void> {
  // The key-encryption key file is created by the first start; made here once, not raced by N workers.
  makeDirectory(dataDir, 0o700);
  await loadKek(config.keyEncryptionKey, dataDir);

  let stopping = false;
  let announced = false;
  const listening = new Set<Worker>();
  const start = (): Worker => {
    const worker = cluster.fork();
    worker.on("message", (m: ClusterMessage) => {
      if (m?.type !== "listening") return;
      listening.add(worker);
      if (!announced && listening.size === workers) {
        announced = true;
        process.stdout.write(`listening on ${m.url} (${workers} worker processes)\n`);
      }
    });
    worker.on("exit", (code, signal) => {
      const served = listening.delete(worker);
      if (stopping) return;
      // One that never got to listen would fail again (bad configuration, wrong key): give up.
      if (!served) {
        process.stderr.write(`openclm: a worker process could not start (${signal ?? `exit code ${code}`}); stopping\n`);
        stop(1);
        return;
      }
      process.stderr.write(`openclm: worker ${worker.process.pid} ended (${signal ?? `exit code ${code}`}); starting another\n`);
      setTimeout(() => {
        if (!stopping) start();
      }, RESTART_DELAY_MS).unref();
    });
    return worker;
  };
  for (let i = 0; i < workers; i++) start();

  function stop(exitCode = 0): void {
    if (stopping) return;
    stopping = true;
    const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    const force = setTimeout(() => process.exit(1), STOP_TIMEOUT_MS);
    force.unref();
    let left = all.length;
    if (left === 0) process.exit(exitCode);
    for (const w of all) {
      w.once("exit", () => {
        if (--left === 0) process.exit(exitCode);
      });
      w.process.kill("SIGTERM");
    }
  }
  process.on("SIGTERM", () => stop());
  process.on("SIGINT", () => stop());
}
