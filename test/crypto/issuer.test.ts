import * as x509 from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { webcrypto } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaMaterial, newSerial, type CaMaterial } from "../../src/crypto/ca.js";
import { parseCsr } from "../../src/crypto/csr.js";
import { CertificateIssuer, type IssueSpec } from "../../src/crypto/issuer.js";
import { nameText } from "../../src/crypto/name.js";
import { OpensslSandbox } from "./helpers/openssl.js";

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const SMARTCARD_LOGON = "1.3.6.1.4.1.311.20.2.2";
const HOUR = 3_600_000;

interface Ca {
  name: string;
  material: CaMaterial;
  issuer: CertificateIssuer;
  sig: RegExp;
}
const cas: Ca[] = [];
const eeKeys: Record<string, Buffer> = {};

function caFiles(ca: Ca): string[] {
  sandbox.writePem(`${ca.name}-root.pem`, ca.material.root.certDer);
  sandbox.writePem(`${ca.name}-issuing.pem`, ca.material.issuing.certDer);
  return ["-CAfile", `${ca.name}-root.pem`, "-untrusted", `${ca.name}-issuing.pem`];
}

beforeAll(async () => {
  for (const [name, keyType, sig] of [
    ["rsa-ca", "rsa2048", /sha256WithRSAEncryption/],
    ["p256-ca", "p256", /ecdsa-with-SHA256/],
  ] as const) {
    const material = await createCaMaterial({
      root: { keyType, validityDays: 3650, subject: `CN=${name} Root, O=OpenCLM` },
      issuing: { keyType, validityDays: 1825, subject: `CN=${name} Issuing, O=OpenCLM` },
    });
    const issuer = new CertificateIssuer({
      issuingCertDer: material.issuing.certDer,
      issuingKeyPkcs8Der: material.issuing.keyPkcs8Der,
      chainDer: [material.issuing.certDer, material.root.certDer],
    });
    cas.push({ name, material, issuer, sig });
  }
  // End-entity keys arrive as CSRs; going through parseCsr is the real path.
  for (const [name, args] of [
    ["rsa", ["-newkey", "rsa:2048"]],
    ["p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
  ] as const) {
    sandbox.ok(["req", "-new", ...args, "-nodes", "-keyout", `${name}.key`, "-subj", "/CN=ignored", "-outform", "DER", "-out", `${name}.csr`]);
    eeKeys[name] = parseCsr(sandbox.read(`${name}.csr`).toString("base64")).spkiDer;
  }
});

function spec(overrides: Partial<IssueSpec> = {}): IssueSpec {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return {
    serial: newSerial(),
    subject: [
      { type: "DC", value: "test" },
      { type: "DC", value: "example" },
      { type: "C", value: "DE" },
      { type: "O", value: "OpenCLM Tëst" },
      { type: "OU", value: "Smart Cards" },
      { type: "CN", value: "Alice Ärger" },
      { type: "E", value: "alice@example.test" },
      { type: "UID", value: "alice" },
    ],
    spkiDer: eeKeys.rsa!,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + 365 * 24 * HOUR),
    keyUsage: ["digitalSignature", "keyEncipherment"],
    extendedKeyUsages: [CLIENT_AUTH, SMARTCARD_LOGON],
    san: { email: "alice@example.test", upn: "alice@example.test" },
    crlDistributionPoint: "http://pki.example.test/openclm.crl",
    caIssuersUrl: "http://pki.example.test/openclm-issuing.crt",
    ...overrides,
  };
}

function opensslText(name: string, der: Buffer): string {
  sandbox.writePem(name, der);
  return sandbox.ok(["x509", "-in", name, "-noout", "-text", "-nameopt", "RFC2253,-esc_msb"]);
}

function verify(ca: Ca, file: string): { status: number; out: string } {
  const r = sandbox.run(["verify", "-x509_strict", "-purpose", "sslclient", ...caFiles(ca), file]);
  return { status: r.status, out: r.stdout + r.stderr };
}

