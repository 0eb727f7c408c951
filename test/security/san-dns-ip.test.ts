// The issuer's DNS and IP subject alternative names (used for the server's own TLS certificate).
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createCaMaterial, newSerial, type CaMaterial } from "../../src/crypto/ca.js";
import { CertificateIssuer, type IssueSpec } from "../../src/crypto/issuer.js";

let ca: CaMaterial;
let issuer: CertificateIssuer;
const spki = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "der" });

beforeAll(async () => {
  ca = await createCaMaterial({
    root: { keyType: "p256", validityDays: 30, subject: "CN=SAN Root" },
    issuing: { keyType: "p256", validityDays: 20, subject: "CN=SAN Issuing" },
  });
  issuer = new CertificateIssuer({ issuingCertDer: ca.issuing.certDer, issuingKeyPkcs8Der: ca.issuing.keyPkcs8Der, chainDer: [ca.issuing.certDer, ca.root.certDer] });
});

function spec(san: IssueSpec["san"], subject: IssueSpec["subject"] = [{ type: "CN", value: "server" }]): IssueSpec {
  return {
    serial: newSerial(),
    subject,
    spkiDer: spki,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keyUsage: ["digitalSignature"],
    extendedKeyUsages: ["1.3.6.1.5.5.7.3.1"],
    san,
  };
}

describe("subject alternative names: DNS and IP", () => {
  it("encodes dNSName and iPAddress entries (IPv4, IPv6, IPv4-mapped) that Node and its TLS checks read back", async () => {
    const der = await issuer.issue(spec({ dns: ["cm.example.test", "localhost", "*.cards.example.test"], ip: ["127.0.0.1", "::1", "2001:db8::8:800:200c:417a", "::ffff:192.0.2.1"] }));
    const cert = new X509Certificate(der);
    expect(cert.subjectAltName).toBe(
      "DNS:cm.example.test, DNS:localhost, DNS:*.cards.example.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:8:800:200C:417A, IP Address:0:0:0:0:0:FFFF:C000:201",
    );
    expect(cert.checkHost("cm.example.test")).toBe("cm.example.test");
    expect(cert.checkHost("x.cards.example.test")).toBe("*.cards.example.test");
    expect(cert.checkHost("other.example.test")).toBeUndefined();
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkIP("::1")).toBe("::1");
    expect(cert.checkIP("10.0.0.1")).toBeUndefined();
    expect(cert.checkIssued(new X509Certificate(ca.issuing.certDer))).toBe(true);
  });

  it("mixes with e-mail and UPN, and carries the identity alone (critical) under an empty subject", async () => {
    const mixed = new X509Certificate(await issuer.issue(spec({ email: "a@example.test", dns: ["a.example.test"] })));
    expect(mixed.subjectAltName).toBe("DNS:a.example.test, email:a@example.test");
    const bare = await issuer.issue(spec({ ip: ["192.0.2.7"] }, []));
    expect(new X509Certificate(bare).subjectAltName).toBe("IP Address:192.0.2.7");
    // SAN extension OID 2.5.29.17 followed by the critical flag (BOOLEAN TRUE).
    expect(bare.includes(Buffer.from("0603551d110101ff", "hex"))).toBe(true);
  });

  it("refuses names it cannot encode faithfully", async () => {
    for (const dns of ["bad name", "ünïcode.example", "-x.example", "a..b", "*.com"]) await expect(issuer.issue(spec({ dns: [dns] }))).rejects.toThrow(/DNS name/);
    for (const ip of ["256.1.1.1", "1.2.3", "fe80::1%eth0", "example.test"]) await expect(issuer.issue(spec({ ip: [ip] }))).rejects.toThrow(/IP address/);
  });
});
