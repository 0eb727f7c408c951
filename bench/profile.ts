// Self-time summary of a V8 .cpuprofile (what `node --cpu-prof` writes), optionally limited to
// the samples taken inside the measured window.
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  parent?: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number; // µs, monotonic clock
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  function: string;
  location: string;
  selfMs: number;
  /** share of the busy (non-idle) samples */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** whether samples were limited to the measured window (else the whole profile) */
  windowed: boolean;
  sampledMs: number;
  busyMs: number;
  idleMs: number;
  top: Hotspot[];
  /** Functions of the project by inclusive time (their own and their callees'): who owns the cost. */
  inclusive: Hotspot[];
  byPackage: Array<{ package: string; selfMs: number; percent: number }>;
}

/** A short location: node_modules/<pkg>/…, dist/…, node:… */
function shortUrl(url: string, repoRoot: string): string {
  if (!url) return "";
  let u = url.replace(/^file:\/\//, "");
  if (u.startsWith(repoRoot)) u = u.slice(repoRoot.length).replace(/^\//, "");
  const nm = u.lastIndexOf("node_modules/");
  if (nm >= 0) u = u.slice(nm);
  return u;
}

function packageOf(frame: CallFrame, repoRoot: string): string {
  const name = frame.functionName;
  if (!frame.url) return name.startsWith("(") ? name : "(native)";
  const u = shortUrl(frame.url, repoRoot);
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1]!;
  if (u.startsWith("node:")) return "node:" + (u.slice(5).split("/")[0] ?? "");
  const d = /^dist\/([^/]+)/.exec(u);
  if (d) return `openclm ${d[1]!.replace(/\.js$/, "")}`;
  return u;
}

/**
 * Self time per function (name + location), from the sample stream: each sample stands for the
 * time until the next one. `window` is [from, to] in milliseconds of the monotonic clock.
 */
export function summarizeProfile(file: string, repoRoot: string, window?: { from: number; to: number }, topN = 20): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id;
  let from = -Infinity;
  let to = Infinity;
  let windowed = false;
  if (window) {
    const f = window.from * 1000;
    const t = window.to * 1000;
    // Only when the window lies within the profile: both clocks are CLOCK_MONOTONIC on Linux.
    if (f >= p.startTime && f < p.endTime) {
      from = f;
      to = t;
      windowed = true;
    }
  }
  const self = new Map<string, { frame: CallFrame; us: number }>();
  const inclusive = new Map<string, { frame: CallFrame; us: number }>();
  // Per profile node, once: its function's key if it is the project's own code, else null.
  const projectKeys = new Map<number, string | null>();
  const projectKey = (n: ProfileNode): string | null => {
    let k = projectKeys.get(n.id);
    if (k === undefined) {
      const cf = n.callFrame;
      k = cf.url && packageOf(cf, repoRoot).startsWith("openclm ") ? `${cf.functionName}|${cf.url}|${cf.lineNumber}` : null;
      projectKeys.set(n.id, k);
    }
    return k;
  };
  const packages = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dur = p.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    const f = node.callFrame;
    total += dur;
    if (f.functionName === "(idle)") {
      idle += dur;
      continue;
    }
    const key = `${f.functionName}|${f.url}|${f.lineNumber}`;
    const e = self.get(key);
    if (e) e.us += dur;
    else self.set(key, { frame: f, us: dur });
    const pkg = packageOf(f, repoRoot);
    packages.set(pkg, (packages.get(pkg) ?? 0) + dur);
    // Each function once per sample, however deep its recursion.
    const counted = new Set<string>();
    for (let n: ProfileNode | undefined = node; n; n = n.parent === undefined ? undefined : byId.get(n.parent)) {
      const k = projectKey(n);
      if (k === null || counted.has(k)) continue;
      counted.add(k);
      const e = inclusive.get(k);
      if (e) e.us += dur;
      else inclusive.set(k, { frame: n.callFrame, us: dur });
    }
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (us / busy) * 100 : 0);
  const ranked = (m: typeof self): Hotspot[] =>
    [...m.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map(({ frame, us }) => ({
        function: frame.functionName || "(anonymous)",
        location: frame.url ? `${shortUrl(frame.url, repoRoot)}:${frame.lineNumber + 1}` : "",
        selfMs: us / 1000,
        percent: pct(us),
      }));
  const top = ranked(self);
  const byPackage = [...packages.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([pkg, us]) => ({ package: pkg, selfMs: us / 1000, percent: pct(us) }));
  return { file, windowed, sampledMs: total / 1000, busyMs: busy / 1000, idleMs: idle / 1000, top, inclusive: ranked(inclusive), byPackage };
}

