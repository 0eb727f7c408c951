import { createPrivateKey, createPublicKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPfx, generateKeyPair } from "../../src/crypto/pkcs12.js";
import { OpensslSandbox, pemToDer } from "./helpers/openssl.js";
import { makeCa, userSpec, type TestCa } from "./helpers/pki.js";

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

let ca: TestCa;
beforeAll(async () => {
  ca = await makeCa("rsa2048");
});

describe("generateKeyPair", () => {
  it.each([
    ["RSA", 2048, /Private-Key: \(2048 bit, 2 primes\)/],
    ["ECDSA_P256", 256, /NIST CURVE: P-256/],
    ["ECDSA_P384", 384, /NIST CURVE: P-384/],
  ] as const)("%s %i gives a PKCS#8 key and its SPKI, as openssl reads them", async (alg, size, shape) => {
    const { spkiDer, pkcs8Der } = await generateKeyPair(alg, size);
    const name = `${alg}.p8`;
    sandbox.write(name, pkcs8Der);
    expect(sandbox.ok(["pkey", "-inform", "DER", "-in", name, "-noout", "-text"])).toMatch(shape);
    expect(pemToDer(sandbox.ok(["pkey", "-inform", "DER", "-in", name, "-pubout"]), "PUBLIC KEY")[0]).toEqual(spkiDer);
  });

  it("refuses sizes that do not fit the algorithm", async () => {
    await expect(generateKeyPair("RSA", 1024)).rejects.toThrow(/2048/);
    await expect(generateKeyPair("RSA", 2049)).rejects.toThrow(/multiple of 8/);
    await expect(generateKeyPair("ECDSA_P256", 384)).rejects.toThrow(/256 bits/);
    await expect(generateKeyPair("ECDSA_P384", 256)).rejects.toThrow(/384 bits/);
    await expect(generateKeyPair("DSA" as never, 2048)).rejects.toThrow(/unsupported/);
  });
});

describe.each([
  ["RSA", 2048],
  ["ECDSA_P256", 256],
] as const)("buildPfx with an %s key", (alg, size) => {
  let pfx: Buffer;
  let cert: Buffer;
  let file: string;
  beforeAll(async () => {
    const keys = await generateKeyPair(alg, size);
    cert = await ca.issuer.issue(userSpec("alice", keys.spkiDer));
    pfx = await buildPfx({ keyPkcs8Der: keys.pkcs8Der, certDer: cert, chainDer: ca.issuer.chainDer, password: "secret", friendlyName: "Alice (OpenCLM)" });
    file = sandbox.write(`${alg}.pfx`, pfx);
  });

  it("opens with openssl 3 defaults (no -legacy) and uses its default algorithms", () => {
    const r = sandbox.run(["pkcs12", "-in", file, "-passin", "pass:secret", "-nodes", "-info"]);
    expect(r.status).toBe(0);
    const info = r.stderr;
    expect(info).toMatch(/MAC: sha256, Iteration 2048/);
    expect(info).toMatch(/PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
    expect(info).toMatch(/Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
    expect(info.match(/Certificate bag/g)).toHaveLength(3);
    expect(r.stdout).toMatch(/-----BEGIN PRIVATE KEY-----/);
  });

  it("holds the certificate then the chain, and a key that matches the certificate", () => {
    const certsOut = sandbox.ok(["pkcs12", "-in", file, "-passin", "pass:secret", "-nokeys"]);
    expect(pemToDer(certsOut, "CERTIFICATE")).toEqual([cert, ...ca.issuer.chainDer]);

    sandbox.ok(["pkcs12", "-in", file, "-passin", "pass:secret", "-nodes", "-nocerts", "-out", `${alg}-key.pem`]);
    sandbox.ok(["pkcs12", "-in", file, "-passin", "pass:secret", "-clcerts", "-nokeys", "-out", `${alg}-cert.pem`]);
    const fromKey = sandbox.ok(["pkey", "-in", `${alg}-key.pem`, "-pubout"]);
    const fromCert = sandbox.ok(["x509", "-in", `${alg}-cert.pem`, "-noout", "-pubkey"]);
    expect(fromKey).toBe(fromCert);
    expect(pemToDer(sandbox.read(`${alg}-cert.pem`).toString(), "CERTIFICATE")).toEqual([cert]);
  });

  it("ties key and certificate with localKeyID and names them", () => {
    const out = sandbox.ok(["pkcs12", "-in", file, "-passin", "pass:secret", "-nodes"]);
    const ids = [...out.matchAll(/localKeyID: ([0-9A-F ]+)/g)].map((m) => m[1]!.trim());
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    expect(out.match(/friendlyName: Alice \(OpenCLM\)/g)).toHaveLength(2);
  });

  it("refuses the wrong password", () => {
    const r = sandbox.run(["pkcs12", "-in", file, "-passin", "pass:Secret", "-nodes", "-info"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/mac verify failure|invalid password/i);
  });
});

describe("buildPfx details", () => {
  it("handles non-ASCII passwords the way openssl does", async () => {
    const keys = await generateKeyPair("ECDSA_P256", 256);
    const cert = await ca.issuer.issue(userSpec("bob", keys.spkiDer));
    const pfx = await buildPfx({ keyPkcs8Der: keys.pkcs8Der, certDer: cert, chainDer: [], password: "pässwörd €" });
    const file = sandbox.write("unicode.pfx", pfx);
    const out = sandbox.ok(["pkcs12", "-in", file, "-passin", "pass:pässwörd €", "-nodes"]);
    const key = pemToDer(out, "PRIVATE KEY")[0]!;
    expect(createPublicKey(createPrivateKey({ key, format: "der", type: "pkcs8" })).export({ type: "spki", format: "der" })).toEqual(keys.spkiDer);
    expect(out).not.toMatch(/friendlyName/);
  });

  it("can be opened by openssl with an empty password when built with one", async () => {
    const keys = await generateKeyPair("ECDSA_P256", 256);
    const cert = await ca.issuer.issue(userSpec("carol", keys.spkiDer));
    const file = sandbox.write("empty.pfx", await buildPfx({ keyPkcs8Der: keys.pkcs8Der, certDer: cert, chainDer: [], password: "" }));
    expect(sandbox.run(["pkcs12", "-in", file, "-passin", "pass:", "-nodes", "-info"]).status).toBe(0);
  });

  it("rejects input that is not DER", async () => {
    await expect(buildPfx({ keyPkcs8Der: Buffer.from("nope"), certDer: ca.material.root.certDer, chainDer: [], password: "x" })).rejects.toThrow(/private key/);
  });
});
