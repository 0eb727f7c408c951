// A small, configurable stand-in for the CM server, for flow branches the demo server does not
// offer (no diversification, server-proposed PINs, several keys, CA certificates left off…).
// Certificates are issued with the openssl command line.
import { createCipheriv, createHash, randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { json, startStub, type SeenRequest } from "./stub-server.js";
import { tempDir } from "./tmp.js";

export interface FakeTemplate {
  uuid: string;
  name: string;
  diversify: boolean;
  userPinOption: number;
  doNotInstallCaCertificates: boolean;
  options: { KeyAlgorithmName: string; KeySize: number; HashAlgorithmName: string; Subject: string }[];
  approvals: number;
}

export const DEFAULT_KEY_HEX = "010203040506070801020304050607080102030405060708";

function des3(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv("des-ede3-ecb", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** Not the product's KDF; any deterministic per-card key serves the client's side of the test. */
export function fakeDiversifiedKey(cardId: string): Buffer {
  return createHash("sha256").update(`fake-master:${cardId}`).digest().subarray(0, 24);
}

export async function startFakeCm(template: Partial<FakeTemplate> = {}) {
  const t: FakeTemplate = {
    uuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
    name: "Fake VSC",
    diversify: true,
    userPinOption: 1,
    doNotInstallCaCertificates: false,
    options: [{ KeyAlgorithmName: "RSA", KeySize: 2048, HashAlgorithmName: "SHA256", Subject: "CN=Fake User" }],
    approvals: 0,
    ...template,
  };
  const dir = tempDir();
  const f = (n: string) => join(dir, n);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-subj", "/CN=Fake CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE"], { stdio: "ignore" });
  const requests = new Map<string, { status: number; card: string | null; scid: string | null; type: string; old: string | null }>();
  const cards = new Map<string, { cardId: string; status: number }>();
  const serverPin = "server-chosen-PIN-42";
  let n = 0;

  const issue = (csrB64: string): string => {
    const id = ++n;
    writeFileSync(f(`r${id}.der`), Buffer.from(csrB64, "base64"));
    execFileSync("openssl", ["x509", "-req", "-inform", "DER", "-in", f(`r${id}.der`), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "1", "-out", f(`c${id}.pem`), "-subj", "/CN=Fake User"], { stdio: "ignore" });
    execFileSync("openssl", ["crl2pkcs7", "-nocrl", "-certfile", f(`c${id}.pem`), "-certfile", f("ca.pem"), "-outform", "DER", "-out", f(`p${id}.p7b`)], { stdio: "ignore" });
    return readFileSync(f(`p${id}.p7b`)).toString("base64");
  };

  const handle = (req: SeenRequest, res: Parameters<Parameters<typeof startStub>[0]>[1]) => {
    const path = req.url.pathname.replace(/^\/CertificateManagement\/api\/v1\.0/i, "");
    const body = req.body ? JSON.parse(req.body) : null;
    let m: RegExpExecArray | null;
    if (req.method === "GET" && path === "/profiletemplates") {
      return json(res, 200, [{ Name: t.name, Description: "", Uuid: t.uuid, IsSmartcardProfileTemplate: true, IsVirtualSmartcardProfileTemplate: true }]);
    }
    if (req.method === "GET" && path === `/profiletemplates/${t.uuid}/policies/enroll`) {
      return json(res, 200, { Enabled: true, CollectComments: false, DataCollection: [] });
    }
    if (req.method === "GET" && path === `/profiletemplates/${t.uuid}/configuration/smartcards`) {
      return json(res, 200, {
        DefaultAdminKeyHex: DEFAULT_KEY_HEX,
        DiversifyAdminKey: t.diversify,
        UserPinOption: t.userPinOption,
        UserPinPolicy: { MinLength: 6, MaxLength: 64, CharacterSet: "any", MaxAttempts: 4 },
        CreateVirtualSmartcard: true,
        DoNotInstallCaCertificates: t.doNotInstallCaCertificates,
      });
    }
    if (req.method === "POST" && path === "/requests") {
      const id = randomUUID();
      requests.set(id, { status: t.approvals > 0 ? 16 : 3, card: null, scid: null, type: String(body.type), old: body.smartcard ?? null });
      return json(res, 201, `api/v1.0/requests/${id}`);
    }
    if ((m = /^\/requests\/([^/]+)$/.exec(path))) {
      const r = requests.get(m[1]!);
      if (!r) return json(res, 404, { Message: "no such request", ErrorCode: "not_found", CorrelationId: randomUUID() });
      if (req.method === "PUT") r.status = { Completed: 8, Abandoned: 19, Canceled: 17 }[body.status as string]!;
      if (r.status === 8 && r.scid) cards.get(r.scid)!.status = 3;
      const none = "00000000-0000-0000-0000-000000000000";
      return json(res, 200, {
        Uuid: m[1],
        Status: r.status,
        RequestType: ({ Enroll: 1, Unblock: 5 } as Record<string, number>)[r.type] ?? 1,
        NewSmartcardUuid: r.scid ?? r.old ?? none,
        OldSmartcardUuid: r.old ?? none,
        ProfileTemplateUuid: t.uuid,
      });
    }
    if (req.method === "POST" && path === "/smartcards") {
      const r = requests.get(body.requestid)!;
      const scid = randomUUID();
      cards.set(scid, { cardId: body.cardid, status: 2 });
      Object.assign(r, { status: 18, card: body.cardid, scid });
      return json(res, 201, `api/v1.0/smartcards/${scid}`);
    }
    if ((m = /^\/smartcards\/([^/]+)$/.exec(path))) {
      const c = cards.get(m[1]!)!;
      return json(res, 200, { Uuid: m[1], Status: c.status, SerialNumber: `{${c.cardId}}`, Atr: "3b8d0180fba000000397425446590301c8" });
    }
    if ((m = /^\/smartcards\/([^/]+)\/serverproposedpin$/.exec(path))) return json(res, 200, serverPin);
    if ((m = /^\/requests\/([^/]+)\/smartcards\/([^/]+)\/diversifiedkey$/.exec(path))) {
      return json(res, 200, fakeDiversifiedKey(req.url.searchParams.get("cardid")!).toString("base64"));
    }
    if ((m = /^\/requests\/([^/]+)\/smartcards\/([^/]+)\/authenticationresponse$/.exec(path))) {
      const q = req.url.searchParams;
      const key = q.get("diversified") === "true" ? fakeDiversifiedKey(q.get("cardid")!) : Buffer.from(DEFAULT_KEY_HEX, "hex");
      return json(res, 200, des3(key, Buffer.from(q.get("challenge")!, "base64")).toString("base64"));
    }
    if ((m = /^\/requests\/([^/]+)\/certificaterequestgenerationoptions$/.exec(path))) {
      return json(res, 200, t.options.map((o) => ({ FriendlyName: "", KeyUsages: 3, Exportable: 0, KeyProtectionLevel: 0, KeyStorageProviderNames: [], ...o })));
    }
    if ((m = /^\/requests\/([^/]+)\/certificatedata$/.exec(path))) {
      return json(res, 200, (body.certificaterequests as string[]).map((c) => ({ TemplateCommonName: "T", Error: null, Pkcs7: issue(c), Pfx: null, isPkcs7: true, isPfx: false })));
    }
    json(res, 404, { Message: `fake: no route ${req.method} ${path}`, ErrorCode: "not_found", CorrelationId: randomUUID() });
  };
  const stub = await startStub(handle);
  return { ...stub, template: t, requests, cards, serverPin };
}
