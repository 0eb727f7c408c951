// The issuance pool runs the built worker (dist/, made by `npm test`'s build step), as the server does.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certsOnlyPkcs7 } from "../../src/crypto/cms.js";
import { CsrError, parseCsr } from "../../src/crypto/csr.js";
import { IssuancePool } from "../../src/crypto/issuance-pool.js";
import { makeCa, userSpec, type TestCa } from "./helpers/pki.js";
import { OpensslSandbox } from "./helpers/openssl.js";

const WORKER = new URL(`file://${join(import.meta.dirname, "../../dist/crypto/issuance-worker.js")}`);
const WINDOWS_CSR = readFileSync(new URL("../fixtures/mimcm-doc-csr-sha1-rsa2048.b64", import.meta.url), "utf8");

const sandbox = new OpensslSandbox();
let rsa: TestCa;
let p256: TestCa;
const pools: IssuancePool[] = [];

function poolFor(ca: TestCa, size = 2): IssuancePool {
  const { issuing, root } = ca.material;
  const pool = new IssuancePool({ issuingCertDer: issuing.certDer, issuingKeyPkcs8Der: issuing.keyPkcs8Der, chainDer: [issuing.certDer, root.certDer] }, size, WORKER);
  pools.push(pool);
  return pool;
}

beforeAll(async () => {
  rsa = await makeCa("rsa2048", "pool-rsa");
  p256 = await makeCa("p256", "pool-p256");
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  sandbox.dispose();
});

