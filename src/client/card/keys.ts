// On-card key pairs. Generation and signing use node:crypto; the private key leaves this module
// only wrapped by the device key (see virtual-card.ts), never in clear.
import { createPrivateKey, createPublicKey, generateKeyPair, sign } from "node:crypto";
import { CardError } from "./errors.js";

export type KeyAlgorithm = "RSA" | "ECDSA_P256" | "ECDSA_P384";
export type HashName = "SHA1" | "SHA256" | "SHA384" | "SHA512";

export const RSA_KEY_SIZES = [2048, 3072, 4096] as const;

export interface KeySpec {
  algorithm: KeyAlgorithm;
  /** RSA modulus bits; for ECDSA the curve size (256/384), optional. */
  keySize?: number;
}


/** Normalises the names servers send (`RSA`, `ECDSA_P256`, `ECDSA` + size, `ECC_P384`…). */
export function parseKeySpec(algorithmName: string, keySize?: number): KeySpec {
  const name = algorithmName.trim().toUpperCase().replace(/-/g, "_");
  if (name === "RSA") {
    const size = keySize && keySize > 0 ? keySize : 2048;
    if (!(RSA_KEY_SIZES as readonly number[]).includes(size)) {
      throw new CardError(`the card supports RSA ${RSA_KEY_SIZES.join("/")} keys, not RSA ${size}`);
    }
    return { algorithm: "RSA", keySize: size };
  }
  const curve = /^(?:ECDSA|ECC|EC)(?:_P?(\d+))?$/.exec(name);
  if (curve) {
    const bits = Number(curve[1] ?? keySize ?? 0);
    if (bits === 256) return { algorithm: "ECDSA_P256", keySize: 256 };
    if (bits === 384) return { algorithm: "ECDSA_P384", keySize: 384 };
  }
  throw new CardError(`the card cannot generate ${algorithmName}${keySize ? ` ${keySize}` : ""} keys`);
}

export function describeKeySpec(spec: KeySpec): string {
  return spec.algorithm === "RSA" ? `RSA ${spec.keySize ?? 2048}` : spec.algorithm === "ECDSA_P256" ? "ECDSA P-256" : "ECDSA P-384";
}

export interface GeneratedKeyPair {
  spki: Buffer;
  pkcs8: Buffer;
}

export function generateKey(spec: KeySpec): Promise<GeneratedKeyPair> {
  const encoding = {
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  } as const;
  // Asynchronous so a 4096-bit RSA generation does not freeze the progress display.
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, spki: Buffer, pkcs8: Buffer) => (err ? reject(err) : resolve({ spki, pkcs8 }));
    if (spec.algorithm === "RSA") {
      generateKeyPair("rsa", { modulusLength: spec.keySize ?? 2048, publicExponent: 0x10001, ...encoding }, done);
    } else {
      generateKeyPair("ec", { namedCurve: spec.algorithm === "ECDSA_P256" ? "P-256" : "P-384", ...encoding }, done);
    }
  });
}

export function parseHashName(name: string): HashName {
  const clean = name.trim().toUpperCase().replace(/-/g, "");
  if (clean === "SHA1" || clean === "SHA256" || clean === "SHA384" || clean === "SHA512") return clean;
  throw new CardError(`unsupported hash algorithm ${name}`);
}

/** RSA PKCS#1 v1.5 or DER-encoded ECDSA: what PKCS#10 and X.509 expect. */
export function signWithPkcs8(pkcs8: Buffer, hash: HashName, data: Uint8Array): Buffer {
  const key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  return sign(hash.toLowerCase(), data, { key, dsaEncoding: "der" });
}

/** SPKI re-encoded by OpenSSL, so equal keys compare equal whatever encoder produced them. */
export function canonicalSpki(spkiDer: Uint8Array): Buffer {
  return createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" }).export({ type: "spki", format: "der" });
}
