// Acceptance: admin keys and their release rules (SPEC §9), across a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { bindCard, createRequest, DEFAULT_KEY, keyPath, response, users } from "../helpers/flow.js";
import { opensslDes3 as opensslCheck } from "../helpers/card.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("admin keys", () => {
  it("answers challenges with the default and the derived key, as openssl computes them", async () => {
    const requestId = await createRequest(server, users.alice);
    const { scid, card } = await bindCard(server, users.alice, requestId);
    const key = Buffer.from((await call(server, "GET", `${keyPath(requestId, scid)}/diversifiedkey?cardid=${card.cardId}`, users.alice)).body, "base64");
    for (const byte of key) expect(popcount(byte) % 2).toBe(1); // DES odd parity
    const ch = Buffer.from("0011223344556677", "hex");
    const plain = await response(server, users.alice, requestId, scid, card.cardId, ch, false);
    expect(Buffer.from(plain.body, "base64").equals(opensslCheck(Buffer.from(DEFAULT_KEY, "hex"), ch))).toBe(true);
    const derived = await response(server, users.alice, requestId, scid, card.cardId, ch, true);
    expect(Buffer.from(derived.body, "base64").equals(opensslCheck(key, ch))).toBe(true);
  });

  it("derives keys that differ between cards and stay the same after a restart", async () => {
    const a = await createRequest(server, users.alice);
    const ca = await bindCard(server, users.alice, a);
    const b = await createRequest(server, users.alice);
    const cb = await bindCard(server, users.alice, b);
    const keyA = (await call(server, "GET", `${keyPath(a, ca.scid)}/diversifiedkey?cardid=${ca.card.cardId}`, users.alice)).body;
    const keyB = (await call(server, "GET", `${keyPath(b, cb.scid)}/diversifiedkey?cardid=${cb.card.cardId}`, users.alice)).body;
    expect(keyA).not.toBe(keyB);

    await server.stop();
    server = await startServer({ dataDir: server.dataDir });
    const again = await call(server, "GET", `${keyPath(a, ca.scid)}/diversifiedkey?cardid=${ca.card.cardId}`, users.alice);
    expect(again.status).toBe(200);
    expect(again.body).toBe(keyA);
  });

  it("releases only to the target, for the bound card, within the bound", async () => {
    const requestId = await createRequest(server, users.alice);
    const { scid, card } = await bindCard(server, users.alice, requestId);
    const path = `${keyPath(requestId, scid)}/diversifiedkey?cardid=${card.cardId}`;
    // another user: the request is invisible to them
    const bob = await call(server, "GET", path, users.bob);
    expect(bob.status).toBe(404);
    expect(bob.text).not.toMatch(/[A-Za-z0-9+/]{32}/);
    // a wrong card id
    const wrong = await call(server, "GET", `${keyPath(requestId, scid)}/diversifiedkey?cardid=${crypto.randomUUID()}`, users.alice);
    expect(wrong.status).toBe(403);
    // a card of another request
    const other = await createRequest(server, users.alice);
    const o = await bindCard(server, users.alice, other);
    const mismatch = await call(server, "GET", `${keyPath(requestId, o.scid)}/diversifiedkey?cardid=${o.card.cardId}`, users.alice);
    expect(mismatch.status).toBe(404);
    // the bound: 16 releases per request, then 403 (the refusals above did not count)
    let ok = 0;
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const r = await call(server, "GET", path, users.alice);
      last = r.status;
      if (r.status === 200) ok++;
    }
    expect(ok).toBe(16);
    expect(last).toBe(403);
    // Each release and each refusal of this request's card is on record once.
    const trail = await call(server, "GET", `/audit?request=${requestId}&action=smartcard.diversifiedkey&top=100`, users.dave);
    expect(trail.status, trail.text).toBe(200);
    const reasons = (trail.body as { Outcome: string; Details: { reason?: string } }[]).map((e) => `${e.Outcome}:${e.Details.reason ?? ""}`);
    expect(reasons.filter((r) => r === "success:")).toHaveLength(16);
    expect(reasons.filter((r) => r !== "success:").sort()).toEqual(["denied:CardMismatch", ...Array(4).fill("denied:release bound reached")]);
  });

  it("refuses releases once the request is completed or canceled", async () => {
    const requestId = await createRequest(server, users.alice);
    const canceled = await call(server, "PUT", `/requests/${requestId}`, { ...users.alice, body: { status: "Canceled" } });
    expect(canceled.status).toBe(200);
    expect(canceled.body.Status).toBe(17);
    const bind = await call(server, "POST", "/smartcards", { ...users.alice, body: { requestid: requestId, cardid: crypto.randomUUID() } });
    expect(bind.status).toBe(409);
  });
});

function popcount(b: number): number {
  let n = 0;
  for (; b; b >>= 1) n += b & 1;
  return n;
}
