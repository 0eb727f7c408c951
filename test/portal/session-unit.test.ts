// SessionAuthenticator alone: expiry (idle and absolute), users disabled meanwhile, CSRF.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FastifyRequest } from "fastify";
import { DomainError } from "../../src/domain/errors.js";
import { SessionAuthenticator } from "../../src/http/session.js";
import type { Store, UserRow } from "../../src/store/store.js";

const alice: UserRow = {
  uuid: "0fe933fa-1e7b-463f-b454-8b3bc25d2979",
  name: "alice",
  display_name: "Alice Example",
  email: "alice@example.test",
  upn: "alice@example.test",
  password_hash: "x",
  disabled: 0,
  source: "config",
  created_at: "2025-01-01T00:00:00.000Z",
} as UserRow;

function fakeStore(user: UserRow | undefined = alice) {
  const state = { user };
  const store = {
    userByUuid: async (uuid: string) => (state.user && state.user.uuid === uuid ? state.user : undefined),
    groupsOf: async () => ["cm-users"],
  } as unknown as Store;
  return { store, state };
}

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

afterEach(() => {
  vi.useRealTimers();
});

describe("SessionAuthenticator", () => {
  it("leaves requests without the cookie to the other methods", async () => {
    const { store } = fakeStore();
    expect(await new SessionAuthenticator(store).authenticate(req("GET"))).toBeUndefined();
  });

  it("resolves the caller for a live session and refuses an unknown one with 401", async () => {
    const { store } = fakeStore();
    const s = new SessionAuthenticator(store);
    const { id } = s.create(alice.uuid, "password");
    expect(await s.authenticate(req("GET", id))).toMatchObject({ uuid: alice.uuid, name: "alice", groups: ["cm-users"] });
    const e = await refusal(s.authenticate(req("GET", `${id}x`)));
    expect(e).toMatchObject({ kind: "auth", code: "SessionExpired" });
  });

  it("requires the session's CSRF token on every state-changing method", async () => {
    const { store } = fakeStore();
    const s = new SessionAuthenticator(store);
    const { id, csrfToken } = s.create(alice.uuid, "password");
    const other = s.create(alice.uuid, "password");
    for (const m of ["POST", "PUT", "DELETE", "PATCH"]) {
      expect(await refusal(s.authenticate(req(m, id)))).toMatchObject({ kind: "forbidden", code: "CsrfTokenInvalid" });
      expect(await refusal(s.authenticate(req(m, id, other.csrfToken)))).toMatchObject({ kind: "forbidden" });
      expect(await s.authenticate(req(m, id, csrfToken))).toMatchObject({ name: "alice" });
    }
    expect(await s.authenticate(req("HEAD", id))).toMatchObject({ name: "alice" });
  });

  it("ends sessions after the idle time and after the absolute lifetime", async () => {
    vi.useFakeTimers({ now: new Date("2025-06-01T10:00:00Z") });
    const { store } = fakeStore();
    const s = new SessionAuthenticator(store, { idleMs: 60_000, absoluteMs: 180_000, maxSessions: 10 });
    const idle = s.create(alice.uuid, "password");
    const busy = s.create(alice.uuid, "password");
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(50_000);
      expect(await s.authenticate(req("GET", busy.id))).toBeDefined();
    }
    expect((await refusal(s.authenticate(req("GET", idle.id)))).code).toBe("SessionExpired");
    vi.advanceTimersByTime(40_000); // 190 s after sign-in, last used 40 s ago
    expect((await refusal(s.authenticate(req("GET", busy.id)))).code).toBe("SessionExpired");
  });

  it("ends the session of a user who was disabled or removed", async () => {
    const { store, state } = fakeStore();
    const s = new SessionAuthenticator(store);
    const { id } = s.create(alice.uuid, "password");
    state.user = { ...alice, disabled: 1 };
    expect((await refusal(s.authenticate(req("GET", id)))).code).toBe("SessionExpired");
    state.user = alice;
    expect((await refusal(s.authenticate(req("GET", id)))).code).toBe("SessionExpired"); // gone for good
  });

  it("signs out and keeps at most maxSessions", async () => {
    const { store } = fakeStore();
    const s = new SessionAuthenticator(store, { idleMs: 60_000, absoluteMs: 600_000, maxSessions: 2 });
    const a = s.create(alice.uuid, "password");
    const b = s.create(alice.uuid, "password");
    const c = s.create(alice.uuid, "password");
    expect(await s.resolve(a.id)).toBeUndefined();
    expect(await s.resolve(b.id)).toBeDefined();
    expect(s.destroy(c.id)).toBe(true);
    expect(await s.resolve(c.id)).toBeUndefined();
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(b.csrfToken);
  });
});
