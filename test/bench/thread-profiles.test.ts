// `npm run bench -- --profile` sorts the files `node --cpu-prof` writes, one per thread, into the
// main thread's and the workers' (bench/profile.ts, collectThreadProfiles). Node names them itself,
// so this runs a real node with a worker thread and reads what it wrote.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectThreadProfiles } from "../../bench/profile.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-thread-profiles-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("collectThreadProfiles", () => {
  it("names the main thread's profile and each worker's after the phase", () => {
    const raw = join(dir, "issuance");
    const script = `
      const { Worker } = require("node:worker_threads");
      const w = new Worker("let x = 0; for (let i = 0; i < 1e6; i++) x += i;", { eval: true });
      w.on("exit", () => {});`;
    const run = spawnSync(process.execPath, ["--cpu-prof", "--cpu-prof-dir", raw, "-e", script], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(raw)).toHaveLength(2);

    const found = collectThreadProfiles(raw, "issuance", dir);
    expect(found.main).toBe(join(dir, "issuance.cpuprofile"));
    expect(found.workers).toHaveLength(1);
    expect(found.workers[0]).toMatch(/issuance\.thread-\d+\.cpuprofile$/);
    for (const file of [found.main!, ...found.workers]) expect(JSON.parse(readFileSync(file, "utf8")).samples.length).toBeGreaterThan(0);
    expect(readdirSync(raw)).toHaveLength(0);
  });

  it("finds nothing where nothing was profiled", () => {
    expect(collectThreadProfiles(join(dir, "absent"), "enrollment", dir)).toEqual({ workers: [] });
    expect(existsSync(join(dir, "enrollment.cpuprofile"))).toBe(false);
  });
});
