// SessionAuthenticator on a real (SQLite) store: expiry (idle and absolute) with the throttled
// last-seen write, users disabled meanwhile, CSRF, the per-user cap, what the table holds, and two
// authenticators on one database behaving as one (as two server processes do).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyRequest } from "fastify";
import { DomainError } from "../../src/domain/errors.js";
import { SessionAuthenticator } from "../../src/http/session.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";

const ALICE = "0fe933fa-1e7b-463f-b454-8b3bc25d2979";
const T0 = new Date("2025-06-01T10:00:00Z").getTime();

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "openclm-session-unit-"));
  store = await openStore({ url: "sqlite:sessions.db", dataDir: dir });
  await store.insertUser({
    uuid: ALICE,
    name: "alice",
    display_name: "Alice Example",
    email: "alice@example.test",
    upn: "alice@example.test",
    password_hash: null,
    disabled: 0,
    source: "config",
    created_at: "2025-01-01T00:00:00.000Z",
  });
  await store.setGroups(ALICE, ["cm-users"]);
  // Only the clock: the database driver's own timers keep running.
  vi.useFakeTimers({ now: T0, toFake: ["Date"] });
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (ms: number) => vi.setSystemTime(T0 + ms);

function req(method: string, cookie?: string, csrf?: string): FastifyRequest {
  return { method, cookies: cookie === undefined ? {} : { openclm_session: cookie }, headers: csrf === undefined ? {} : { "x-csrf-token": csrf } } as unknown as FastifyRequest;
}

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    return e as DomainError;
  }
  throw new Error("expected a refusal");
}

const rows = () => store.db.selectFrom("portal_sessions").selectAll().execute();

