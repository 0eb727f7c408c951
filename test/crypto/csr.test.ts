import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CsrError, parseCsr, type ParsedCsr } from "../../src/crypto/csr.js";
import { OpensslSandbox, pemToDer } from "./helpers/openssl.js";

const WINDOWS_CSR = readFileSync(new URL("../fixtures/mimcm-doc-csr-sha1-rsa2048.b64", import.meta.url), "utf8");

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

interface Made {
  der: Buffer;
  /** The public key as openssl extracts it from the request. */
  spkiDer: Buffer;
}

/** `openssl req -new` with the given key options; returns the DER request and its SPKI. */
function opensslCsr(name: string, keyArgs: string[], extra: string[] = []): Made {
  sandbox.ok(["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-subj", "/CN=csr test/O=OpenCLM", ...extra, "-outform", "DER", "-out", `${name}.der`]);
  const pub = sandbox.ok(["req", "-inform", "DER", "-in", `${name}.der`, "-noout", "-pubkey"]);
  return { der: sandbox.read(`${name}.der`), spkiDer: pemToDer(pub, "PUBLIC KEY")[0]! };
}

function expectCsrError(input: string, message: RegExp): CsrError {
  let caught: unknown;
  try {
    parseCsr(input);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CsrError);
  expect((caught as CsrError).message).toMatch(message);
  return caught as CsrError;
}

const made: Record<string, Made> = {};
beforeAll(() => {
  made.rsa2048 = opensslCsr("rsa2048", ["-newkey", "rsa:2048"]);
  made.rsa512 = opensslCsr("rsa512", ["-newkey", "rsa:512"]);
  made.rsaSha1 = opensslCsr("rsasha1", ["-newkey", "rsa:2048"], ["-sha1"]);
  made.rsaSha384 = opensslCsr("rsasha384", ["-newkey", "rsa:2048"], ["-sha384"]);
  made.rsaSha512 = opensslCsr("rsasha512", ["-newkey", "rsa:2048"], ["-sha512"]);
  made.rsaPss = opensslCsr("rsapss", ["-newkey", "rsa:2048"], ["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]);
  made.p256 = opensslCsr("p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  made.p384 = opensslCsr("p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], ["-sha384"]);
  made.k256 = opensslCsr("k256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"]);
  made.ed25519 = opensslCsr("ed25519", ["-newkey", "ed25519"]);
  sandbox.ok(["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", "dsa.params"]);
  made.dsa = opensslCsr("dsa", ["-newkey", "dsa:dsa.params"]);
});

describe("parseCsr on the Windows (MIM CM documentation) request", () => {
  it("reports RSA 2048, SHA-1, a verified signature and the key openssl sees", () => {
    const csr = parseCsr(WINDOWS_CSR);
    const der = Buffer.from(WINDOWS_CSR.replace(/\s+/g, ""), "base64");
    expect(csr).toMatchObject({ keyAlgorithm: "RSA", keySize: 2048, signatureHash: "SHA1" });
    expect(csr.der).toEqual(der);
    expect(csr.fingerprint).toBe(createHash("sha256").update(der).digest("hex"));

    sandbox.write("windows.der", der);
    const check = sandbox.run(["req", "-inform", "DER", "-in", "windows.der", "-noout", "-verify"]);
    expect(check.status).toBe(0);
    expect(check.stdout + check.stderr).toMatch(/verify OK/);
    const pub = sandbox.ok(["req", "-inform", "DER", "-in", "windows.der", "-noout", "-pubkey"]);
    expect(csr.spkiDer).toEqual(pemToDer(pub, "PUBLIC KEY")[0]);
  });

  it("accepts PEM armour (both labels), CRLF and spaces", () => {
    const body = WINDOWS_CSR.trim().split(/\r?\n/);
    const reference = parseCsr(WINDOWS_CSR);
    const variants = [
      `-----BEGIN CERTIFICATE REQUEST-----\r\n${body.join("\r\n")}\r\n-----END CERTIFICATE REQUEST-----\r\n`,
      `-----BEGIN NEW CERTIFICATE REQUEST-----\n${body.join("\n")}\n-----END NEW CERTIFICATE REQUEST-----`,
      body.join(" \r\n "),
      body.join(""),
    ];
    for (const v of variants) expect(parseCsr(v)).toEqual(reference);
  });

  it("rejects it once a bit of the signature is flipped", () => {
    const der = Buffer.from(WINDOWS_CSR.replace(/\s+/g, ""), "base64");
    der[der.length - 10] = der[der.length - 10]! ^ 0x04;
    expectCsrError(der.toString("base64"), /signature does not verify/);
  });
});

