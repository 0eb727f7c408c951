// Acceptance (issue 4): every request type end to end over the API, with the resulting request,
// card/profile and certificate states, and the CRL read back with openssl.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { bindCard, createRequest, DEFAULT_KEY, enroll, keyPath, response, TestCard, users, VPN, type Creds } from "../helpers/flow.js";
import { opensslDes3 } from "../helpers/card.js";
import { leafOfPkcs7, readCrl, serialOf, tempDir, verifyWithCrl } from "../helpers/pki.js";

const LOGON = "5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d";
const LOGON_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718";
const SOFTWARE = "3e8f2a61-7b4c-4d19-a5e0-6c2b9f1d8a47";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

async function request(who: Creds, body: Record<string, unknown>): Promise<string> {
  const r = await call(server, "POST", "/requests", { ...who, body: { datacollection: [], comment: "", ...body } });
  expect(r.status, r.text).toBe(201);
  return (r.body as string).split("/").pop()!;
}
const get = (path: string, who: Creds = users.alice) => call(server, "GET", path, who);
const complete = (id: string, who: Creds = users.alice) => call(server, "PUT", `/requests/${id}`, { ...who, body: { status: "Completed" } });

/** Issues the request's certificate for a bound card and returns the leaf PEM. */
async function issueFor(who: Creds, requestId: string, card: TestCard): Promise<string> {
  const csr = await card.csr();
  const r = await call(server, "POST", `/requests/${requestId}/certificatedata`, { ...who, body: { certificaterequests: [csr.der.toString("base64")] } });
  expect(r.status, r.text).toBe(200);
  return leafOfPkcs7(Buffer.from(r.body[0].Pkcs7, "base64"));
}

