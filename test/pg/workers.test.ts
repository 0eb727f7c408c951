// `openclm serve --workers N`: N processes share one listening socket and one PostgreSQL
// database; a worker that dies is replaced, SIGTERM stops them all; SQLite refuses workers.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { consistencyViolations, PG_AVAILABLE, SKIP_REASON, VPN } from "./support.js";

const CLI = resolve("dist/cli/main.js");

function workerPids(primary: number): number[] {
  const out = spawnSync("ps", ["-o", "pid=", "--ppid", String(primary)], { encoding: "utf8" }).stdout;
  return out
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

async function until<T>(probe: () => T | Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("serve --workers with SQLite", () => {
  it("is refused with a clear message", () => {
    const dir = mkdtempSync(join(tmpdir(), "openclm-workers-"));
    const r = spawnSync(process.execPath, [CLI, "serve", "--demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--workers", "2", "--database", "sqlite:openclm.db"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--workers needs a PostgreSQL database/);
  });
});

describe.skipIf(!PG_AVAILABLE)(`serve --workers on PostgreSQL${SKIP_REASON}`, () => {
  let server: TestServer;
  const alice = { user: "alice", password: "alice" };
  beforeAll(async () => {
    server = await startServer({ args: ["--workers", "2"] });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("serves from two processes, replaces one that dies, and stops all on SIGTERM", async () => {
    const primary = server.process.pid!;
    const first = await until(() => workerPids(primary), (p) => p.length === 2);
    expect(first).toHaveLength(2);
    // Many short connections: the primary hands them out to both workers, and all succeed.
    const created = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(server, "POST", "/requests", { ...alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "w" }], comment: "" } }),
      ),
    );
    expect(created.map((r) => r.status)).toEqual(Array(20).fill(201));
    const servedBy = await until(
      () => new Set([...readFileSync(server.logFile, "utf8").matchAll(/"pid":(\d+)[^\n]*"msg":"request completed"/g)].map((m) => Number(m[1]))),
      (pids) => pids.size === 2,
    );
    expect([...servedBy].sort()).toEqual([...first].sort());

    execFileSync("kill", ["-KILL", String(first[0])]);
    const replaced = await until(() => workerPids(primary), (p) => p.length === 2 && !p.includes(first[0]!));
    expect(replaced).toHaveLength(2);
    expect(replaced).toContain(first[1]);
    const after = await until(() => call(server, "GET", "/requests", alice), (r) => r.status === 200);
    expect(after.status).toBe(200);
    expect((after.body as unknown[]).length).toBeGreaterThanOrEqual(20);

    const code = await server.stop("SIGTERM");
    expect(code).toBe(0);
    for (const pid of replaced) expect(spawnSync("kill", ["-0", String(pid)]).status).not.toBe(0);
    const dbUrl = /--database (\S+)/.exec(server.process.spawnargs.join(" "))?.[1];
    expect(dbUrl).toBeDefined();
    expect(await consistencyViolations(dbUrl!)).toEqual([]);
  }, 60_000);
});
