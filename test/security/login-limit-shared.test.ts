// Failed logins count across server processes: two processes on one database (one SQLite file
// here, one PostgreSQL database in the PostgreSQL pass) each see half of a user's wrong passwords;
// together they reach the limit, and then neither verifies even the right password (429). With
// counts kept only in each process's memory, neither would have reached it.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { clusterConfig } from "../pg/support.js";

let A: TestServer;
let B: TestServer;
const LIMIT = 6;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "openclm-limit-"));
  const config = clusterConfig(dataDir, (c) => {
    c.auth.rateLimit = { maxFailures: LIMIT, windowSeconds: 120 };
  });
  A = await startServer({ demo: false, dataDir, args: ["--config", config] });
  B = await startServer({ demo: false, dataDir, args: ["--config", config] });
});
afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop()]);
});

describe("login failure limits across server processes", () => {
  it("adds up wrong passwords seen by different processes, then refuses the right one on both", async () => {
    // u1 fails from this address; u3's credentials are verified (and cached) on A before.
    expect((await call(A, "GET", "/requests", { user: "u3", password: "u3" })).status).toBe(200);
    for (let i = 0; i < LIMIT / 2; i++) {
      expect((await call(A, "GET", "/requests", { user: "u1", password: `wrong-a-${i}` })).status).toBe(401);
      expect((await call(B, "GET", "/requests", { user: "u1", password: `wrong-b-${i}` })).status).toBe(401);
    }
    for (const server of [A, B]) {
      const locked = await call(server, "GET", "/requests", { user: "u1", password: "u1" });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // The address reached the limit too: a password to verify for another user is refused as well,
    // while credentials A verified before the failures still work there until their cache entry ends.
    expect((await call(B, "GET", "/requests", { user: "u2", password: "u2" })).status).toBe(429);
    expect((await call(A, "GET", "/requests", { user: "u3", password: "u3" })).status).toBe(200);
    expect((await call(B, "GET", "/requests", { user: "u3", password: "u3" })).status).toBe(429);
  });
});