describe("parseCsr on requests made by openssl req", () => {
  const cases: Array<[string, Partial<ParsedCsr>]> = [
    ["rsa2048", { keyAlgorithm: "RSA", keySize: 2048, signatureHash: "SHA256" }],
    ["rsa512", { keyAlgorithm: "RSA", keySize: 512, signatureHash: "SHA256" }],
    ["rsaSha1", { keyAlgorithm: "RSA", keySize: 2048, signatureHash: "SHA1" }],
    ["rsaSha384", { keyAlgorithm: "RSA", keySize: 2048, signatureHash: "SHA384" }],
    ["rsaSha512", { keyAlgorithm: "RSA", keySize: 2048, signatureHash: "SHA512" }],
    ["rsaPss", { keyAlgorithm: "RSA", keySize: 2048, signatureHash: "SHA256" }],
    ["p256", { keyAlgorithm: "ECDSA_P256", keySize: 256, signatureHash: "SHA256" }],
    ["p384", { keyAlgorithm: "ECDSA_P384", keySize: 384, signatureHash: "SHA384" }],
    ["k256", { keyAlgorithm: "ECDSA_OTHER", keySize: 256, signatureHash: "SHA256" }],
    ["ed25519", { keyAlgorithm: "OTHER", keySize: 256, signatureHash: "OTHER" }],
  ];

  it.each(cases)("%s", (name, expected) => {
    const { der, spkiDer } = made[name]!;
    const csr = parseCsr(der.toString("base64"));
    expect(csr).toMatchObject(expected);
    expect(csr.spkiDer).toEqual(spkiDer);
    expect(csr.der).toEqual(der);
  });

  it.each(cases.map(([n]) => n))("%s with a flipped signature bit is refused", (name) => {
    const der = Buffer.from(made[name]!.der);
    der[der.length - 3] = der[der.length - 3]! ^ 0x10;
    expectCsrError(der.toString("base64"), /signature does not verify|malformed/);
  });

  it("refuses a request whose signed part was altered", () => {
    const der = Buffer.from(made.p256!.der);
    const at = der.indexOf(Buffer.from("csr test"));
    der[at] = "C".charCodeAt(0);
    expectCsrError(der.toString("base64"), /signature does not verify/);
  });

  it("refuses an unsupported key algorithm (DSA)", () => {
    expectCsrError(made.dsa!.der.toString("base64"), /not supported/);
  });
});

describe("parseCsr on garbage", () => {
  it.each([
    ["empty", "", /empty/],
    ["whitespace", " \r\n ", /empty/],
    ["not base64", "this is not base64!", /not valid base64/],
    ["bad padding", "QUJD=A==", /not valid base64/],
    ["a lone base64 character too many", "QUJDR", /not valid base64/],
    ["foreign PEM", "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----", /PEM armour/],
    ["base64 of text", Buffer.from("hello world").toString("base64"), /not valid DER|not a PKCS#10/],
    ["an empty SEQUENCE", Buffer.from("3000", "hex").toString("base64"), /not a PKCS#10/],
    ["an oversized input", "A".repeat(300 * 1024), /too large/],
  ])("%s", (_label, input, message) => {
    expectCsrError(input, message);
  });

  it("refuses truncated DER at every length", () => {
    const der = made.p256!.der;
    for (let n = 1; n < der.length; n += 7) {
      expectCsrError(der.subarray(0, n).toString("base64"), /truncated|not a PKCS#10|not valid DER/);
    }
  });

  it("refuses trailing bytes after the request", () => {
    const der = Buffer.concat([made.p256!.der, Buffer.of(0)]);
    expectCsrError(der.toString("base64"), /after the DER structure/);
  });

  it("refuses a certificate where a request is expected", () => {
    sandbox.ok(["req", "-x509", "-key", "p256.key", "-subj", "/CN=x", "-days", "1", "-outform", "DER", "-out", "cert.der"]);
    expectCsrError(sandbox.read("cert.der").toString("base64"), /not a PKCS#10/);
  });

  it("never quotes the input in its messages", () => {
    const secretish = "SECRETSECRETSECRET";
    const err = expectCsrError(`${secretish}!!`, /base64/);
    expect(err.message).not.toContain(secretish);
    expect(err.name).toBe("CsrError");
  });
});
