// Acceptance (issue 5): failed logins are limited per user and per source address (429 with
// Retry-After once the configured number of failures is reached) and the lock lifts after the
// window. Source addresses are varied over 127.0.0.0/8, which all reach the loopback listener.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.js";
import { basic, configYaml, personas, writeConfig } from "./support.js";

const P = personas();
const WINDOW_SECONDS = 5; // three scrypt-checked failures must fit in it on a loaded machine
let server: TestServer;

beforeAll(async () => {
  const config = writeConfig(configYaml([P.alice, P.bob, P.frank], { auth: `  rateLimit: { maxFailures: 3, windowSeconds: ${WINDOW_SECONDS} }` }));
  server = await startServer({ demo: false, args: ["--config", config] });
});
afterAll(async () => {
  await server?.stop();
});

/** GET /requests from a chosen loopback address. */
function get(from: string, headers: Record<string, string>): Promise<{ status: number; retryAfter?: string; body: string }> {
  const url = new URL(`${server.url}/CertificateManagement/api/v1.0/requests`);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, localAddress: from, headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, retryAfter: res.headers["retry-after"] as string | undefined, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const wrong = (user: string) => basic(user, "not-the-password");
const right = (p: { user: string; password: string }) => basic(p.user, p.password);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("login rate limiting", () => {
  it("locks a user after the configured failures, from any address, and lifts the lock after the window", async () => {
    for (let i = 0; i < 3; i++) expect((await get(`127.0.0.${10 + i}`, wrong("alice"))).status).toBe(401);
    // Even the right password is refused now, without being checked, from yet another address.
    const locked = await get("127.0.0.20", right(P.alice));
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect(JSON.parse(locked.body)).toMatchObject({ ErrorCode: "TooManyFailures" });
    // Another user from that address is not affected.
    expect((await get("127.0.0.20", right(P.bob))).status).toBe(200);
    await sleep(Number(locked.retryAfter) * 1000 + 200);
    expect((await get("127.0.0.20", right(P.alice))).status).toBe(200);
  });

  it("locks an address that tries many user names, and only that address", async () => {
    for (const user of ["mallory1", "mallory2", "mallory3"]) expect((await get("127.0.0.30", wrong(user))).status).toBe(401);
    const locked = await get("127.0.0.30", right(P.bob));
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(locked.retryAfter)).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect((await get("127.0.0.31", right(P.bob))).status).toBe(200);
    await sleep(Number(locked.retryAfter) * 1000 + 200);
    expect((await get("127.0.0.30", right(P.bob))).status).toBe(200);
  });

  it("audits every failure with method, address and reason, and marks the one that locked", async () => {
    const r = await get("127.0.0.40", right(P.frank));
    expect(r.status).toBe(200);
    const trail = await fetch(`${server.url}/CertificateManagement/api/v1.0/audit?action=auth.failure&top=100`, { headers: right(P.frank) });
    const events = (await trail.json()) as any[];
    const alice = events.filter((e) => e.ActorName === "alice");
    expect(alice).toHaveLength(3);
    expect(alice[0]).toMatchObject({ Outcome: "failure", TargetType: "user", Details: { method: "basic", address: "127.0.0.10", reason: "wrong password" } });
    expect(alice[2].Details.locked).toBe(true);
    expect(alice[0].TargetUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(events.find((e) => e.ActorName === "mallory1")).toMatchObject({ TargetUuid: null, Details: { reason: "unknown user", address: "127.0.0.30" } });
    expect(JSON.stringify(events)).not.toContain("not-the-password");
  });
});
