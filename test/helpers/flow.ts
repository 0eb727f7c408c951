// Steps of the walkthrough as reusable helpers for tests that start from an enrolled card.
import { expect } from "vitest";
import { call, type TestServer } from "./server.js";
import { des3, TestCard } from "./card.js";

export const VPN = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
export const DEFAULT_KEY = "010203040506070801020304050607080102030405060708";

export interface Creds {
  user: string;
  password: string;
}
export const users = {
  alice: { user: "alice", password: "alice" },
  bob: { user: "bob", password: "bob" },
  carol: { user: "carol", password: "carol" },
  dave: { user: "dave", password: "dave" },
};

export async function createRequest(server: TestServer, who: Creds, body: Record<string, unknown> = {}): Promise<string> {
  const r = await call(server, "POST", "/requests", {
    ...who,
    body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "test" }], comment: "", ...body },
  });
  expect(r.status, r.text).toBe(201);
  return (r.body as string).split("/").pop()!;
}

export async function bindCard(server: TestServer, who: Creds, requestId: string, card = new TestCard(DEFAULT_KEY)): Promise<{ scid: string; card: TestCard }> {
  const r = await call(server, "POST", "/smartcards", { ...who, body: { requestid: requestId, cardid: card.cardId } });
  expect(r.status, r.text).toBe(201);
  return { scid: (r.body as string).split("/").pop()!, card };
}

export function keyPath(requestId: string, scid: string): string {
  return `/requests/${requestId}/smartcards/${scid}`;
}

export async function response(server: TestServer, who: Creds, requestId: string, scid: string, cardId: string, challenge: Buffer, diversified: boolean) {
  return call(
    server,
    "GET",
    `${keyPath(requestId, scid)}/authenticationresponse?cardid=${cardId}&challenge=${encodeURIComponent(challenge.toString("base64"))}&diversified=${diversified}`,
    who,
  );
}

/** A complete enrollment as alice (or `who`): request, card, keys, CSR, completion. */
export async function enroll(server: TestServer, who: Creds = users.alice) {
  const requestId = await createRequest(server, who);
  const { scid, card } = await bindCard(server, who, requestId);
  const key = await call(server, "GET", `${keyPath(requestId, scid)}/diversifiedkey?cardid=${card.cardId}`, who);
  expect(key.status, key.text).toBe(200);
  const diversified = Buffer.from(key.body, "base64");
  const ch = card.getChallenge();
  const r = await response(server, who, requestId, scid, card.cardId, ch, false);
  expect(card.authenticate(Buffer.from(r.body, "base64"))).toBe(true);
  card.setAdminKey(diversified);
  const csr = await card.csr();
  const issued = await call(server, "POST", `/requests/${requestId}/certificatedata`, { ...who, body: { certificaterequests: [csr.der.toString("base64")] } });
  expect(issued.status, issued.text).toBe(200);
  const done = await call(server, "PUT", `/requests/${requestId}`, { ...who, body: { status: "Completed" } });
  expect(done.status, done.text).toBe(200);
  return { requestId, scid, card, diversified, csr, pkcs7: Buffer.from(issued.body[0].Pkcs7, "base64") };
}

export { des3, TestCard };