describe.each(["rsa-ca", "p256-ca"])("CertificateIssuer with the %s", (caName) => {
  const ca = () => cas.find((c) => c.name === caName)!;

  describe.each(["rsa", "p256"])("for a %s key", (keyName) => {
    let s: IssueSpec;
    let der: Buffer;
    const file = `${caName}-${keyName}.pem`;
    beforeAll(async () => {
      s = spec({ spkiDer: eeKeys[keyName]! });
      der = await ca().issuer.issue(s);
    });

    it("is accepted by openssl verify", () => {
      sandbox.writePem(file, der);
      const r = verify(ca(), file);
      expect(r.out).toMatch(/: OK/);
      expect(r.status).toBe(0);
    });

    it("shows what was asked for in openssl x509 -text", () => {
      const t = opensslText(file, der);
      expect(t).toContain("Version: 3 (0x2)");
      expect(t).toMatch(ca().sig);
      expect(t).toContain(`Issuer: O=OpenCLM,CN=${caName} Issuing`);
      expect(t).toContain("Subject: UID=alice,emailAddress=alice@example.test,CN=Alice Ärger,OU=Smart Cards,O=OpenCLM Tëst,C=DE,DC=example,DC=test");
      expect(t).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(t).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
      expect(t).toMatch(/Extended Key Usage: \s+TLS Web Client Authentication, Microsoft Smartcard Login\n/);
      expect(t).toMatch(/Subject Alternative Name: \s+email:alice@example.test, othername: UPN::alice@example.test\n/);
      expect(t).toMatch(/CRL Distribution Points: \s+Full Name:\s+URI:http:\/\/pki.example.test\/openclm.crl\n/);
      expect(t).toMatch(/Authority Information Access: \s+CA Issuers - URI:http:\/\/pki.example.test\/openclm-issuing.crt\n/);
      const fmt = (d: Date) => d.toUTCString().replace(/^\w+, 0?(\d+) (\w+) (\d+) ([\d:]+) GMT$/, (_m, day, mon, y, hms) => `${mon} ${String(day).padStart(2, " ")} ${hms} ${y} GMT`);
      expect(t).toContain(`Not Before: ${fmt(s.notBefore)}`);
      expect(t).toContain(`Not After : ${fmt(s.notAfter)}`);
      expect(t).toMatch(new RegExp(`Serial Number:\\s+${[...s.serial].map((b) => b.toString(16).padStart(2, "0")).join(":")}`));
    });

    it("matches @peculiar/x509's reading field by field", async () => {
      const cert = new x509.X509Certificate(der);
      const issuing = new x509.X509Certificate(ca().material.issuing.certDer);
      expect(cert.serialNumber).toBe(s.serial.toString("hex"));
      expect(Buffer.from(cert.publicKey.rawData)).toEqual(s.spkiDer);
      expect(Buffer.from(cert.publicKey.rawData)).toEqual(eeKeys[keyName]);
      expect(cert.issuer).toBe(issuing.subject);
      expect(cert.notBefore.getTime()).toBe(s.notBefore.getTime());
      expect(cert.notAfter.getTime()).toBe(s.notAfter.getTime());
      expect(cert.subject).toBe("DC=test, DC=example, C=DE, O=OpenCLM Tëst, OU=Smart Cards, CN=Alice Ärger, E=alice@example.test, 0.9.2342.19200300.100.1.1=alice");
      expect(await cert.verify({ publicKey: issuing.publicKey, signatureOnly: true }, webcrypto as never)).toBe(true);

      expect(cert.extensions.map((e) => [e.type, e.critical])).toEqual([
        ["2.5.29.19", true],
        ["2.5.29.15", true],
        ["2.5.29.37", false],
        ["2.5.29.17", false],
        ["2.5.29.14", false],
        ["2.5.29.35", false],
        ["2.5.29.31", false],
        ["1.3.6.1.5.5.7.1.1", false],
      ]);
      expect(cert.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
      expect(cert.getExtension(x509.KeyUsagesExtension)!.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
      expect(cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([CLIENT_AUTH, SMARTCARD_LOGON]);
      expect(cert.getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON()).toEqual([
        { type: "email", value: "alice@example.test" },
        { type: "upn", value: "alice@example.test" },
      ]);
      const expectedSki = await x509.SubjectKeyIdentifierExtension.create(cert.publicKey, false, webcrypto as never);
      expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toBe(expectedSki.keyId);
      expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(
        issuing.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId,
      );
      const cdp = cert.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints;
      expect(cdp).toHaveLength(1);
      expect(cdp[0]!.distributionPoint!.fullName!.map((n) => n.uniformResourceIdentifier)).toEqual(["http://pki.example.test/openclm.crl"]);
      const aia = cert.getExtension(x509.AuthorityInfoAccessExtension)!;
      expect(aia.caIssuers.map((n) => n.toJSON())).toEqual([{ type: "url", value: "http://pki.example.test/openclm-issuing.crt" }]);
    });

    it("re-encodes byte for byte through pkijs", () => {
      const parsed = new pkijs.Certificate({ schema: asn1js.fromBER(der).result });
      expect(Buffer.from(parsed.toSchema(true).toBER(false))).toEqual(der);
    });
  });

  it("writes the documented ASN.1 string types and times", async () => {
    const der = await ca().issuer.issue(spec());
    const dump = sandbox.ok(["asn1parse", "-inform", "DER"], der);
    expect(dump).toMatch(/:countryName\n.*PRINTABLESTRING\s+:DE/);
    expect(dump).toMatch(/:emailAddress\n.*IA5STRING\s+:alice@example.test/);
    expect(dump).toMatch(/:domainComponent\n.*IA5STRING\s+:test/);
    expect(dump).toMatch(/:commonName\n.*UTF8STRING/);
    expect(dump).toMatch(/:organizationalUnitName\n.*UTF8STRING\s+:Smart Cards/);
    expect(dump.match(/UTCTIME/g)).toHaveLength(2);
  });

  it("makes the SAN critical when the subject is empty", async () => {
    const der = await ca().issuer.issue(spec({ subject: [], san: { upn: "bob@example.test" } }));
    const file = `${caName}-empty-subject.pem`;
    const t = opensslText(file, der);
    expect(t).toMatch(/Subject: \n/);
    expect(t).toMatch(/Subject Alternative Name: critical\s+othername: UPN::bob@example.test\n/);
    expect(verify(ca(), file).status).toBe(0);
    const cert = new x509.X509Certificate(der);
    expect(cert.subject).toBe("");
  });

  it("omits optional extensions that were not asked for", async () => {
    const der = await ca().issuer.issue(
      spec({ subject: [{ type: "CN", value: "minimal" }], keyUsage: [], extendedKeyUsages: [], san: undefined, crlDistributionPoint: undefined, caIssuersUrl: undefined }),
    );
    const cert = new x509.X509Certificate(der);
    expect(cert.extensions.map((e) => e.type)).toEqual(["2.5.29.19", "2.5.29.14", "2.5.29.35"]);
    const file = `${caName}-minimal.pem`;
    sandbox.writePem(file, der);
    expect(sandbox.run(["verify", "-x509_strict", ...caFiles(ca()), file]).status).toBe(0);
  });

  it("issues many certificates concurrently, all distinct and valid", async () => {
    const specs = Array.from({ length: 40 }, (_, i) => spec({ subject: [{ type: "CN", value: `user ${i}` }], spkiDer: eeKeys[i % 2 ? "rsa" : "p256"]! }));
    const ders = await Promise.all(specs.map((x) => ca().issuer.issue(x)));
    const files = ders.map((d, i) => sandbox.writePem(`${caName}-many-${i}.pem`, d));
    const r = sandbox.run(["verify", "-x509_strict", ...caFiles(ca()), ...files]);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/: OK/g)).toHaveLength(40);
    expect(new Set(ders.map((d) => new x509.X509Certificate(d).serialNumber)).size).toBe(40);
  });
});

describe("CertificateIssuer details", () => {
  const ca = () => cas[1]!;

  it("normalises serials to minimal positive INTEGERs", async () => {
    const high = Buffer.from("80112233445566778899aabbccddeeff", "hex");
    const highDer = await ca().issuer.issue(spec({ serial: high }));
    expect(highDer.includes(Buffer.concat([Buffer.of(0x02, 17, 0x00), high]))).toBe(true);
    expect(new x509.X509Certificate(highDer).serialNumber).toBe(high.toString("hex"));
    const padded = Buffer.from("0000017f", "hex");
    const der = await ca().issuer.issue(spec({ serial: padded }));
    expect(sandbox.ok(["x509", "-inform", "DER", "-noout", "-serial"], der).trim()).toBe("serial=017F");
  });

  it("refuses zero and over-long serials", async () => {
    await expect(ca().issuer.issue(spec({ serial: Buffer.alloc(8) }))).rejects.toThrow(/zero/);
    await expect(ca().issuer.issue(spec({ serial: Buffer.alloc(21, 0x11) }))).rejects.toThrow(/20 octets/);
  });

  it("uses GeneralizedTime from 2050 and clamps notAfter to the CA's", async () => {
    const material = await createCaMaterial({
      root: { keyType: "p256", validityDays: 50 * 365, subject: "CN=Long Root" },
      issuing: { keyType: "p256", validityDays: 40 * 365, subject: "CN=Long Issuing" },
    });
    const issuer = new CertificateIssuer({
      issuingCertDer: material.issuing.certDer,
      issuingKeyPkcs8Der: material.issuing.keyPkcs8Der,
      chainDer: [material.issuing.certDer, material.root.certDer],
    });
    const notAfter = new Date(Date.UTC(2051, 0, 2, 3, 4, 5, 678));
    const der = await issuer.issue(spec({ notAfter }));
    const dump = sandbox.ok(["asn1parse", "-inform", "DER"], der);
    expect(dump).toMatch(/UTCTIME\s+:\d{12}Z/);
    expect(dump).toMatch(/GENERALIZEDTIME\s+:20510102030405Z/);

    const issuingNotAfter = new x509.X509Certificate(material.issuing.certDer).notAfter;
    const clamped = new x509.X509Certificate(await issuer.issue(spec({ notAfter: new Date(Date.UTC(2200, 0, 1)) })));
    expect(clamped.notAfter.getTime()).toBe(issuingNotAfter.getTime());
  });

  it("describes what it issued exactly as X509Certificate reads it back (subject text, issuer, validity)", async () => {
    const { X509Certificate } = await import("node:crypto");
    const tricky = [
      'a,b+c"d\\e<f>g;h=i',
      " leading and trailing ",
      "#hash # inside#",
      "tab\tand\u0001ctl\u001fdel\u007f",
      "Zürich 日本 🔑",
      "x",
      "  ",
    ];
    const issuer = ca().issuer;
    for (const value of tricky) {
      const subject: IssueSpec["subject"] = [
        { type: "CN", value },
        { type: "O", value: "OpenCLM" },
        { type: "OU", value },
        { type: "E", value: "a.b+c@example.test" },
        { type: "DC", value: "example" },
        { type: "C", value: "de" },
        { type: "L", value },
        { type: "ST", value: "Bayern" },
        { type: "UID", value },
      ];
      const s = spec({ subject, notBefore: new Date(Date.now() - 1234), notAfter: new Date(Date.now() + 86_400_000 + 567) });
      const x = new X509Certificate(await issuer.issue(s));
      expect(nameText(subject), JSON.stringify(value)).toBe(x.subject.replace(/\n/g, ", "));
      const validity = issuer.validity(s);
      expect(validity.notBefore.getTime()).toBe(new Date(x.validFrom).getTime());
      expect(validity.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
    }
    // An empty subject (the SAN carries the identity): X509Certificate has no subject text at all.
    expect(new X509Certificate(await issuer.issue(spec({ subject: [], san: { upn: "u@example.test" } }))).subject).toBeUndefined();
    expect(nameText([])).toBe("");
  });

  it("rejects bad specifications with clear errors", async () => {
    const bad: Array<[Partial<IssueSpec>, RegExp]> = [
      [{ subject: [], san: undefined }, /empty subject needs a subject alternative name/],
      [{ subject: [{ type: "C", value: "Germany" }] }, /two-letter/],
      [{ subject: [{ type: "E", value: "ä@example.test" }] }, /printable ASCII/],
      [{ subject: [{ type: "CN", value: "" }] }, /non-empty/],
      [{ subject: [{ type: "XX" as never, value: "x" }] }, /unsupported subject attribute/],
      [{ san: { email: "not an address" } }, /e-mail/],
      [{ extendedKeyUsages: ["clientAuth"] }, /object identifier/],
      [{ keyUsage: ["signEverything" as never] }, /unknown key usage/],
      [{ crlDistributionPoint: "no scheme" }, /URI/],
      [{ notAfter: new Date(Date.now() - 2 * HOUR) }, /validity is empty/],
      [{ spkiDer: Buffer.from("3000", "hex") }, /SubjectPublicKeyInfo/],
      [{ spkiDer: Buffer.from("not der") }, /SubjectPublicKeyInfo/],
    ];
    for (const [overrides, message] of bad) {
      await expect(ca().issuer.issue(spec(overrides))).rejects.toThrow(message);
    }
  });

  it("refuses a key that does not belong to the issuing certificate", () => {
    const [rsa, p256] = cas;
    expect(
      () => new CertificateIssuer({ issuingCertDer: rsa!.material.issuing.certDer, issuingKeyPkcs8Der: p256!.material.issuing.keyPkcs8Der, chainDer: [] }),
    ).toThrow(/does not belong/);
    expect(
      () => new CertificateIssuer({ issuingCertDer: rsa!.material.issuing.certDer, issuingKeyPkcs8Der: rsa!.material.root.keyPkcs8Der, chainDer: [] }),
    ).toThrow(/does not belong/);
  });

  it("hands out the chain, issuing CA first, without exposing its buffers", () => {
    const chain = ca().issuer.chainDer;
    expect(chain).toEqual([ca().material.issuing.certDer, ca().material.root.certDer]);
    chain[0]!.fill(0);
    expect(ca().issuer.chainDer[0]).toEqual(ca().material.issuing.certDer);
  });
});