describe("SessionAuthenticator", () => {
  it("leaves requests without the cookie to the other methods", async () => {
    expect(await new SessionAuthenticator(store).authenticate(req("GET"))).toBeUndefined();
  });

  it("resolves the caller for a live session and refuses an unknown one with 401", async () => {
    const s = new SessionAuthenticator(store);
    const { id } = await s.create(ALICE, "password");
    expect(await s.authenticate(req("GET", id))).toMatchObject({ uuid: ALICE, name: "alice", groups: ["cm-users"] });
    const e = await refusal(s.authenticate(req("GET", `${id}x`)));
    expect(e).toMatchObject({ kind: "auth", code: "SessionExpired" });
  });

  it("requires the session's CSRF token on every state-changing method", async () => {
    const s = new SessionAuthenticator(store);
    const { id, csrfToken } = await s.create(ALICE, "password");
    const other = await s.create(ALICE, "password");
    for (const m of ["POST", "PUT", "DELETE", "PATCH"]) {
      expect(await refusal(s.authenticate(req(m, id)))).toMatchObject({ kind: "forbidden", code: "CsrfTokenInvalid" });
      expect(await refusal(s.authenticate(req(m, id, other.csrfToken)))).toMatchObject({ kind: "forbidden" });
      expect(await s.authenticate(req(m, id, csrfToken))).toMatchObject({ name: "alice" });
    }
    expect(await s.authenticate(req("HEAD", id))).toMatchObject({ name: "alice" });
    expect((await s.resolve(id))!.csrfToken).toBe(csrfToken);
  });

  it("keeps only hashes: neither the cookie value nor the CSRF token is in the table", async () => {
    const s = new SessionAuthenticator(store);
    const { id, csrfToken } = await s.create(ALICE, "password");
    const stored = JSON.stringify(await rows());
    expect(stored).not.toContain(id);
    expect(stored).not.toContain(csrfToken);
    expect((await rows())[0]).toMatchObject({ user_uuid: ALICE, method: "password", idp_groups: "[]", created_at: new Date(T0).toISOString() });
    expect(csrfToken).not.toBe(id);
  });

  it("ends sessions after the idle time and after the absolute lifetime", async () => {
    const s = new SessionAuthenticator(store, { idleMs: 60_000, absoluteMs: 180_000, maxPerUser: 10 });
    const idle = await s.create(ALICE, "password");
    const busy = await s.create(ALICE, "password");
    for (let i = 1; i <= 3; i++) {
      at(50_000 * i);
      expect(await s.authenticate(req("GET", busy.id))).toBeDefined();
    }
    expect((await refusal(s.authenticate(req("GET", idle.id)))).code).toBe("SessionExpired");
    at(190_000); // 190 s after sign-in, last used 40 s ago
    expect((await refusal(s.authenticate(req("GET", busy.id)))).code).toBe("SessionExpired");
    expect(await rows()).toEqual([]); // refused sessions are deleted on sight
  });

  it("writes last_seen_at only when it is older than the touch interval", async () => {
    const s = new SessionAuthenticator(store, { idleMs: 30 * 60_000, absoluteMs: 8 * 3600_000, maxPerUser: 10 });
    const { id } = await s.create(ALICE, "password");
    const lastSeen = async () => (await rows())[0]!.last_seen_at;
    at(30_000);
    await s.resolve(id);
    expect(await lastSeen()).toBe(new Date(T0).toISOString());
    at(61_000);
    await s.resolve(id);
    expect(await lastSeen()).toBe(new Date(T0 + 61_000).toISOString());
    at(100_000);
    await s.resolve(id);
    expect(await lastSeen()).toBe(new Date(T0 + 61_000).toISOString());
  });

  it("ends the session of a user who was disabled, for good", async () => {
    const s = new SessionAuthenticator(store);
    const { id } = await s.create(ALICE, "password");
    await store.updateUser(ALICE, { disabled: 1 });
    expect((await refusal(s.authenticate(req("GET", id)))).code).toBe("SessionExpired");
    await store.updateUser(ALICE, { disabled: 0 });
    expect((await refusal(s.authenticate(req("GET", id)))).code).toBe("SessionExpired");
  });

  it("adds the groups the identity provider asserted at sign-in, and sees directory changes at once", async () => {
    const s = new SessionAuthenticator(store);
    const { id } = await s.create(ALICE, "oidc", ["cm-auditors"]);
    expect((await s.resolve(id))!).toMatchObject({ method: "oidc", caller: { groups: ["cm-auditors", "cm-users"] } });
    await store.setGroups(ALICE, ["cm-approvers"]);
    expect((await s.resolve(id))!.caller.groups).toEqual(["cm-approvers", "cm-auditors"]);
  });

  it("signs out and keeps at most maxPerUser sessions per user, dropping the oldest", async () => {
    const s = new SessionAuthenticator(store, { idleMs: 60_000, absoluteMs: 600_000, maxPerUser: 2 });
    const a = await s.create(ALICE, "password");
    at(1_000);
    const b = await s.create(ALICE, "password");
    at(2_000);
    const c = await s.create(ALICE, "password");
    expect(await s.resolve(a.id)).toBeUndefined();
    expect(await s.resolve(b.id)).toBeDefined();
    expect(await s.destroy(c.id)).toBe(true);
    expect(await s.destroy(c.id)).toBe(false);
    expect(await s.resolve(c.id)).toBeUndefined();
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(b.csrfToken);
  });

  it("sweeps expired sessions when someone signs in", async () => {
    const s = new SessionAuthenticator(store, { idleMs: 60_000, absoluteMs: 600_000, maxPerUser: 10 });
    await s.create(ALICE, "password");
    at(120_000);
    await s.create(ALICE, "password");
    expect(await rows()).toHaveLength(1);
  });

  it("works as one across authenticators on the same database (server processes)", async () => {
    const a = new SessionAuthenticator(store);
    const b = new SessionAuthenticator(store);
    const { id, csrfToken } = await a.create(ALICE, "password");
    expect(await b.authenticate(req("POST", id, csrfToken))).toMatchObject({ name: "alice" });
    expect(await b.destroy(id)).toBe(true);
    expect((await refusal(a.authenticate(req("GET", id)))).code).toBe("SessionExpired");
  });
});
