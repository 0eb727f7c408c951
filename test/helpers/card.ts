// A minimal test-side smart card: admin key, one-shot challenges, 3DES-ECB admin
// authentication, and an on-card key pair that signs CSRs. Independent of the product's code.
import { createCipheriv, randomBytes, randomUUID, webcrypto } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export function des3(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv("des-ede3-ecb", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** The same computation by openssl, to cross-check the product independently. */
export function opensslDes3(key: Buffer, block: Buffer): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "openclm-des-"));
  const file = join(dir, "in.bin");
  writeFileSync(file, block);
  return execFileSync("openssl", ["enc", "-des-ede3", "-nopad", "-K", key.toString("hex"), "-in", file]);
}

export class TestCard {
  readonly cardId = randomUUID().toUpperCase();
  adminKey: Buffer;
  pin?: string;
  private challenge?: Buffer;
  private adminAuthenticated = false;
  keys?: CryptoKeyPair;

  constructor(defaultAdminKeyHex: string) {
    this.adminKey = Buffer.from(defaultAdminKeyHex, "hex");
  }

  getChallenge(): Buffer {
    this.challenge = randomBytes(8);
    return this.challenge;
  }

  authenticate(response: Buffer): boolean {
    const expected = this.challenge && des3(this.adminKey, this.challenge);
    this.challenge = undefined; // one shot
    this.adminAuthenticated = !!expected && expected.equals(response);
    return this.adminAuthenticated;
  }

  setAdminKey(key: Buffer): void {
    if (!this.adminAuthenticated) throw new Error("admin authentication required");
    this.adminKey = key;
    this.adminAuthenticated = false;
  }

  setPin(pin: string): void {
    if (!this.adminAuthenticated) throw new Error("admin authentication required");
    this.pin = pin;
    this.adminAuthenticated = false;
  }

  async csr(hash = "SHA-256", keyType: "RSA" | "P-256" = "RSA", bits = 2048): Promise<{ der: Buffer; spki: Buffer }> {
    const alg =
      keyType === "RSA"
        ? { name: "RSASSA-PKCS1-v1_5", hash, publicExponent: new Uint8Array([1, 0, 1]), modulusLength: bits }
        : { name: "ECDSA", namedCurve: "P-256", hash };
    this.keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      keys: this.keys,
      signingAlgorithm: keyType === "RSA" ? { name: "RSASSA-PKCS1-v1_5", hash } : { name: "ECDSA", hash },
      name: "CN=ignored by the server",
    });
    const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", this.keys.publicKey));
    return { der: Buffer.from(csr.rawData), spki };
  }
}
