import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSerial } from "../../src/crypto/ca.js";
import { buildCrl, type CrlEntry } from "../../src/crypto/crl.js";
import { generateKeyPair } from "../../src/crypto/pkcs12.js";
import { OpensslSandbox } from "./helpers/openssl.js";
import { makeCa, userSpec, type TestCa } from "./helpers/pki.js";

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

const HOUR = 3_600_000;
const cas: Record<string, TestCa> = {};
const issued: Record<string, { revoked: Buffer; good: Buffer; revokedSerial: Buffer }> = {};

beforeAll(async () => {
  const key = (await generateKeyPair("ECDSA_P256", 256)).spkiDer;
  for (const kind of ["rsa2048", "p256"] as const) {
    const ca = (cas[kind] = await makeCa(kind));
    const revokedSerial = newSerial();
    issued[kind] = {
      revokedSerial,
      revoked: await ca.issuer.issue(userSpec("mallory", key, { serial: revokedSerial })),
      good: await ca.issuer.issue(userSpec("alice", key)),
    };
    sandbox.writePem(`${kind}-root.pem`, ca.material.root.certDer);
    sandbox.writePem(`${kind}-issuing.pem`, ca.material.issuing.certDer);
    sandbox.write(`${kind}-chain.pem`, sandbox.read(`${kind}-root.pem`).toString() + sandbox.read(`${kind}-issuing.pem`).toString());
    sandbox.writePem(`${kind}-revoked.pem`, issued[kind]!.revoked);
    sandbox.writePem(`${kind}-good.pem`, issued[kind]!.good);
  }
});

function crlFor(kind: string, entries: CrlEntry[], crlNumber = 42n): Promise<Buffer> {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return buildCrl({
    issuerCertDer: cas[kind]!.material.issuing.certDer,
    issuerKeyPkcs8Der: cas[kind]!.material.issuing.keyPkcs8Der,
    crlNumber,
    thisUpdate: new Date(now - 60_000),
    nextUpdate: new Date(now + 24 * HOUR),
    entries,
  });
}

describe.each([
  ["rsa2048", "sha256WithRSAEncryption"],
  ["p256", "ecdsa-with-SHA256"],
])("buildCrl with a %s CA", (kind, sigAlg) => {
  it("lists serials, reasons and the CRL number for openssl crl -text", async () => {
    const t = Date.UTC(2026, 0, 15, 10, 30, 0);
    const entries: CrlEntry[] = [
      { serial: issued[kind]!.revokedSerial, revokedAt: new Date(t), reason: 1 },
      { serial: Buffer.from("0a0b0c", "hex"), revokedAt: new Date(t), reason: 0 },
      { serial: Buffer.from("ff", "hex"), revokedAt: new Date(t), reason: 4 },
      { serial: Buffer.from("1234", "hex"), revokedAt: new Date(t), reason: 5 },
      { serial: Buffer.from("5678", "hex"), revokedAt: new Date(t), reason: 6 },
      { serial: Buffer.from("9abc", "hex"), revokedAt: new Date(t), reason: 3 },
    ];
    sandbox.write(`${kind}.crl`, await crlFor(kind, entries, 4242n));
    const text = sandbox.ok(["crl", "-inform", "DER", "-in", `${kind}.crl`, "-noout", "-text"]);
    expect(text).toMatch(/Version 2 \(0x1\)/);
    expect(text).toMatch(new RegExp(`Signature Algorithm: ${sigAlg}`));
    expect(text).toMatch(new RegExp(`Issuer: CN = ${kind} Test Issuing, O = OpenCLM`));
    expect(text).toMatch(/X509v3 CRL Number: \n\s+4242\n/);
    expect(text).toMatch(/X509v3 Authority Key Identifier: \n\s+[0-9A-F:]{59}\n/);

    const blocks = text.split("Serial Number: ").slice(1);
    const bySerial = new Map(blocks.map((b) => [b.slice(0, b.indexOf("\n")), b]));
    const reasonOf = (serial: string) => /CRL Reason Code: \n\s+(.*)\n/.exec(bySerial.get(serial)!)?.[1];
    expect([...bySerial.keys()]).toEqual([issued[kind]!.revokedSerial.toString("hex").toUpperCase(), "0A0B0C", "FF", "1234", "5678", "9ABC"]);
    expect(reasonOf(issued[kind]!.revokedSerial.toString("hex").toUpperCase())).toBe("Key Compromise");
    expect(reasonOf("0A0B0C")).toBeUndefined();
    expect(reasonOf("FF")).toBe("Superseded");
    expect(reasonOf("1234")).toBe("Cessation Of Operation");
    expect(reasonOf("5678")).toBe("Certificate Hold");
    expect(reasonOf("9ABC")).toBe("Affiliation Changed");
    expect(bySerial.get("FF")).toMatch(/Revocation Date: Jan 15 10:30:00 2026 GMT/);
  });

  it("verifies against the issuing certificate and revokes exactly what it lists", async () => {
    sandbox.write(`${kind}-check.crl`, await crlFor(kind, [{ serial: issued[kind]!.revokedSerial, revokedAt: new Date(), reason: 1 }]));
    const v = sandbox.run(["crl", "-inform", "DER", "-in", `${kind}-check.crl`, "-noout", "-verify", "-CAfile", `${kind}-issuing.pem`]);
    expect(v.status).toBe(0);
    expect(v.stdout + v.stderr).toMatch(/verify OK/);

    sandbox.ok(["crl", "-inform", "DER", "-in", `${kind}-check.crl`, "-out", `${kind}-check.crl.pem`]);
    const check = (cert: string) =>
      sandbox.run(["verify", "-crl_check", "-CAfile", `${kind}-chain.pem`, "-CRLfile", `${kind}-check.crl.pem`, cert]);
    const revoked = check(`${kind}-revoked.pem`);
    expect(revoked.status).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toMatch(/certificate revoked/);
    const good = check(`${kind}-good.pem`);
    expect(good.stdout).toMatch(/: OK/);
    expect(good.status).toBe(0);
  });

  it("produces a valid empty CRL without a revokedCertificates field", async () => {
    const der = await crlFor(kind, [], 1n);
    sandbox.write(`${kind}-empty.crl`, der);
    const text = sandbox.ok(["crl", "-inform", "DER", "-in", `${kind}-empty.crl`, "-noout", "-text", "-verify", "-CAfile", `${kind}-issuing.pem`]);
    expect(text).toMatch(/No Revoked Certificates/);
    const parsed = new pkijs.CertificateRevocationList({ schema: asn1js.fromBER(der).result });
    expect(parsed.revokedCertificates).toBeUndefined();
    sandbox.ok(["crl", "-inform", "DER", "-in", `${kind}-empty.crl`, "-out", `${kind}-empty.crl.pem`]);
    expect(sandbox.run(["verify", "-crl_check", "-CAfile", `${kind}-chain.pem`, "-CRLfile", `${kind}-empty.crl.pem`, `${kind}-revoked.pem`]).status).toBe(0);
  });
});

