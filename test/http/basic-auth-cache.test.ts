// The Basic-auth cache (src/http/auth.ts) under load: requests with the same credentials share one
// password verification, and an entry in use is verified again before it ends, so that steady
// traffic never waits for scrypt. Before, every request in flight when an entry ended ran its own
// scrypt, and a client's whole load stalled for half a second once a minute.
import { randomUUID } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { BasicAuthenticator } from "../../src/http/auth.js";
import { hashPassword, verifyPassword } from "../../src/crypto/password.js";
import { storeOfThisPass } from "../helpers/store.js";

const db = storeOfThisPass("basic-auth-cache");
const TTL_MS = 60_000;
const PASSWORD = "correct horse battery staple";

/** A verifier that checks for real but answers only when the test says so, and counts its calls. */
class HeldVerifier {
  calls = 0;
  private held: Array<() => void> = [];
  readonly verify = (password: string, hash: string): Promise<boolean> => {
    this.calls++;
    const answer = verifyPassword(password, hash);
    return new Promise((resolve, reject) => this.held.push(() => answer.then(resolve, reject)));
  };
  /** Lets every verification asked for so far answer. */
  release(): void {
    for (const go of this.held.splice(0)) go();
  }
  get waiting(): number {
    return this.held.length;
  }
}

let userName: string;
let userUuid: string;
beforeAll(async () => {
  userName = `cache-${randomUUID().slice(0, 8)}`;
  userUuid = randomUUID();
  await db.store.insertUser({
    uuid: userUuid,
    name: userName,
    display_name: "Cache Test",
    email: `${userName}@example.com`,
    upn: `${userName}@example.com`,
    password_hash: await hashPassword(PASSWORD),
    disabled: 0,
    source: "local",
    created_at: new Date().toISOString(),
  });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Resolves once the verifier holds `n` calls (verifications start after a few database reads). */
async function heldCalls(v: HeldVerifier, n: number): Promise<void> {
  for (let i = 0; i < 1000 && v.waiting < n; i++) await new Promise((r) => setTimeout(r, 5));
  expect(v.waiting).toBe(n);
}

describe("Basic-auth cache", () => {
  it("verifies concurrent requests with the same credentials once, and each gets its own caller", async () => {
    const v = new HeldVerifier();
    const auth = new BasicAuthenticator(db.store, TTL_MS, undefined, v.verify);
    const results = Array.from({ length: 8 }, () => auth.check(userName, PASSWORD));
    await heldCalls(v, 1);
    v.release();
    const answers = await Promise.all(results);
    expect(v.calls).toBe(1);
    for (const a of answers) expect(a.caller?.uuid).toBe(userUuid);
    answers[0]!.caller!.groups.push("Injected");
    expect(answers[1]!.caller!.groups).not.toContain("Injected");
    // Cached now: no verification at all.
    expect((await auth.check(userName, PASSWORD)).caller?.uuid).toBe(userUuid);
    expect(v.calls).toBe(1);
  });

  it("shares a failed verification too, and caches nothing for it", async () => {
    const v = new HeldVerifier();
    const auth = new BasicAuthenticator(db.store, TTL_MS, undefined, v.verify);
    const results = Array.from({ length: 3 }, () => auth.check(userName, "wrong password"));
    await heldCalls(v, 1);
    v.release();
    for (const a of await Promise.all(results)) expect(a).toMatchObject({ reason: "wrong password" });
    expect(v.calls).toBe(1);
    const again = auth.check(userName, "wrong password");
    await heldCalls(v, 1);
    v.release();
    expect(await again).toMatchObject({ reason: "wrong password" });
    expect(v.calls).toBe(2);
  });

  it("verifies an entry in use again before it ends, without making its requests wait", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-12-07T00:00:00Z") });
    const v = new HeldVerifier();
    const auth = new BasicAuthenticator(db.store, TTL_MS, undefined, v.verify);
    const first = auth.check(userName, PASSWORD);
    await heldCalls(v, 1);
    v.release();
    expect((await first).caller?.uuid).toBe(userUuid);

    // Early in the entry's life: answered from the cache, nothing verified.
    vi.setSystemTime(Date.now() + TTL_MS / 2);
    expect((await auth.check(userName, PASSWORD)).caller?.uuid).toBe(userUuid);
    expect(v.calls).toBe(1);

    // In its last quarter: answered from the cache while one verification starts beside it.
    vi.setSystemTime(Date.now() + TTL_MS * 0.3);
    const during = await Promise.all([auth.check(userName, PASSWORD), auth.check(userName, PASSWORD)]);
    for (const a of during) expect(a.caller?.uuid).toBe(userUuid);
    await heldCalls(v, 1);
    expect(v.calls).toBe(2);
    v.release();
    await new Promise((r) => setTimeout(r, 50)); // the background verification stores its entry

    // Past the first entry's end: the renewed entry answers, with no further verification.
    vi.setSystemTime(Date.now() + TTL_MS * 0.5);
    expect((await auth.check(userName, PASSWORD)).caller?.uuid).toBe(userUuid);
    expect(v.calls).toBe(2);

    // Unused past its end: the entry is gone and the next request waits for a verification.
    vi.setSystemTime(Date.now() + TTL_MS * 2);
    const late = auth.check(userName, PASSWORD);
    await heldCalls(v, 1);
    expect(v.calls).toBe(3);
    v.release();
    expect((await late).caller?.uuid).toBe(userUuid);
  });
});
