// Acceptance: another user cannot read alice's request or card nor obtain its keys.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { bindCard, createRequest, enroll, keyPath, response, users } from "../helpers/flow.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("what other users see", () => {
  it("hides alice's request, card and certificates from bob, and refuses him keys", async () => {
    const done = await enroll(server, users.alice);
    const open = await createRequest(server, users.alice);
    const { scid, card } = await bindCard(server, users.alice, open);
    for (const path of [
      `/requests/${done.requestId}`,
      `/smartcards/${done.scid}`,
      `/smartcards/${done.scid}/certificates`,
      `/smartcards/${done.scid}/operations`,
      `/requests/${done.requestId}/certificaterequestgenerationoptions`,
      `${keyPath(open, scid)}/diversifiedkey?cardid=${card.cardId}`,
      `${keyPath(open, scid)}`,
    ]) {
      const r = await call(server, "GET", path, users.bob);
      expect(r.status, path).toBe(404);
      expect(r.body.Message).toMatch(/not found/);
      expect(r.text).not.toContain(done.card.cardId.toLowerCase());
    }
    const challenge = await response(server, users.bob, open, scid, card.cardId, Buffer.alloc(8, 1), false);
    expect(challenge.status).toBe(404);
    expect((await call(server, "GET", `/smartcards?cardid=${done.card.cardId}`, users.bob)).body).toEqual([]);
    expect((await call(server, "GET", "/requests", users.bob)).body).toEqual([]);
    expect((await call(server, "GET", "/certificates", users.bob)).body).toEqual([]);
    const steal = await call(server, "PUT", `/requests/${open}`, { ...users.bob, body: { status: "Canceled" } });
    expect(steal.status).toBe(404);
    const submit = await call(server, "POST", `/requests/${open}/certificatedata`, { ...users.bob, body: { certificaterequests: ["AA=="] } });
    expect(submit.status).toBe(404);
  });

  it("lets the admin see everything but not obtain keys", async () => {
    const open = await createRequest(server, users.alice);
    const { scid, card } = await bindCard(server, users.alice, open);
    expect((await call(server, "GET", `/requests/${open}`, users.dave)).status).toBe(200);
    expect((await call(server, "GET", `/smartcards/${scid}`, users.dave)).status).toBe(200);
    const key = await call(server, "GET", `${keyPath(open, scid)}/diversifiedkey?cardid=${card.cardId}`, users.dave);
    expect(key.status).toBe(403);
    expect(key.text).not.toMatch(/[A-Za-z0-9+/]{32}=*"/);
  });
});
