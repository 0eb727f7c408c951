// The bench's per-thread CPU figures (bench/processes.ts): they say which thread limits a load, so
// they must charge CPU to the thread that used it. A child process whose worker thread spins while
// its main thread waits must come out with the worker far above the main thread, and the reverse.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { ProcSampler } from "../../bench/processes.js";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

const spin = "const end = Date.now() + 1500; while (Date.now() < end) {}";

/** A node process that spins for 1.5 s on its main thread or on a worker thread, then says "done". */
async function spinner(on: "main" | "worker"): Promise<ChildProcess> {
  const code =
    on === "main"
      ? `${spin}; console.log("done")`
      : // The worker stays alive after its spin: a thread that has ended is no longer in /proc to be read.
        `const { Worker } = require("node:worker_threads"); const w = new Worker(${JSON.stringify(`${spin}; require("node:worker_threads").parentPort.postMessage(0); setTimeout(() => {}, 10000)`)}, { eval: true }); w.on("message", () => console.log("done"));`;
  // Started, and its worker (if any) running, before sampling begins.
  const child = spawn(process.execPath, ["-e", `setTimeout(() => { ${code} }, 300)`], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise((r) => setTimeout(r, 200));
  return child;
}

async function usageWhile(child: ChildProcess) {
  const now = () => performance.now();
  const sampler = new ProcSampler(child.pid!, now, 100);
  const from = now();
  await once(child.stdout!, "data");
  sampler.sample();
  sampler.stop();
  return sampler.usage(from, now())!;
}

describe("ProcSampler per-thread CPU", () => {
  it("charges a spinning worker thread to the worker, not to the main thread", async () => {
    const u = await usageWhile(await spinner("worker"));
    expect(u.busiestOtherThreadPercent).toBeGreaterThan(u.mainThreadPercent! + 20);
    expect(u.cpuPercent).toBeGreaterThanOrEqual(u.busiestOtherThreadPercent! - 1);
  });

  it("charges a spinning main thread to the main thread", async () => {
    const u = await usageWhile(await spinner("main"));
    expect(u.mainThreadPercent).toBeGreaterThan(u.busiestOtherThreadPercent! + 20);
  });
});
