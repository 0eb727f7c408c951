import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certsOnlyPkcs7 } from "../../src/crypto/cms.js";
import { generateKeyPair } from "../../src/crypto/pkcs12.js";
import { OpensslSandbox, pemToDer } from "./helpers/openssl.js";
import { makeCa, userSpec, type TestCa } from "./helpers/pki.js";

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

let ca: TestCa;
let ee: Buffer;
beforeAll(async () => {
  ca = await makeCa("p256");
  ee = await ca.issuer.issue(userSpec("alice", (await generateKeyPair("ECDSA_P256", 256)).spkiDer));
});

describe("certsOnlyPkcs7", () => {
  it("is listed by openssl pkcs7 -print_certs in order, byte for byte", () => {
    const certs = [ee, ...ca.issuer.chainDer];
    const p7 = certsOnlyPkcs7(certs);
    sandbox.write("chain.p7b", p7);
    const out = sandbox.ok(["pkcs7", "-inform", "DER", "-in", "chain.p7b", "-print_certs"]);
    expect([...out.matchAll(/^subject=(.*)$/gm)].map((m) => m[1])).toEqual([
      "CN = alice",
      "CN = p256 Test Issuing, O = OpenCLM",
      "CN = p256 Test Root, O = OpenCLM",
    ]);
    expect(pemToDer(out, "CERTIFICATE")).toEqual(certs);
  });

  it("is the degenerate SignedData Windows and openssl crl2pkcs7 produce", () => {
    const p7 = certsOnlyPkcs7([ee]);
    const info = new pkijs.ContentInfo({ schema: asn1js.fromBER(p7).result });
    expect(info.contentType).toBe("1.2.840.113549.1.7.2");
    const sd = new pkijs.SignedData({ schema: info.content });
    expect(sd.version).toBe(1);
    expect(sd.digestAlgorithms).toEqual([]);
    expect(sd.encapContentInfo.eContentType).toBe("1.2.840.113549.1.7.1");
    expect(sd.encapContentInfo.eContent).toBeUndefined();
    expect(sd.signerInfos).toEqual([]);
    expect(sd.crls).toBeUndefined();

    // Same shape as openssl's own certs-only output for the same certificate.
    sandbox.writePem("ee.pem", ee);
    sandbox.ok(["crl2pkcs7", "-nocrl", "-certfile", "ee.pem", "-outform", "DER", "-out", "openssl.p7b"]);
    expect(p7).toEqual(sandbox.read("openssl.p7b"));
  });

  it("opens with openssl cms as well", () => {
    sandbox.write("cms.p7b", certsOnlyPkcs7([ee, ...ca.issuer.chainDer]));
    const out = sandbox.ok(["cms", "-cmsout", "-print", "-inform", "DER", "-in", "cms.p7b"]);
    expect(out).toMatch(/contentType: pkcs7-signedData/);
    expect(out).toMatch(/signerInfos:\s+<EMPTY>/);
  });

  it("rejects input that is not a certificate", () => {
    expect(() => certsOnlyPkcs7([ee, Buffer.from("garbage")])).toThrow(/certificate 1/);
  });
});
