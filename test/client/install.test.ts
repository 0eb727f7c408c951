import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCsr, csrToPem } from "../../src/client/csr.js";
import { certificatesFromCms, CertificateMismatchError, classifyCertificates, installCertificateAnswer } from "../../src/client/install.js";
import { newCard } from "./support/card.js";
import { pem } from "./support/openssl.js";
import { tempDir } from "./support/tmp.js";

const CMC_VECTOR = readFileSync(resolve(import.meta.dirname, "../fixtures/adcs-cmc-response.b64"), "utf8");

function subjectCn(der: Buffer): string {
  return /CN=([^\n]+)/.exec(new X509Certificate(der).subject)?.[1] ?? "";
}

describe("certificates from a CMC full PKI response (Microsoft CA answer)", () => {
  it("extracts every certificate of the SignedData whose content is a PKIResponse", () => {
    const certs = certificatesFromCms(CMC_VECTOR);
    expect(certs).toHaveLength(3);
    expect(certs.map(subjectCn).sort()).toEqual(["Jimaco Brannian (Aquent LLC)", "MSIT User CA 2", "Microsoft Corporate Root CA"]);
  });

  it("classifies the user's certificate as end-entity and the two others as CA certificates", () => {
    const { endEntity, ca } = classifyCertificates(certificatesFromCms(CMC_VECTOR));
    expect(endEntity.map(subjectCn)).toEqual(["Jimaco Brannian (Aquent LLC)"]);
    expect(ca.map(subjectCn).sort()).toEqual(["MSIT User CA 2", "Microsoft Corporate Root CA"]);
  });

  it("accepts DER and PEM armour as well as base64", () => {
    const der = Buffer.from(CMC_VECTOR.replace(/\s+/g, ""), "base64");
    expect(certificatesFromCms(der)).toHaveLength(3);
    expect(certificatesFromCms(pem("CMS", der))).toHaveLength(3);
  });

  it("refuses an answer that matches no key on the card (nothing installed)", () => {
    const { card } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    expect(() => installCertificateAnswer(card, CMC_VECTOR, { installCaCertificates: true })).toThrow(CertificateMismatchError);
    expect(card.caCertificates()).toHaveLength(0);
  });

  it("refuses garbage clearly", () => {
    expect(() => certificatesFromCms(Buffer.from("not der at all"))).toThrow();
  });
});

/** A CA made with openssl, a certificate for the card's key, and `openssl crl2pkcs7 -nocrl`. */
async function issueForCardKey(dir: string) {
  const { store, card, path } = newCard({ pin: "123456" });
  card.verifyPin("123456");
  const other = await card.generateKey({ algorithm: "ECDSA_P256" });
  const key = await card.generateKey({ algorithm: "RSA", keySize: 2048 });
  const csr = await buildCsr({ subject: "CN=ignored", subjectPublicKeyInfo: key.publicKey, algorithm: "RSA", hash: "SHA256", sign: (t) => card.sign(key.id, "SHA256", t) });
  const f = (n: string) => join(dir, n);
  writeFileSync(f("req.pem"), csrToPem(csr));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"), "-subj", "/CN=Test Issuing CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE"], { stdio: "ignore" });
  writeFileSync(f("leaf.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  execFileSync("openssl", ["x509", "-req", "-in", f("req.pem"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "1", "-out", f("leaf.pem"), "-subj", "/CN=Alice Example", "-extfile", f("leaf.ext")], { stdio: "ignore" });
  // CA first on purpose: the end-entity certificate must be found by key, not by position.
  execFileSync("openssl", ["crl2pkcs7", "-nocrl", "-certfile", f("ca.pem"), "-certfile", f("leaf.pem"), "-outform", "DER", "-out", f("answer.p7b")], { stdio: "ignore" });
  return { store, card, path, key, other, answer: readFileSync(f("answer.p7b")), leaf: new X509Certificate(readFileSync(f("leaf.pem"))) };
}

describe("installing a certs-only PKCS#7", () => {
  it("puts the end-entity certificate into the container whose public key it carries, CA beside it", async () => {
    const dir = tempDir();
    const { store, path, card, key, other, answer, leaf } = await issueForCardKey(dir);
    const installed = installCertificateAnswer(card, answer.toString("base64"), { installCaCertificates: true });
    expect(installed).toHaveLength(1);
    expect(installed[0]!.containerId).toBe(key.id);
    const reopened = store.open(path).card;
    const containers = reopened.containers();
    expect(containers.find((c) => c.id === key.id)!.certificate!.equals(leaf.raw)).toBe(true);
    expect(containers.find((c) => c.id === other.id)!.certificate).toBeNull();
    expect(reopened.caCertificates().map(subjectCn)).toEqual(["Test Issuing CA"]);
  });

  it("keeps CA certificates off the card when the SmartcardConfig says DoNotInstallCaCertificates", async () => {
    const { card, answer } = await issueForCardKey(tempDir());
    installCertificateAnswer(card, answer, { installCaCertificates: false });
    expect(card.caCertificates()).toHaveLength(0);
  });

  it("needs the PIN to write the certificate", async () => {
    const { card, answer } = await issueForCardKey(tempDir());
    card.logout();
    expect(() => installCertificateAnswer(card, answer, { installCaCertificates: true })).toThrow(/needs the user PIN/);
  });
});