describe("approvals", () => {
  it("needs a distinct authorized approver, counts parallel approvals once, and issues a logon certificate", async () => {
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: LOGON, datacollection: [{ "Employee ID": "1234" }] });
    expect((await get(`/requests/${id}`)).body).toMatchObject({ Status: 16, ApprovalsNeeded: 1, Approvals: 0 });
    const early = await call(server, "POST", "/smartcards", { ...users.alice, body: { requestid: id, cardid: crypto.randomUUID() } });
    expect(early.status).toBe(409);
    expect((await call(server, "POST", `/requests/${id}/approvals`, { ...users.alice, body: { decision: "Approve" } })).status).toBe(403);
    expect((await call(server, "POST", `/requests/${id}/approvals`, { ...users.carol, body: { decision: "Approve" } })).status).toBe(403);
    // bob sees it in his queue
    const queue = await call(server, "GET", "/requests?status=Pending", users.bob);
    expect(queue.body.find((r: any) => r.Uuid === id)).toMatchObject({ TargetUserName: "alice", ProfileTemplateName: "Smart Card Logon" });
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(server, "POST", `/requests/${id}/approvals`, { ...users.bob, body: { decision: "Approve", comment: "ok" } })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(7);
    expect((await get(`/requests/${id}`)).body).toMatchObject({ Status: 3, Approvals: 1 });

    const card = new TestCard(LOGON_KEY);
    const bound = await call(server, "POST", "/smartcards", { ...users.alice, body: { requestid: id, cardid: card.cardId, atr: "3B DC 18 FF 81 91 FE 1F C3 80 73 C8 21 13 66 01 06 11 59 00 01 28".replace(/ /g, "") } });
    expect(bound.status, bound.text).toBe(201);
    const scid = (bound.body as string).split("/").pop()!;
    const ch = card.getChallenge();
    const r = await response(server, users.alice, id, scid, card.cardId, ch, false);
    expect(Buffer.from(r.body, "base64").equals(opensslDes3(Buffer.from(LOGON_KEY, "hex"), ch))).toBe(true);
    const leaf = await issueFor(users.alice, id, card);
    const text = execFileSync("openssl", ["x509", "-noout", "-text"], { input: leaf }).toString();
    expect(text).toMatch(/Microsoft Smartcard Login|1\.3\.6\.1\.4\.1\.311\.20\.2\.2/);
    expect(text).toMatch(/UPN:alice@example\.test|othername: UPN::alice@example\.test|othername:.*alice@example\.test/);
    expect((await complete(id)).body.Status).toBe(8);
    expect((await get(`/smartcards/${scid}`)).body.Status).toBe(3);
  });

  it("refuses to complete an enrollment before its certificate is issued, with the count in the message", async () => {
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "early" }] });
    expect((await call(server, "POST", "/smartcards", { ...users.alice, body: { requestid: id, cardid: crypto.randomUUID() } })).status).toBe(201);
    const early = await complete(id);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ ErrorCode: "IncompleteRequest", Message: "the request cannot complete: 0 of 1 certificates issued" });
    expect((await get(`/requests/${id}`)).body.Status).toBe(18); // still Executing
  });

  it("refuses to complete an enrollment with neither a card nor its certificate, reporting the certificates first", async () => {
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "no card" }] });
    const before = (await get(`/requests/${id}`)).body.Status;
    const early = await complete(id);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ ErrorCode: "IncompleteRequest", Message: "the request cannot complete: 0 of 1 certificates issued" });
    expect((await get(`/requests/${id}`)).body.Status).toBe(before);
  });

  it("binds one card per request and one request per card when binds race, each audited once", async () => {
    // The same card to one request eight times at once: one card record, every call answered with it.
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "race" }] });
    const card = crypto.randomUUID();
    const same = await Promise.all(Array.from({ length: 8 }, () => call(server, "POST", "/smartcards", { ...users.alice, body: { requestid: id, cardid: card } })));
    for (const s of same) expect(s.status, s.text).toBe(201);
    expect(new Set(same.map((s) => s.body as string)).size).toBe(1);
    // One card to two requests at once: one binds, the other is refused.
    const [x, y] = await Promise.all(
      ["race x", "race y"].map((reason) => request(users.alice, { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": reason }] })),
    );
    const shared = crypto.randomUUID();
    const pair = await Promise.all([x, y].map((r) => call(server, "POST", "/smartcards", { ...users.alice, body: { requestid: r, cardid: shared } })));
    expect(pair.map((p) => p.status).sort(), pair.map((p) => p.text).join(" ")).toEqual([201, 409]);
    expect(pair.find((p) => p.status === 409)!.body.ErrorCode).toBe("CardInUse");
    const loser = pair[0]!.status === 409 ? x : y;
    expect((await get(`/requests/${loser}`)).body.Status).toBe(3); // still Approved, no card
    for (const [r, binds] of [[id, 1], [x, pair[0]!.status === 201 ? 1 : 0], [y, pair[1]!.status === 201 ? 1 : 0]] as const) {
      const trail = await call(server, "GET", `/audit?request=${r}&action=smartcard.bind`, users.dave);
      expect(trail.status, trail.text).toBe(200);
      expect(trail.body).toHaveLength(binds);
    }
  });

  it("issues one certificate when submits for one request race: the winning CSR gets it again, another CSR is refused", async () => {
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "submit race" }] });
    const { card } = await bindCard(server, users.alice, id);
    const [a, b] = [(await card.csr()).der, (await new TestCard(DEFAULT_KEY).csr()).der];
    const csrs = [a, b, a, b, a, b, a, b];
    const answers = await Promise.all(
      csrs.map((der) => call(server, "POST", `/requests/${id}/certificatedata`, { ...users.alice, body: { certificaterequests: [der.toString("base64")] } })),
    );
    const winner = csrs[answers.findIndex((x) => x.status === 200)]!;
    const serials = new Set<string>();
    answers.forEach((x, i) => {
      if (csrs[i] === winner) {
        expect(x.status, x.text).toBe(200);
        serials.add(serialOf(leafOfPkcs7(Buffer.from(x.body[0].Pkcs7, "base64"))));
      } else {
        expect(x.status, x.text).toBe(409);
        expect(x.body.ErrorCode).toBe("AlreadyIssued");
      }
    });
    expect(serials.size).toBe(1);
    const trail = await call(server, "GET", `/audit?request=${id}&action=certificate.issue`, users.dave);
    expect(trail.status, trail.text).toBe(200);
    expect(trail.body).toHaveLength(1);
  });

  it("ends a request with one deny", async () => {
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: LOGON, datacollection: [{ "Employee ID": "98765" }] });
    const denied = await call(server, "POST", `/requests/${id}/approvals`, { ...users.bob, body: { decision: "Deny", comment: "no" } });
    expect(denied.status).toBe(200);
    expect(denied.body.Status).toBe(4);
    expect((await call(server, "PUT", `/requests/${id}`, { ...users.alice, body: { status: "Canceled" } })).status).toBe(409);
  });
});

