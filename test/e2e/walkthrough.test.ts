// Acceptance: all 28 steps of the published enrollment walkthrough against a real server
// process, with the walkthrough's own typographic slips, checked with openssl at the end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { opensslDes3, TestCard } from "../helpers/card.js";

const VPN = "97CD65FA-AF4B-4587-9309-0DD6BFD8B4E1";
const EMPTY = "00000000-0000-0000-0000-000000000000";
const alice = { user: "alice", password: "alice" };

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

describe("seed enrollment walkthrough", () => {
  it("carries out all 28 steps", async () => {
    // 1. templates the user may enroll for
    const templates = await call(server, "GET", "/CertificateManagement/api/v1.0/profiletemplates.", alice);
    expect(templates.status).toBe(200);
    expect(templates.headers.get("content-type")).toBe("application/json; charset=utf-8");
    // 2. the user picks the VPN virtual smart card template
    const vpn = templates.body.find((t: any) => t.Uuid === VPN.toLowerCase());
    expect(vpn).toEqual({
      Name: "Virtual Smartcard VPN",
      Description: expect.any(String),
      Uuid: VPN.toLowerCase(),
      IsSmartcardProfileTemplate: true,
      IsVirtualSmartcardProfileTemplate: true,
    });

    // 3–4. the enrollment policy: one data item, no comments
    const policy = await call(server, "GET", `/CertificateManagement/api/v1.0/profiletemplates/${VPN}/policies/enroll`, alice);
    expect(policy.status).toBe(200);
    expect(policy.body.DataCollection.map((d: any) => d.Name)).toEqual(["Request Reason"]);
    expect(policy.body.PolicyDataCollection).toEqual(policy.body.DataCollection);
    expect(policy.body.CollectComments).toBe(false);
    expect(policy.body.ApprovalsNeeded).toBe(0);

    // 5–6. create the request with the walkthrough's body, curly quotes and all
    const created = await call(server, "POST", "/CertificateManagement/api/v1.0/requests", {
      ...alice,
      body: `{
        "datacollection":"[{\u201cRequest Reason\u201d:\u201dNeed VPN Certs\u201d}]",
        "type":"Enroll",
        "profiletemplateuuid":"${VPN}",
        "comment":""
    }`,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatch(/^api\/v1\.0\/requests\/[0-9a-f-]{36}$/);
    expect(created.headers.get("location")).toBe(`/CertificateManagement/${created.body}`);
    const requestId = (created.body as string).split("/").pop()!.toUpperCase();

    // 7–9. the request is approved and has no card yet
    const request = await call(server, "GET", `/CertificateManagement/api/v1.0/requests/${requestId}`, alice);
    expect(request.status).toBe(200);
    expect(request.body).toMatchObject({
      Uuid: requestId.toLowerCase(),
      RequestType: 1,
      Status: 3,
      Flags: 2,
      DataCollectionFlags: 32,
      Completed: "0001-01-01T00:00:00",
      NewSmartcardUuid: EMPTY,
      OldSmartcardUuid: EMPTY,
      ProfileTemplateUuid: VPN.toLowerCase(),
      IsSmartcard: true,
      DataCollection: [{ Name: "Request Reason", Value: "Need VPN Certs" }],
    });

    // 10–13. the smart card policy gives the default admin key
    const config = await call(server, "GET", `/CertificateManagement/api/v1.0/profiletemplates/${VPN}/configuration/smartcards`, alice);
    expect(config.status).toBe(200);
    expect(config.body).toMatchObject({ DefaultAdminKeyHex: "010203040506070801020304050607080102030405060708", DiversifyAdminKey: true, UserPinOption: 1 });
    const card = new TestCard(config.body.DefaultAdminKeyHex);

    // 14–15. bind the card, with the walkthrough's leading space and trailing comma
    const bound = await call(server, "POST", "/CertificateManagement/api/v1.0/smartcards", {
      ...alice,
      body: `{
        "requestid":" ${requestId}",
        "cardid":"${card.cardId}",
    }`,
    });
    expect(bound.status).toBe(201);
    expect(bound.body).toMatch(/^api\/v1\.0\/smartcards\/[0-9a-f-]{36}$/);
    const scid = (bound.body as string).split("/").pop()!;
    expect(scid).not.toBe(card.cardId.toLowerCase());

    // 16. read the card, with the walkthrough's space after the slash
    const sc = await call(server, "GET", `/CertificateManagement/api/v1.0/smartcards/ ${scid.toUpperCase()}`, alice);
    expect(sc.status).toBe(200);
    expect(sc.body).toMatchObject({
      Uuid: scid,
      SerialNumber: `{${card.cardId.toLowerCase()}}`,
      Middleware: "MSBaseCSP",
      Atr: "3b8d0180fba000000397425446590301c8",
      Status: 2,
      AssignedUserUuid: request.body.TargetUserUuid,
      ProfileTemplateName: "Virtual Smartcard VPN",
    });

    // 17–18. the diversified admin key
    const base = `/CertificateManagement/api/v1.0/requests/${requestId}/smartcards/${scid}`;
    const key = await call(server, "GET", `${base}/diversifiedkey?cardid=${card.cardId}`, alice);
    expect(key.status).toBe(200);
    const diversified = Buffer.from(key.body, "base64");
    expect(diversified).toHaveLength(24);
    expect(diversified.equals(Buffer.from(config.body.DefaultAdminKeyHex, "hex"))).toBe(false);

    // 19. the walkthrough's 7-byte hex challenge is refused with a clear message
    const bad = await call(server, "GET", `${base}/authenticationresponse?cardid=${card.cardId}&challenge=CFAA62118BBD25&diversified=false`, alice);
    expect(bad.status).toBe(400);
    expect(bad.body.Message).toMatch(/base64.*8-byte challenge/);
    expect(bad.body.CorrelationId).toMatch(/^[0-9a-f-]{36}$/);

    // 19–20. admin authentication with the default key, then the key is diversified
    const ch1 = card.getChallenge();
    const r1 = await call(server, "GET", `${base}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch1.toString("base64"))}&diversified=False`, alice);
    expect(r1.status).toBe(200);
    const resp1 = Buffer.from(r1.body, "base64");
    expect(resp1.equals(opensslDes3(Buffer.from(config.body.DefaultAdminKeyHex, "hex"), ch1))).toBe(true);
    expect(card.authenticate(resp1)).toBe(true);
    card.setAdminKey(diversified);

    // 21–23. the user's PIN is set under the diversified key
    const ch2 = card.getChallenge();
    const r2 = await call(server, "GET", `/CertificateManagement/api/v1.0/ requests/${requestId}/smartcards/${scid}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch2.toString("base64"))}&diversified=true`, alice);
    expect(r2.status).toBe(200);
    const resp2 = Buffer.from(r2.body, "base64");
    expect(resp2.equals(opensslDes3(diversified, ch2))).toBe(true);
    expect(card.authenticate(resp2)).toBe(true);
    card.setPin("12345678");

    // 24–25. generation options, with the walkthrough's trailing dot
    const options = await call(server, "GET", `/CertificateManagement/api/v1.0/requests/${requestId}/certificaterequestgenerationoptions.`, alice);
    expect(options.status).toBe(200);
    expect(options.body).toEqual([
      {
        Subject: "CN=Alice Example",
        KeyAlgorithmName: "RSA",
        KeySize: 2048,
        FriendlyName: expect.any(String),
        HashAlgorithmName: "SHA256",
        KeyStorageProviderNames: expect.any(Array),
        Exportable: 0,
        KeyProtectionLevel: 0,
        KeyUsages: 3,
      },
    ]);

    // 26–27. submit the CSR, receive a certs-only PKCS#7
    const csr = await card.csr("SHA-256");
    const pem = `-----BEGIN NEW CERTIFICATE REQUEST-----\r\n${csr.der.toString("base64").replace(/(.{64})/g, "$1\r\n")}\r\n-----END NEW CERTIFICATE REQUEST-----`;
    const issued = await call(server, "POST", `/CertificateManagement/api/v1.0/requests/${requestId}/certificatedata`, {
      ...alice,
      body: { pfxpassword: "", certificaterequests: [pem] },
    });
    expect(issued.status).toBe(200);
    expect(issued.body).toHaveLength(1);
    expect(issued.body[0]).toMatchObject({
      TemplateCommonName: "VPN",
      CertificateId: 0,
      Flags: 65536,
      UseLocalMachineStore: false,
      Error: null,
      Pfx: null,
      IsExternal: false,
      isServerGenerated: false,
      isPfx: false,
      isPkcs7: true,
      isKeyHistory: false,
    });

    // the answer checked with openssl
    const dir = mkdtempSync(join(tmpdir(), "openclm-walk-"));
    writeFileSync(join(dir, "answer.p7b"), Buffer.from(issued.body[0].Pkcs7, "base64"));
    const printed = execFileSync("openssl", ["pkcs7", "-inform", "DER", "-in", join(dir, "answer.p7b"), "-print_certs"]).toString();
    const pems = printed.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(pems).toHaveLength(3);
    const leaf = new X509Certificate(pems[0]!);
    writeFileSync(join(dir, "leaf.pem"), pems[0]!);
    const chain = await call(server, "GET", "/ca/certificates");
    expect(chain.status).toBe(200);
    expect(chain.headers.get("content-type")).toContain("application/pem-certificate-chain");
    const chainPems = (chain.text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) as string[];
    expect(chainPems).toHaveLength(2);
    writeFileSync(join(dir, "issuing.pem"), chainPems[0]!);
    writeFileSync(join(dir, "root.pem"), chainPems[1]!);
    const verified = execFileSync("openssl", ["verify", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "issuing.pem"), join(dir, "leaf.pem")]).toString();
    expect(verified).toContain("leaf.pem: OK");
    expect(leaf.publicKey.export({ type: "spki", format: "der" }).equals(csr.spki)).toBe(true);
    const text = execFileSync("openssl", ["x509", "-in", join(dir, "leaf.pem"), "-noout", "-text"]).toString();
    expect(text).toMatch(/TLS Web Client Authentication/);
    expect(text).toMatch(/Subject: CN ?= ?Alice Example/);
    expect(text).not.toMatch(/ignored by the server/);
    const days = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(365);

    // the same CSR again gets the same answer; a different one is a conflict
    const again = await call(server, "POST", `/CertificateManagement/api/v1.0/requests/${requestId}/certificatedata`, { ...alice, body: { certificaterequests: [csr.der.toString("base64")] } });
    expect(again.status).toBe(200);
    expect(again.body[0].Pkcs7).toBe(issued.body[0].Pkcs7);
    const other = await new TestCard("00").csr();
    const conflict = await call(server, "POST", `/CertificateManagement/api/v1.0/requests/${requestId}/certificatedata`, { ...alice, body: { certificaterequests: [other.der.toString("base64")] } });
    expect(conflict.status).toBe(409);

    // 28. complete the request
    const done = await call(server, "PUT", `/CertificateManagement/api/v1.0/requests/${requestId}`, { ...alice, body: { status: "Completed" } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ Status: 8, NewSmartcardUuid: scid });
    expect(done.body.Completed).not.toBe("0001-01-01T00:00:00");

    // after: the card is active, holds the certificate, and keys are no longer released
    const active = await call(server, "GET", `/smartcards?cardid={${card.cardId}}`, alice);
    expect(active.status).toBe(200);
    expect(active.body).toHaveLength(1);
    expect(active.body[0]).toMatchObject({ Uuid: scid, Status: 3 });
    const certs = await call(server, "GET", `/smartcards/${scid}/certificates`, alice);
    expect(certs.body).toEqual([
      {
        IsKeyHistory: false,
        ArchivedOnCa: false,
        CertificateType: 1,
        TemplateCommonName: "VPN",
        SerialNumber: leaf.serialNumber.toUpperCase(),
        Thumbprint: leaf.fingerprint.replace(/:/g, "").toUpperCase(),
      },
    ]);
    const mine = await call(server, "GET", "/certificates", alice);
    expect(mine.body).toHaveLength(1);
    expect(mine.body[0]).toMatchObject({ SerialNumber: leaf.serialNumber.toUpperCase(), Status: 0, CertificateType: 1, RequesterName: "alice" });
    const ops = await call(server, "GET", `/smartcards/${scid}/operations`, alice);
    expect(ops.body).toEqual(expect.arrayContaining(["renew", "unblock", "retire"]));
    const late = await call(server, "GET", `${base}/diversifiedkey?cardid=${card.cardId}`, alice);
    expect(late.status).toBe(409);
    const list = await call(server, "GET", "/requests?status=completed", alice);
    expect(list.body.map((r: any) => r.Uuid)).toContain(requestId.toLowerCase());
  });
});
