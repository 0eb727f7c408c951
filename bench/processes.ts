// The processes the bench measures: the OpenCLM server (and CFSSL), started in their own
// processes with output to a log file, and their CPU time and resident memory read from /proc.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface Running {
  name: string;
  process: ChildProcess;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Spawns `command args` with stdout and stderr going straight to `logFile` (no pipe for the
 * bench to drain), and waits until `ready` matches the log or the process exits.
 */
export async function spawnLogged(opts: {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  ready: RegExp | (() => Promise<boolean>);
  timeoutMs?: number;
}): Promise<{ running: Running; match?: RegExpExecArray }> {
  const fd = openSync(opts.logFile, "a");
  const child = spawn(opts.command, opts.args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited: number | null | undefined;
  let exitSignal: NodeJS.Signals | null = null;
  const exitPromise = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = code;
      exitSignal = signal;
      resolve();
    }),
  );
  child.once("error", () => (exited = -1));
  const running: Running = {
    name: opts.name,
    process: child,
    pid: child.pid ?? -1,
    logFile: opts.logFile,
    async stop() {
      if (exited !== undefined) return;
      child.kill("SIGTERM");
      const done = await Promise.race([exitPromise.then(() => true), sleep(20_000).then(() => false)]);
      if (!done) {
        child.kill("SIGKILL");
        await exitPromise;
      }
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(`${opts.name} exited (${exited ?? exitSignal}) before it was ready; its log:\n${tail(opts.logFile)}`);
    }
    if (opts.ready instanceof RegExp) {
      const m = opts.ready.exec(readFileSync(opts.logFile, "utf8"));
      if (m) return { running, match: m };
    } else if (await opts.ready()) {
      return { running };
    }
    await sleep(50);
  }
  await running.stop();
  throw new Error(`${opts.name} was not ready after ${(opts.timeoutMs ?? 120_000) / 1000} s; its log:\n${tail(opts.logFile)}`);
}

export function tail(file: string, chars = 3000): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.slice(-chars);
  } catch {
    return "(no log)";
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// /proc sampling

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcSample {
  at: number; // hr ms
  cpuSeconds: number; // user + system, all threads
  rssMb: number;
  /** CPU seconds (user + system) of each thread of the process itself, by thread id. */
  threads?: Map<number, number>;
}

/**
 * A process and its child processes (the workers of `serve --workers N`) together: their CPU
 * time and resident memory summed.
 */
export function readProc(pid: number, at: number): ProcSample | undefined {
  const own = readOneProc(pid, at);
  if (!own) return undefined;
  own.threads = readThreads(pid);
  for (const child of childrenOf(pid)) {
    const c = readOneProc(child, at);
    if (c) {
      own.cpuSeconds += c.cpuSeconds;
      own.rssMb += c.rssMb;
    }
  }
  return own;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** user + system CPU seconds from a /proc stat line (of a process or of one of its threads). */
function cpuSecondsOf(stat: string): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

function readThreads(pid: number): Map<number, number> {
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        threads.set(Number(tid), cpuSecondsOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")));
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  } catch {
    // The process ended.
  }
  return threads;
}

function readOneProc(pid: number, at: number): ProcSample | undefined {
  try {
    const cpuSeconds = cpuSecondsOf(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    return { at, cpuSeconds, rssMb: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU time of the whole machine, all CPUs (ticks), from /proc/stat. */
export function readMachineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

export interface ProcUsage {
  /** average CPU over the window, % of one core (200 % = both cores of a 2-core machine) */
  cpuPercent: number;
  rssMbMax: number;
  rssMbEnd: number;
  /**
   * The process's main thread (a Node server's event loop), and its busiest other thread (OpenCLM's
   * issuance worker under issuance load), in % of one core: a thread near 100 % is what limits.
   * A thread that ended inside the window is not counted (it is gone from /proc).
   */
  mainThreadPercent?: number;
  busiestOtherThreadPercent?: number;
}

/** Samples a process every `everyMs` and summarises the samples inside a window. */
export class ProcSampler {
  private readonly samples: ProcSample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    private readonly now: () => number,
    everyMs = 250,
  ) {
    if (!existsSync(`/proc/${pid}/stat`)) return;
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  sample(): void {
    const s = readProc(this.pid, this.now());
    if (s) this.samples.push(s);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  usage(from: number, to: number): ProcUsage | undefined {
    const inside = this.samples.filter((s) => s.at >= from && s.at <= to);
    if (inside.length < 2) return undefined;
    const a = inside[0]!;
    const b = inside[inside.length - 1]!;
    const seconds = (b.at - a.at) / 1000;
    const percent = (cpu: number) => (seconds > 0 ? (cpu / seconds) * 100 : NaN);
    const usage: ProcUsage = {
      cpuPercent: percent(b.cpuSeconds - a.cpuSeconds),
      rssMbMax: Math.max(...inside.map((s) => s.rssMb)),
      rssMbEnd: b.rssMb,
    };
    if (a.threads && b.threads) {
      let busiest = 0;
      for (const [tid, cpu] of b.threads) {
        const used = cpu - (a.threads.get(tid) ?? 0);
        if (tid === this.pid) usage.mainThreadPercent = percent(used);
        else busiest = Math.max(busiest, used);
      }
      usage.busiestOtherThreadPercent = percent(busiest);
    }
    return usage;
  }
}
