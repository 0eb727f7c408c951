// The bench's split of the event loop's time by API call (bench/profile.ts, perCallTimes; the
// calls are recorded by bench/trace-requests.ts): each busy sample goes to the call in flight.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { perCallTimes } from "../../bench/profile.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-profile-calls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A profile whose samples, 1 ms apart from t = 1,000,000 µs, are busy (1) or idle (2) as given. */
function profile(busy: boolean[]): string {
  const file = join(dir, `p${Math.random()}.cpuprofile`);
  const nodes = [
    { id: 1, callFrame: { functionName: "work", url: "file:///x.js", lineNumber: 0, columnNumber: 0 } },
    { id: 2, callFrame: { functionName: "(idle)", url: "", lineNumber: -1, columnNumber: -1 } },
  ];
  const samples = busy.map((b) => (b ? 1 : 2));
  const timeDeltas = busy.map((_, i) => (i === 0 ? 0 : 1000));
  writeFileSync(file, JSON.stringify({ nodes, startTime: 1_000_000, endTime: 1_000_000 + busy.length * 1000, samples, timeDeltas }));
  return file;
}

function trace(calls: Array<[number, number, string]>): string {
  const file = join(dir, `t${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(calls));
  return file;
}

describe("perCallTimes", () => {
  it("charges each busy sample to the call in flight, and idle samples to none", () => {
    // Samples at 1,000,000 + k·1000 µs, k = 0..11; the window is 1,000 ms .. 1,012 ms.
    const p = profile([true, true, true, false, true, true, false, true, true, true, true, false]);
    const t = trace([
      [1_000_000, 1_002_500, "GET /a"], // samples 0, 1, 2: busy 3 (each worth the 1 ms to the next)
      [1_004_000, 1_005_500, "POST /b"], // samples 4, 5: busy 2
      [1_007_000, 1_008_500, "GET /a"], // samples 7, 8: busy 2
    ]);
    const r = perCallTimes(p, t, { from: 1000, to: 1012 });
    expect(r.overlapping).toBe(0);
    expect(r.calls).toEqual([
      { call: "GET /a", calls: 2, busyMsPerCall: 2.5, wallMsPerCall: 2 },
      { call: "POST /b", calls: 1, busyMsPerCall: 2, wallMsPerCall: 1.5 },
    ]);
    // Busy samples between the first call's start and the last one's end but in no call: none.
    expect(r.betweenMsPerCall).toBe(0);
  });

  it("leaves out calls outside the window and counts busy time between calls", () => {
    const p = profile([true, true, true, true, true, true]);
    const t = trace([
      [999_000, 1_000_500, "GET /early"],
      [1_000_500, 1_001_500, "GET /a"], // sample 1
      [1_003_500, 1_004_500, "GET /a"], // sample 4; samples 2 and 3 fall between
    ]);
    const r = perCallTimes(p, t, { from: 1000, to: 1006 });
    expect(r.calls.map((c) => c.call)).toEqual(["GET /a"]);
    expect(r.calls[0]!.busyMsPerCall).toBe(1);
    expect(r.betweenMsPerCall).toBe(1);
  });

  it("says how many calls overlapped, where the split cannot be exact", () => {
    const p = profile([true, true, true]);
    const t = trace([
      [1_000_000, 1_001_500, "GET /a"],
      [1_001_000, 1_002_000, "GET /b"],
      [1_002_500, 1_002_900, "GET /c"],
    ]);
    expect(perCallTimes(p, t, { from: 1000, to: 1003 }).overlapping).toBeCloseTo(2 / 3);
  });
});

describe("trace-requests (the server side of the split)", () => {
  it("records each request's route and its start and end on the monotonic clock, through Fastify's diagnostics channel", () => {
    const out = join(dir, "trace.json");
    const script = join(dir, "serve.mjs");
    // A Fastify app in a child process started with the bench's --import, as the bench starts the server.
    writeFileSync(
      script,
      `import Fastify from ${JSON.stringify(pathToFileURL(join(process.cwd(), "node_modules/fastify/fastify.js")).href)};
       const app = Fastify();
       app.get("/things/:id", async () => ({ ok: true }));
       const before = Number(process.hrtime.bigint() / 1000n);
       await app.inject({ method: "GET", url: "/things/42" });
       await app.inject({ method: "GET", url: "/nowhere?challenge=AAECAwQFBgc%3D" });
       const after = Number(process.hrtime.bigint() / 1000n);
       console.log(JSON.stringify({ before, after }));`,
    );
    // The module as the bench builds it (dist-bench is built by `npm run bench`, not by `npm test`).
    const source = readFileSync(join(process.cwd(), "bench/trace-requests.ts"), "utf8");
    const module = join(dir, "trace-requests.mjs");
    writeFileSync(module, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    const r = spawnSync(process.execPath, ["--import", pathToFileURL(module).href, script], {
      env: { ...process.env, OPENCLM_BENCH_TRACE: out },
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const { before, after } = JSON.parse(r.stdout) as { before: number; after: number };
    const calls = JSON.parse(readFileSync(out, "utf8")) as Array<[number, number, string]>;
    expect(calls.map((c) => c[2])).toEqual(["GET /things/:id", "GET /nowhere"]);
    for (const [start, end] of calls) {
      expect(start).toBeGreaterThanOrEqual(before);
      expect(end).toBeGreaterThanOrEqual(start);
      expect(end).toBeLessThanOrEqual(after);
    }
  });
});
