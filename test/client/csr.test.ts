import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseKeySpec, type HashName } from "../../src/client/card/keys.js";
import { buildCsr, csrToPem, encodableSubject } from "../../src/client/csr.js";
import { newCard } from "./support/card.js";
import { opensslVerifyCsr } from "./support/openssl.js";
import { tempDir } from "./support/tmp.js";

const cases: { alg: string; size?: number; hash: HashName; sigName: RegExp }[] = [
  { alg: "RSA", size: 2048, hash: "SHA256", sigName: /sha256WithRSAEncryption/ },
  { alg: "RSA", size: 3072, hash: "SHA384", sigName: /sha384WithRSAEncryption/ },
  { alg: "ECDSA_P256", hash: "SHA256", sigName: /ecdsa-with-SHA256/ },
  { alg: "ECDSA_P384", hash: "SHA384", sigName: /ecdsa-with-SHA384/ },
];

describe("CSR signed on the card", () => {
  for (const c of cases) {
    it(`${c.alg}${c.size ? ` ${c.size}` : ""} with ${c.hash} verifies with openssl req -verify`, async () => {
      const { card } = newCard({ pin: "123456" });
      card.verifyPin("123456");
      const spec = parseKeySpec(c.alg, c.size);
      const key = await card.generateKey(spec);
      const der = await buildCsr({
        subject: "CN=Alice Example, O=Contoso",
        subjectPublicKeyInfo: key.publicKey,
        algorithm: spec.algorithm,
        hash: c.hash,
        sign: (tbs) => card.sign(key.id, c.hash, tbs),
      });
      const dir = tempDir();
      opensslVerifyCsr(dir, der);
      const file = join(dir, "csr.pem");
      writeFileSync(file, csrToPem(der));
      const text = execFileSync("openssl", ["req", "-in", file, "-noout", "-text"], { encoding: "utf8" });
      expect(text).toMatch(c.sigName);
      expect(text).toMatch(/CN\s*=\s*Alice Example/);
      const pub = execFileSync("openssl", ["req", "-in", file, "-noout", "-pubkey"], { encoding: "utf8" });
      expect(pub.replace(/-----[^-]+-----|\s/g, "")).toBe(key.publicKey.toString("base64"));
    });
  }

  it("an empty subject (what the CM server sends for server-written subjects) still verifies", async () => {
    const { card } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    const key = await card.generateKey({ algorithm: "RSA", keySize: 2048 });
    const der = await buildCsr({ subject: "", subjectPublicKeyInfo: key.publicKey, algorithm: "RSA", hash: "SHA256", sign: (t) => card.sign(key.id, "SHA256", t) });
    opensslVerifyCsr(tempDir(), der);
  });

  it("a signature by the wrong key does not verify", async () => {
    const { card } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    const a = await card.generateKey({ algorithm: "ECDSA_P256" });
    const b = await card.generateKey({ algorithm: "ECDSA_P256" });
    const der = await buildCsr({ subject: "CN=x", subjectPublicKeyInfo: a.publicKey, algorithm: "ECDSA_P256", hash: "SHA256", sign: (t) => card.sign(b.id, "SHA256", t) });
    expect(() => opensslVerifyCsr(tempDir(), der)).toThrow();
  });

  it("sends a subject it cannot encode as an empty one", () => {
    expect(encodableSubject(" CN=alice ")).toBe("CN=alice");
    expect(encodableSubject("not a DN")).toBe("");
  });
});
