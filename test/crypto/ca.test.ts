import { X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaMaterial, newSerial, type CaKeyOptions, type CaMaterial } from "../../src/crypto/ca.js";
import { OpensslSandbox, pemToDer } from "./helpers/openssl.js";

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

const ROOT_SUBJECT = "CN=OpenCLM Root CA, O=OpenCLM";
const ISSUING_SUBJECT = "CN=OpenCLM Issuing CA,O=OpenCLM";
const opts = (keyType: CaKeyOptions["keyType"], validityDays: number, subject: string): CaKeyOptions => ({ keyType, validityDays, subject });

const kinds = {
  rsa: { root: opts("rsa2048", 3650, ROOT_SUBJECT), issuing: opts("rsa2048", 1825, ISSUING_SUBJECT), sig: "sha256WithRSAEncryption" },
  p256: { root: opts("p256", 3650, ROOT_SUBJECT), issuing: opts("p256", 1825, ISSUING_SUBJECT), sig: "ecdsa-with-SHA256" },
  p384: { root: opts("p384", 3650, ROOT_SUBJECT), issuing: opts("p384", 1825, ISSUING_SUBJECT), sig: "ecdsa-with-SHA384" },
  mixed: { root: opts("p384", 3650, ROOT_SUBJECT), issuing: opts("rsa2048", 1825, ISSUING_SUBJECT), sig: "ecdsa-with-SHA384" },
} as const;

const material: Partial<Record<keyof typeof kinds, CaMaterial>> = {};
beforeAll(async () => {
  for (const [name, k] of Object.entries(kinds)) {
    material[name as keyof typeof kinds] = await createCaMaterial({ root: k.root, issuing: k.issuing });
  }
});

function text(name: string, der: Buffer): string {
  sandbox.writePem(`${name}.pem`, der);
  return sandbox.ok(["x509", "-in", `${name}.pem`, "-noout", "-text"]);
}

describe.each(Object.keys(kinds) as Array<keyof typeof kinds>)("createCaMaterial (%s)", (kind) => {
  it("produces a chain openssl verifies", () => {
    const m = material[kind]!;
    sandbox.writePem(`${kind}-root.pem`, m.root.certDer);
    sandbox.writePem(`${kind}-issuing.pem`, m.issuing.certDer);
    expect(sandbox.ok(["verify", "-x509_strict", "-CAfile", `${kind}-root.pem`, `${kind}-issuing.pem`])).toMatch(/OK/);
    expect(sandbox.ok(["verify", "-x509_strict", "-CAfile", `${kind}-root.pem`, `${kind}-root.pem`])).toMatch(/OK/);
  });

  it("gives the root the CA extensions", () => {
    const t = text(`${kind}-root`, material[kind]!.root.certDer);
    expect(t).toMatch(/Subject: CN = OpenCLM Root CA, O = OpenCLM/);
    expect(t).toMatch(/Issuer: CN = OpenCLM Root CA, O = OpenCLM/);
    expect(t).toMatch(/Basic Constraints: critical\s+CA:TRUE\n/);
    expect(t).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(t).toMatch(/Subject Key Identifier:/);
    expect(t).toMatch(new RegExp(`Signature Algorithm: ${kinds[kind].sig}`));
  });

  it("gives the issuing CA pathlen 0, digitalSignature and an AKI naming the root", () => {
    const m = material[kind]!;
    const t = text(`${kind}-issuing`, m.issuing.certDer);
    expect(t).toMatch(/Subject: CN = OpenCLM Issuing CA, O = OpenCLM/);
    expect(t).toMatch(/Issuer: CN = OpenCLM Root CA, O = OpenCLM/);
    expect(t).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(t).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    expect(t).toMatch(new RegExp(`Signature Algorithm: ${kinds[kind].sig}`));
    const rootSki = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(text(`${kind}-root`, m.root.certDer))![1];
    expect(t).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${rootSki}`));
  });

  it("returns PKCS#8 keys that belong to the certificates", () => {
    const m = material[kind]!;
    for (const [role, pair] of [["root", m.root], ["issuing", m.issuing]] as const) {
      sandbox.write(`${kind}-${role}.key.der`, pair.keyPkcs8Der);
      const fromKey = sandbox.ok(["pkey", "-inform", "DER", "-in", `${kind}-${role}.key.der`, "-pubout"]);
      const fromCert = sandbox.ok(["x509", "-in", `${kind}-${role}.pem`, "-noout", "-pubkey"]);
      expect(pemToDer(fromKey, "PUBLIC KEY")).toEqual(pemToDer(fromCert, "PUBLIC KEY"));
    }
  });

  it("uses large positive serials and keeps the issuing CA inside the root's validity", () => {
    const m = material[kind]!;
    const root = new X509Certificate(m.root.certDer);
    const issuing = new X509Certificate(m.issuing.certDer);
    for (const c of [root, issuing]) expect(c.serialNumber.length).toBeGreaterThanOrEqual(16);
    expect(root.serialNumber).not.toBe(issuing.serialNumber);
    expect(Date.parse(issuing.validTo)).toBeLessThanOrEqual(Date.parse(root.validTo));
    expect(Date.parse(root.validFrom)).toBeLessThanOrEqual(Date.now());
  });
});

describe("createCaMaterial validity", () => {
  it("caps a subordinate that would outlive its root", async () => {
    const m = await createCaMaterial({ root: opts("p256", 10, "CN=Short Root"), issuing: opts("p256", 1000, "CN=Long Issuing") });
    const root = new X509Certificate(m.root.certDer);
    const issuing = new X509Certificate(m.issuing.certDer);
    expect(issuing.validTo).toBe(root.validTo);
  });

  it("rejects nonsense options", async () => {
    await expect(createCaMaterial({ root: opts("p256", 0, "CN=x"), issuing: opts("p256", 1, "CN=y") })).rejects.toThrow(/validityDays/);
    await expect(createCaMaterial({ root: opts("p256", 1, " "), issuing: opts("p256", 1, "CN=y") })).rejects.toThrow(/subject/);
  });
});

describe("newSerial", () => {
  it("is 16 bytes, positive, minimally encoded and unique", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const s = newSerial();
      expect(s).toHaveLength(16);
      expect(s[0]! & 0x80).toBe(0);
      expect(s[0]).not.toBe(0);
      const der = Buffer.from(new asn1js.Integer({ valueHex: s }).toBER());
      expect(der).toEqual(Buffer.concat([Buffer.of(0x02, 16), s]));
      seen.add(s.toString("hex"));
    }
    expect(seen.size).toBe(2000);
  });

  it("starts with the time in milliseconds, so later serials sort after earlier ones, then 80 random bits", () => {
    const t = Date.UTC(2026, 11, 6, 23, 0, 0);
    const [a, b, c] = [newSerial(t), newSerial(t), newSerial(t + 1)];
    expect(a.readUIntBE(0, 6)).toBe(t);
    expect(a[0]).toBe(0x01);
    expect(Buffer.compare(a, c)).toBe(-1);
    expect(Buffer.compare(b, c)).toBe(-1);
    // The same millisecond: only the random part tells them apart, and it does.
    expect(a.subarray(6).equals(b.subarray(6))).toBe(false);
    // Positive and minimal in every year to come, and for a clock stuck in 1970.
    expect(newSerial(Date.UTC(2100, 0, 1))[0]).toBe(0x03);
    expect(newSerial(0)[0]).toBe(0x01);
  });
});