describe("buildCrl details", () => {
  it("matches certificate serials exactly, also when the top bit is set", async () => {
    const ca = cas.p256!;
    const serial = Buffer.from("9f00000000000000000000000000beef", "hex");
    const cert = await ca.issuer.issue(userSpec("high", (await generateKeyPair("ECDSA_P256", 256)).spkiDer, { serial }));
    const der = await crlFor("p256", [{ serial, revokedAt: new Date(), reason: 4 }]);
    const crl = new pkijs.CertificateRevocationList({ schema: asn1js.fromBER(der).result });
    const certSerial = new pkijs.Certificate({ schema: asn1js.fromBER(cert).result }).serialNumber;
    expect(crl.revokedCertificates![0]!.userCertificate.isEqual(certSerial)).toBe(true);
  });

  it("writes large CRL numbers and many entries", async () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({ serial: newSerial(), revokedAt: new Date(), reason: i % 2 ? 1 : 0 }));
    sandbox.write("big.crl", await crlFor("p256", entries, 2n ** 150n));
    const text = sandbox.ok(["crl", "-inform", "DER", "-in", "big.crl", "-noout", "-text", "-verify", "-CAfile", "p256-issuing.pem"]);
    expect(text).toContain((2n ** 150n).toString(16).toUpperCase());
    expect(text.match(/Serial Number:/g)).toHaveLength(5000);
  });

  it("rejects invalid input", async () => {
    await expect(crlFor("p256", [{ serial: Buffer.of(1), revokedAt: new Date(), reason: 7 }])).rejects.toThrow(/CRLReason/);
    await expect(crlFor("p256", [{ serial: Buffer.of(1), revokedAt: new Date(), reason: 8 }])).rejects.toThrow(/CRLReason/);
    await expect(crlFor("p256", [{ serial: Buffer.of(0), revokedAt: new Date(), reason: 1 }])).rejects.toThrow(/zero/);
    await expect(crlFor("p256", [], -1n)).rejects.toThrow(/negative/);
    await expect(crlFor("p256", [], 2n ** 160n)).rejects.toThrow(/20 octets/);
    const now = new Date();
    await expect(
      buildCrl({ issuerCertDer: cas.p256!.material.issuing.certDer, issuerKeyPkcs8Der: cas.p256!.material.issuing.keyPkcs8Der, crlNumber: 1n, thisUpdate: now, nextUpdate: now, entries: [] }),
    ).rejects.toThrow(/nextUpdate/);
    await expect(
      buildCrl({ issuerCertDer: cas.p256!.material.issuing.certDer, issuerKeyPkcs8Der: cas.rsa2048!.material.issuing.keyPkcs8Der, crlNumber: 1n, thisUpdate: now, nextUpdate: new Date(now.getTime() + HOUR), entries: [] }),
    ).rejects.toThrow(/does not belong/);
  });
});