export interface CallTime {
  /** "METHOD /route/pattern" */
  call: string;
  calls: number;
  /** Event-loop (non-idle) sample time inside the call, per call. */
  busyMsPerCall: number;
  /** From the server's onRequest to its onResponse, per call. */
  wallMsPerCall: number;
}

export interface CallTimes {
  calls: CallTime[];
  /** Busy time between calls (timers, the commit after a response, GC), per completed call. */
  betweenMsPerCall: number;
  /** Share of the calls that overlapped another one: the split is exact only at 0. */
  overlapping: number;
}

/**
 * The event loop's time per API call: each busy sample inside the window is charged to the call
 * in flight when it was taken (trace-requests.ts records the calls on the profile's clock). Only
 * meaningful when one call at a time is in flight (`--concurrency 1`): `overlapping` says how
 * far that held.
 */
export function perCallTimes(profileFile: string, traceFile: string, window: { from: number; to: number }): CallTimes {
  const p = JSON.parse(readFileSync(profileFile, "utf8")) as CpuProfile;
  const from = window.from * 1000;
  const to = window.to * 1000;
  const trace = (JSON.parse(readFileSync(traceFile, "utf8")) as Array<[number, number, string]>)
    .filter(([start, end]) => start >= from && end <= to)
    .sort((a, b) => a[0] - b[0]);
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  const byCall = new Map<string, { calls: number; busyUs: number; wallUs: number }>();
  let overlapping = 0;
  for (let i = 0; i < trace.length; i++) {
    const [start, end, call] = trace[i]!;
    if ((i > 0 && trace[i - 1]![1] > start) || (i + 1 < trace.length && trace[i + 1]![0] < end)) overlapping++;
    const e = byCall.get(call) ?? { calls: 0, busyUs: 0, wallUs: 0 };
    e.calls++;
    e.wallUs += end - start;
    byCall.set(call, e);
  }
  let between = 0;
  let t = p.startTime;
  let k = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t > to || idle.has(p.samples[i]!)) continue;
    const dur = p.timeDeltas[i + 1] ?? 0;
    while (k < trace.length && trace[k]![1] < t) k++;
    const c = trace[k];
    if (c && c[0] <= t) byCall.get(c[2])!.busyUs += dur;
    else if (k > 0 && k < trace.length) between += dur;
  }
  const calls = [...byCall.entries()]
    .map(([call, e]) => ({ call, calls: e.calls, busyMsPerCall: e.busyUs / e.calls / 1000, wallMsPerCall: e.wallUs / e.calls / 1000 }))
    .sort((a, b) => b.busyMsPerCall - a.busyMsPerCall);
  return { calls, betweenMsPerCall: trace.length ? between / trace.length / 1000 : 0, overlapping: trace.length ? overlapping / trace.length : 0 };
}

/**
 * `node --cpu-prof` writes one profile per thread, named CPU.<date>.<time>.<pid>.<thread id>.<seq>
 * (thread 0 is the main thread). Renames those in `dir` to <phase>.cpuprofile (the main thread)
 * and <phase>.thread-<id>.cpuprofile (worker threads: the issuance pool, the SQLite checkpointer).
 */
export function collectThreadProfiles(dir: string, phase: string, into: string): { main?: string; workers: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return { workers: [] };
  }
  const found: { main?: string; workers: string[] } = { workers: [] };
  for (const name of names) {
    const m = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(name);
    if (!m) continue;
    const to = join(into, m[1] === "0" ? `${phase}.cpuprofile` : `${phase}.thread-${m[1]}.cpuprofile`);
    renameSync(join(dir, name), to);
    if (m[1] === "0") found.main = to;
    else found.workers.push(to);
  }
  return found;
}