describe("issuance pool", () => {
  it("reads a CSR exactly as parseCsr does on the calling thread", async () => {
    const pool = poolFor(rsa);
    const viaPool = await pool.parseCsr(WINDOWS_CSR);
    expect(Buffer.isBuffer(viaPool.der) && Buffer.isBuffer(viaPool.spkiDer)).toBe(true);
    expect(viaPool).toEqual(parseCsr(WINDOWS_CSR));
  });

  it("answers with buffers that carry only their own bytes across threads", async () => {
    // A view into Node's shared 8 KiB pool would be cloned with the whole block.
    const pool = poolFor(rsa);
    const { spkiDer: _, ...spec } = userSpec("own-bytes", Buffer.alloc(0));
    const { issued } = await pool.issueForCsr(WINDOWS_CSR, { keyAlgorithm: "RSA", keySize: 2048, signatureHashes: ["SHA1"] }, spec);
    const csr = await pool.parseCsr(WINDOWS_CSR);
    const chained = await pool.issueWithChain({ ...spec, spkiDer: csr.spkiDer });
    const alone = await pool.issue({ ...spec, spkiDer: csr.spkiDer });
    for (const b of [csr.der, csr.spkiDer, issued!.der, issued!.pkcs7, chained.der, chained.pkcs7, alone]) expect(b.buffer.byteLength).toBe(b.length);
  });

  it("rejects a bad CSR with the CsrError the caller would have got", async () => {
    const pool = poolFor(rsa);
    const inThread = (() => {
      try {
        parseCsr("AAAA");
      } catch (e) {
        return e as Error;
      }
    })()!;
    const viaPool = await pool.parseCsr("AAAA").catch((e: unknown) => e as Error);
    expect(viaPool).toBeInstanceOf(CsrError);
    expect(viaPool.message).toBe(inThread.message);
  });

  it("issues byte for byte what the CA's issuer issues on the calling thread (RSA signatures are deterministic)", async () => {
    const pool = poolFor(rsa);
    const spki = parseCsr(WINDOWS_CSR).spkiDer;
    const specs = Array.from({ length: 20 }, (_, i) => userSpec(`user${i}`, spki));
    const viaPool = await Promise.all(specs.map((s) => pool.issue(s)));
    const inThread = await Promise.all(specs.map((s) => rsa.issuer.issue(s)));
    expect(viaPool.every((d) => Buffer.isBuffer(d))).toBe(true);
    expect(viaPool.map((d) => d.toString("hex"))).toEqual(inThread.map((d) => d.toString("hex")));
    sandbox.writePem("root.pem", rsa.material.root.certDer);
    sandbox.writePem("issuing.pem", rsa.material.issuing.certDer);
    sandbox.writePem("ee.pem", viaPool[7]!);
    expect(sandbox.ok(["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "ee.pem"])).toContain("ee.pem: OK");
  });

  it("answers with the certificate and its certs-only PKCS#7 (certificate, issuing CA, root) that openssl reads", async () => {
    const pool = poolFor(rsa);
    const spec = userSpec("with-chain", parseCsr(WINDOWS_CSR).spkiDer);
    const { der, pkcs7 } = await pool.issueWithChain(spec);
    expect(der.equals(await rsa.issuer.issue(spec))).toBe(true);
    expect(pkcs7.equals(certsOnlyPkcs7([der, rsa.material.issuing.certDer, rsa.material.root.certDer]))).toBe(true);
    sandbox.write("answer.p7b", pkcs7);
    const printed = sandbox.ok(["pkcs7", "-inform", "DER", "-in", "answer.p7b", "-print_certs", "-noout"]);
    expect(printed.match(/^subject=/gm)).toHaveLength(3);
    expect(printed).toContain("subject=CN = with-chain");
  });

  it("reads a CSR and issues for its key in one trip, only when the key meets the requirement", async () => {
    const pool = poolFor(rsa);
    const parsed = parseCsr(WINDOWS_CSR); // RSA 2048, signed with SHA-1
    const { spkiDer: _, ...spec } = userSpec("one-trip", parsed.spkiDer);
    const met = await pool.issueForCsr(WINDOWS_CSR, { keyAlgorithm: "RSA", keySize: 2048, signatureHashes: ["SHA256", "SHA1"] }, spec);
    // The request's facts come back, not its bytes: they stay on the worker.
    const { der: _der, spkiDer: _spki, ...facts } = parsed;
    expect(met.csr).toStrictEqual(facts);
    const expected = await rsa.issuer.issue({ ...spec, spkiDer: parsed.spkiDer });
    expect(met.issued!.der.equals(expected)).toBe(true);
    expect(met.issued!.pkcs7.equals(certsOnlyPkcs7([expected, rsa.material.issuing.certDer, rsa.material.root.certDer]))).toBe(true);
    sandbox.writePem("root.pem", rsa.material.root.certDer);
    sandbox.writePem("issuing.pem", rsa.material.issuing.certDer);
    sandbox.writePem("one-trip.pem", met.issued!.der);
    expect(sandbox.ok(["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "one-trip.pem"])).toContain("one-trip.pem: OK");

    for (const requirement of [
      { keyAlgorithm: "RSA" as const, keySize: 2048, signatureHashes: ["SHA256"] },
      { keyAlgorithm: "RSA" as const, keySize: 3072, signatureHashes: ["SHA1"] },
      { keyAlgorithm: "ECDSA_P256" as const, keySize: 256, signatureHashes: ["SHA1"] },
    ]) {
      const unmet = await pool.issueForCsr(WINDOWS_CSR, requirement, spec);
      expect(unmet.csr).toStrictEqual(facts);
      expect(unmet.issued).toBeUndefined();
    }
    const bad = await pool.issueForCsr("AAAA", { keyAlgorithm: "RSA", keySize: 2048, signatureHashes: ["SHA1"] }, spec).catch((e: unknown) => e as Error);
    expect(bad).toBeInstanceOf(CsrError);
    expect(bad.message).toBe((() => {
      try {
        parseCsr("AAAA");
      } catch (e) {
        return (e as Error).message;
      }
    })());
  });

  it("signs ECDSA certificates that verify under the issuing key", async () => {
    const pool = poolFor(p256);
    const spki = parseCsr(WINDOWS_CSR).spkiDer;
    const spec = userSpec("ecdsa-user", spki);
    const der = await pool.issue(spec);
    const cert = new X509Certificate(der);
    expect(cert.verify(new X509Certificate(p256.material.issuing.certDer).publicKey)).toBe(true);
    expect(BigInt(`0x${cert.serialNumber}`)).toBe(BigInt(`0x${Buffer.from(spec.serial).toString("hex")}`));
  });

  it("refuses an impossible certificate with the issuer's error", async () => {
    const pool = poolFor(rsa);
    const spki = parseCsr(WINDOWS_CSR).spkiDer;
    const now = Date.now();
    await expect(pool.issue(userSpec("x", spki, { notBefore: new Date(now), notAfter: new Date(now - 60_000) }))).rejects.toThrow("certificate validity is empty");
  });

  it("fails the tasks of a worker that dies and replaces it", async () => {
    const pool = poolFor(rsa, 1);
    const spki = parseCsr(WINDOWS_CSR).spkiDer;
    const inFlight = pool.issue(userSpec("lost", spki));
    // The pool's only worker stops as if it had crashed.
    await (pool as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }).slots[0]!.worker.terminate();
    await expect(inFlight).rejects.toThrow(/issuance worker stopped/);
    const der = await pool.issue(userSpec("after", spki));
    expect(new X509Certificate(der).subject).toBe("CN=after");
  });

  it("stops respawning workers that cannot start, and says so", async () => {
    const { issuing, root } = rsa.material;
    const missing = new URL(`file://${join(import.meta.dirname, "no-such-worker.js")}`);
    const pool = new IssuancePool({ issuingCertDer: issuing.certDer, issuingKeyPkcs8Der: issuing.keyPkcs8Der, chainDer: [issuing.certDer, root.certDer] }, 1, missing);
    pools.push(pool);
    await expect(pool.parseCsr(WINDOWS_CSR)).rejects.toThrow(/issuance worker stopped/);
    let last: Error | undefined;
    for (let i = 0; i < 50 && !/keep failing/.test(last?.message ?? ""); i++) {
      last = await pool.parseCsr(WINDOWS_CSR).then(
        () => undefined,
        (e: Error) => e,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(last?.message).toMatch(/the issuance workers keep failing: .*no-such-worker/);
  });

  it("refuses work once closed", async () => {
    const pool = poolFor(rsa, 1);
    await pool.close();
    await expect(pool.parseCsr(WINDOWS_CSR)).rejects.toThrow("the issuance pool is closed");
  });
});