describe("card workflows", () => {
  it("Unblock releases the card's diversified response to its owner", async () => {
    const e = await enroll(server);
    const id = await request(users.alice, { type: "Unblock", smartcard: e.scid });
    expect((await get(`/requests/${id}`)).body).toMatchObject({ RequestType: 5, Status: 3, OldSmartcardUuid: e.scid, NewSmartcardUuid: e.scid });
    const ch = Buffer.from("a1b2c3d4e5f60718", "hex");
    const r = await response(server, users.alice, id, e.scid, e.card.cardId, ch, true);
    expect(r.status).toBe(200);
    expect(Buffer.from(r.body, "base64").equals(opensslDes3(e.diversified, ch))).toBe(true);
    expect((await complete(id)).body.Status).toBe(8);
    expect((await get(`/smartcards/${e.scid}`)).body.Status).toBe(3);
  });

  it("OfflineUnblock gives the helpdesk one response for that card, and nobody else", async () => {
    const e = await enroll(server);
    // the helpdesk finds the user's cards by name; others see none of them
    const found = await get(`/smartcards?targetuser=alice`, users.carol);
    expect(found.body.map((c: any) => c.Uuid)).toContain(e.scid);
    expect((await get(`/smartcards?targetuser=alice`, users.bob)).body).toEqual([]);
    expect((await get(`/smartcards?targetuser=nobody-here`, users.carol)).body).toEqual([]);
    const id = await request(users.alice, { type: "OfflineUnblock", smartcard: e.scid });
    const ch = Buffer.from("0102030405060708", "hex");
    expect((await response(server, users.bob, id, e.scid, e.card.cardId, ch, true)).status).toBe(404);
    expect((await response(server, users.carol, id, e.scid, crypto.randomUUID(), ch, true)).status).toBe(403);
    const other = await enroll(server);
    expect((await response(server, users.carol, id, other.scid, other.card.cardId, ch, true)).status).toBe(404);
    const r = await response(server, users.carol, id, e.scid, e.card.cardId, ch, true);
    expect(r.status).toBe(200);
    expect(Buffer.from(r.body, "base64").equals(opensslDes3(e.diversified, ch))).toBe(true);
    expect((await response(server, users.carol, id, e.scid, e.card.cardId, ch, true)).status).toBe(403);
    expect((await complete(id)).body.Status).toBe(8);
    expect((await response(server, users.carol, id, e.scid, e.card.cardId, ch, true)).status).toBe(409);
  });

  it("Renew issues new certificates on the same card and supersedes the old ones", async () => {
    const e = await enroll(server);
    const oldLeaf = leafOfPkcs7(e.pkcs7);
    const id = await request(users.alice, { type: "Renew", smartcard: e.scid });
    expect((await get(`/requests/${id}`)).body).toMatchObject({ RequestType: 3, OldSmartcardUuid: e.scid, NewSmartcardUuid: e.scid });
    const key = await get(`${keyPath(id, e.scid)}/diversifiedkey?cardid=${e.card.cardId}`);
    expect(key.status).toBe(200);
    const newLeaf = await issueFor(users.alice, id, e.card);
    expect((await verifyWithCrl(server, oldLeaf)).ok).toBe(true); // still valid until the renewal completes
    expect((await complete(id)).body.Status).toBe(8);
    const certs = (await get("/certificates")).body as any[];
    expect(certs.find((c) => c.SerialNumber === serialOf(oldLeaf))?.Status).toBe(4);
    expect(certs.find((c) => c.SerialNumber === serialOf(newLeaf))?.Status).toBe(0);
    const crl = await readCrl(server);
    expect(crl.entries.get(serialOf(oldLeaf))).toBe("Superseded");
    expect((await verifyWithCrl(server, newLeaf)).ok).toBe(true);
    expect((await get(`/smartcards/${e.scid}/certificates`)).body).toHaveLength(2);
  });

  it("OnlineUpdate reissues the card's certificates under the current template and supersedes the old ones", async () => {
    const e = await enroll(server);
    const oldLeaf = leafOfPkcs7(e.pkcs7);
    const id = await request(users.alice, { type: "OnlineUpdate", smartcard: e.scid });
    expect((await get(`/requests/${id}`)).body).toMatchObject({ RequestType: 10, Status: 3, OldSmartcardUuid: e.scid, NewSmartcardUuid: e.scid });
    const newLeaf = await issueFor(users.alice, id, e.card);
    expect((await complete(id)).body.Status).toBe(8);
    const card = (await get(`/smartcards/${e.scid}`)).body;
    expect(card).toMatchObject({ Status: 3, ProfileTemplateVersion: 1 });
    expect((await readCrl(server)).entries.get(serialOf(oldLeaf))).toBe("Superseded");
    expect((await verifyWithCrl(server, newLeaf)).ok).toBe(true);
  });

  it("Duplicate gives the same user a second card", async () => {
    const e = await enroll(server);
    const id = await request(users.alice, { type: "Duplicate", profiletemplateuuid: VPN, smartcard: e.scid });
    const { scid, card } = await bindCard(server, users.alice, id);
    await issueFor(users.alice, id, card);
    expect((await complete(id)).body.Status).toBe(8);
    expect((await get(`/smartcards/${scid}`)).body).toMatchObject({ Status: 3, ParentSmartcardUuid: e.scid, Flags: 0 });
    expect((await get(`/smartcards/${e.scid}`)).body.Status).toBe(3);
  });

  it("TemporaryEnroll suspends the permanent card until Reinstate", async () => {
    const e = await enroll(server, users.carol); // carol's own card: she has none of alice's others
    const permanentLeaf = leafOfPkcs7(e.pkcs7);
    const id = await request(users.carol, { type: "TemporaryEnroll", profiletemplateuuid: VPN, datacollection: [] });
    const { scid, card } = await bindCard(server, users.carol, id);
    const tempLeaf = await issueFor(users.carol, id, card);
    const days = (new Date(new X509Certificate(tempLeaf).validTo).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeLessThanOrEqual(7.01);
    expect((await complete(id, users.carol)).body.Status).toBe(8);
    expect((await get(`/smartcards/${scid}`, users.carol)).body).toMatchObject({ Status: 3, PermanentSmartcardUuid: e.scid });
    expect((await get(`/smartcards/${e.scid}`, users.carol)).body.Status).toBe(5);
    expect((await readCrl(server)).entries.get(serialOf(permanentLeaf))).toBe("Certificate Hold");
    expect((await verifyWithCrl(server, permanentLeaf)).ok).toBe(false);

    const back = await request(users.carol, { type: "Reinstate", smartcard: e.scid });
    expect((await complete(back, users.carol)).body.Status).toBe(8);
    expect((await get(`/smartcards/${e.scid}`, users.carol)).body.Status).toBe(3);
    expect((await get(`/smartcards/${scid}`, users.carol)).body.Status).toBe(6);
    const crl = await readCrl(server);
    expect(crl.entries.has(serialOf(permanentLeaf))).toBe(false);
    expect(crl.entries.get(serialOf(tempLeaf))).toBe("Cessation Of Operation");
    expect((await verifyWithCrl(server, permanentLeaf)).ok).toBe(true);
  });

  it("Retire revokes with cessationOfOperation and openssl refuses the certificate", async () => {
    const e = await enroll(server);
    const leaf = leafOfPkcs7(e.pkcs7);
    const before = await readCrl(server);
    const id = await request(users.alice, { type: "Retire", smartcard: e.scid });
    const marked = await call(server, "PUT", `/requests/${id}/smartcards/${e.scid}`, { ...users.alice, body: { status: "Retired" } });
    expect(marked.status, marked.text).toBe(200);
    expect(marked.body.Status).toBe(6);
    expect((await complete(id)).body.Status).toBe(8);
    const crl = await readCrl(server);
    expect(crl.number).toBeGreaterThan(before.number);
    expect(crl.entries.get(serialOf(leaf))).toBe("Cessation Of Operation");
    const v = await verifyWithCrl(server, leaf);
    expect(v.ok).toBe(false);
    expect(v.output).toMatch(/certificate revoked/);
    // retired cards' certificates leave /certificates
    expect(((await get("/certificates")).body as any[]).some((c) => c.SerialNumber === serialOf(leaf))).toBe(false);
  });

  it("Revoke uses the reason given; Disable disables", async () => {
    const a = await enroll(server);
    const id = await request(users.alice, { type: "Revoke", smartcard: a.scid, revocationreason: "keyCompromise" });
    expect((await get(`/requests/${id}`)).body.RequestType).toBe(4);
    expect((await complete(id)).body.Status).toBe(8);
    expect((await get(`/smartcards/${a.scid}`)).body.Status).toBe(4);
    expect((await readCrl(server)).entries.get(serialOf(leafOfPkcs7(a.pkcs7)))).toBe("Key Compromise");

    const b = await enroll(server);
    const d = await request(users.alice, { type: "Disable", smartcard: b.scid });
    expect((await complete(d)).body.Status).toBe(8);
    expect((await get(`/smartcards/${b.scid}`)).body.Status).toBe(4);
    expect((await readCrl(server)).entries.has(serialOf(leafOfPkcs7(b.pkcs7)))).toBe(true);
    // a disabled card cannot be renewed
    const renew = await call(server, "POST", "/requests", { ...users.alice, body: { type: "Renew", smartcard: b.scid, datacollection: [], comment: "" } });
    expect(renew.status).toBe(409);
  });

  it("an abandoned request revokes what it issued and never activates its card", async () => {
    const id = await createRequest(server, users.alice);
    const { scid, card } = await bindCard(server, users.alice, id);
    const leaf = await issueFor(users.alice, id, card);
    const r = await call(server, "PUT", `/requests/${id}`, { ...users.alice, body: { status: "Abandoned" } });
    expect(r.status).toBe(200);
    expect(r.body.Status).toBe(19);
    expect((await get(`/smartcards/${scid}`)).body.Status).toBe(6);
    expect((await readCrl(server)).entries.get(serialOf(leaf))).toBe("Cessation Of Operation");
    expect((await complete(id)).status).toBe(409);
  });
});

describe("software profiles", () => {
  it("delivers a PFX, archives the key, and Recover returns the same key", async () => {
    const id = await request(users.alice, { type: "Enroll", profiletemplateuuid: SOFTWARE });
    expect((await get(`/requests/${id}/certificaterequestgenerationoptions`)).body).toEqual([]);
    const noPassword = await call(server, "POST", `/requests/${id}/certificatedata`, { ...users.alice, body: { certificaterequests: [], pfxpassword: "" } });
    expect(noPassword.status).toBe(400);
    expect(noPassword.body.Message).toMatch(/pfxpassword/);
    const issued = await call(server, "POST", `/requests/${id}/certificatedata`, { ...users.alice, body: { certificaterequests: [], pfxpassword: "s3cret-pfx" } });
    expect(issued.status, issued.text).toBe(200);
    expect(issued.body[0]).toMatchObject({ isPfx: true, isPkcs7: false, isServerGenerated: true, Pkcs7: null });
    const dir = tempDir();
    writeFileSync(join(dir, "a.pfx"), Buffer.from(issued.body[0].Pfx, "base64"));
    const opened = execFileSync("openssl", ["pkcs12", "-in", join(dir, "a.pfx"), "-passin", "pass:s3cret-pfx", "-nodes"]).toString();
    expect(opened).toMatch(/BEGIN PRIVATE KEY/);
    expect(spawnSync("openssl", ["pkcs12", "-in", join(dir, "a.pfx"), "-passin", "pass:wrong", "-nodes"]).status).not.toBe(0);
    const firstKey = publicKeyOf(join(dir, "a.pfx"), "s3cret-pfx");
    expect((await complete(id)).body.Status).toBe(8);

    const profiles = await get("/profiles?status=Active");
    const profile = (profiles.body as any[]).find((p) => p.ProfileTemplateUuid === SOFTWARE);
    expect(profile).toMatchObject({ Status: 2, Flags: 1 });
    expect(profile.ProfileOperations).toEqual(expect.arrayContaining(["renew", "recover", "disable"]));
    expect((await get(`/requests/${id}/profiles`)).body[0].Uuid).toBe(profile.Uuid);
    expect((await get(`/profiles/${profile.Uuid}/certificates`)).body[0]).toMatchObject({ ArchivedOnCa: true, CertificateType: 1 });
    expect((await get(`/profiles/${profile.Uuid}`, users.bob)).status).toBe(404);

    const rec = await request(users.alice, { type: "Recover", profile: profile.Uuid });
    expect((await call(server, "POST", `/requests/${rec}/certificatedata`, { ...users.alice, body: { certificaterequests: [], pfxpassword: "" } })).status).toBe(400);
    expect((await call(server, "POST", `/requests/${rec}/certificatedata`, { ...users.alice, body: { certificaterequests: [], pfxpassword: "ab" } })).status).toBe(400);
    const again = await call(server, "POST", `/requests/${rec}/certificatedata`, { ...users.alice, body: { certificaterequests: [], pfxpassword: "another-pass" } });
    expect(again.status, again.text).toBe(200);
    writeFileSync(join(dir, "b.pfx"), Buffer.from(again.body[0].Pfx, "base64"));
    expect(publicKeyOf(join(dir, "b.pfx"), "another-pass")).toBe(firstKey);
    expect((await complete(rec)).body.Status).toBe(8);

    // the helpdesk recovers on the user's behalf
    const onBehalf = await request(users.carol, { type: "RecoverOnBehalf", profile: profile.Uuid });
    expect((await get(`/requests/${onBehalf}`, users.carol)).body).toMatchObject({ RequestType: 8, IsEnrollmentAgent: true });
    const byCarol = await call(server, "POST", `/requests/${onBehalf}/certificatedata`, { ...users.carol, body: { certificaterequests: [], pfxpassword: "for-alice" } });
    expect(byCarol.status, byCarol.text).toBe(200);
    writeFileSync(join(dir, "c.pfx"), Buffer.from(byCarol.body[0].Pfx, "base64"));
    expect(publicKeyOf(join(dir, "c.pfx"), "for-alice")).toBe(firstKey);
    expect((await call(server, "POST", "/requests", { ...users.alice, body: { type: "RecoverOnBehalf", profile: profile.Uuid, datacollection: [], comment: "" } })).status).toBe(403);
  });
});

function publicKeyOf(pfx: string, password: string): string {
  const pem = execFileSync("openssl", ["pkcs12", "-in", pfx, "-passin", `pass:${password}`, "-nodes", "-nocerts"]).toString();
  return execFileSync("openssl", ["pkey", "-pubout"], { input: pem }).toString();
}

