import { createCipheriv, hkdf, KeyObject } from "node:crypto";

/**
 * Smart card administration keys (SPEC §9). The derivation is specified byte for byte in
 * docs/admin-keys.md; change both together or cards already in the field stop working.
 */

const KEY_LENGTH = 24;
const HKDF_SALT = Buffer.from("OpenCLM admin key v1", "utf8");
// Retries exist only to skip degenerate outputs (probability ~2^-60 per try); hitting the cap
// would mean the KDF is broken, not that the inputs are unlucky.
const MAX_DERIVATION_ATTEMPTS = 64;
const MIN_MASTER_SECRET_BYTES = 16;

// FIPS 74 weak and semi-weak DES keys, odd parity; compared after parity normalisation.
const WEAK_DES_KEYS = new Set(
  [
    "0101010101010101", "fefefefefefefefe", "e0e0e0e0f1f1f1f1", "1f1f1f1f0e0e0e0e",
    "01fe01fe01fe01fe", "fe01fe01fe01fe01", "1fe01fe00ef10ef1", "e01fe01ff10ef10e",
    "01e001e001f101f1", "e001e001f101f101", "1ffe1ffe0efe0efe", "fe1ffe1ffe0efe0e",
    "011f011f010e010e", "1f011f010e010e01", "e0fee0fef1fef1fe", "fee0fee0fef1fef1",
  ],
);

export function parseAdminKeyHex(hex: string): Buffer {
  if (typeof hex !== "string" || !/^[0-9a-fA-F]{48}$/.test(hex)) {
    throw new Error("admin key must be exactly 48 hexadecimal digits (24 bytes)");
  }
  return Buffer.from(hex, "hex");
}

/** DES ignores the low bit of each byte; cards and some HSMs insist that it makes the parity odd. */
export function setOddParity(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = 0; i < out.length; i++) {
    const high = out[i]! & 0xfe;
    let ones = 0;
    for (let b = high; b; b >>= 1) ones += b & 1;
    out[i] = ones % 2 === 0 ? high | 1 : high;
  }
  return out;
}

/**
 * A 3DES key whose thirds collapse (K1 = K2 or K2 = K3 degrades EDE to single DES) or
 * that contains a weak or semi-weak DES key.
 */
export function isDegenerate(key: Buffer): boolean {
  if (key.length !== KEY_LENGTH) throw new Error("3DES key must be 24 bytes");
  const normalised = setOddParity(key);
  const [k1, k2, k3] = [0, 8, 16].map((o) => normalised.subarray(o, o + 8));
  if (k1!.equals(k2!) || k2!.equals(k3!)) return true;
  return [k1!, k2!, k3!].some((k) => WEAK_DES_KEYS.has(k.toString("hex")));
}

/**
 * HKDF runs on libuv's thread pool, not on the event loop: a single derivation among a server's
 * other work cost the event loop about 40 µs (its OpenSSL code cold each time), against 8 µs in a
 * loop. The master secret may be a KeyObject (what the server keeps), or raw bytes.
 */
export async function deriveAdminKey(masterSecret: Buffer | KeyObject, templateUuid: string, cardId: string): Promise<Buffer> {
  const secretBytes = masterSecret instanceof KeyObject ? (masterSecret.symmetricKeySize ?? 0) : Buffer.isBuffer(masterSecret) ? masterSecret.length : 0;
  if (secretBytes < MIN_MASTER_SECRET_BYTES) {
    throw new Error(`admin key master secret must be at least ${MIN_MASTER_SECRET_BYTES} bytes`);
  }
  const template = derivationLabel(templateUuid, "template id");
  const card = derivationLabel(cardId, "card id");
  for (let n = 0; n < MAX_DERIVATION_ATTEMPTS; n++) {
    const info = Buffer.from(`template=${template};card=${card};n=${n}`, "utf8");
    const key = setOddParity(Buffer.from(await hkdfSha256(masterSecret, info)));
    if (!isDegenerate(key)) return key;
  }
  throw new Error("admin key derivation produced only degenerate keys");
}

function hkdfSha256(secret: Buffer | KeyObject, info: Buffer): Promise<ArrayBuffer> {
  return new Promise((resolve, reject) => hkdf("sha256", secret, HKDF_SALT, info, KEY_LENGTH, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Cards compute exactly this: the challenge encrypted with their admin key, 3DES-ECB. */
export function challengeResponse(key: Buffer, challenge: Buffer): Buffer {
  if (key.length !== KEY_LENGTH) throw new Error("3DES key must be 24 bytes");
  if (challenge.length !== 8) throw new Error("challenge must be 8 bytes");
  const cipher = createCipheriv("des-ede3-ecb", key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}

// ';' and '=' would make the info string ambiguous between two (template, card) pairs.
function derivationLabel(value: string, what: string): string {
  if (typeof value !== "string" || value.length === 0 || /[;=]/.test(value)) {
    throw new Error(`${what} must be a non-empty string without ';' or '='`);
  }
  return value.toLowerCase();
}
