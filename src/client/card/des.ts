// The admin challenge response of Base CSP / minidriver cards and TPM virtual smart cards:
// the 8-byte challenge encrypted with the 3DES admin key, ECB, no padding (SPEC §9).
import { createCipheriv, timingSafeEqual } from "node:crypto";
import { ADMIN_KEY_LENGTH, CHALLENGE_LENGTH } from "./constants.js";

/** Accepts two-key (16 bytes, K1K2K1) or three-key (24 bytes) 3DES keys. */
function tripleDesKey(key: Uint8Array): Buffer {
  if (key.length === 24) return Buffer.from(key);
  if (key.length === 16) return Buffer.concat([key, key.subarray(0, 8)]);
  throw new RangeError(`a 3DES admin key is 16 or 24 bytes, got ${key.length}`);
}

export function adminChallengeResponse(adminKey: Uint8Array, challenge: Uint8Array): Buffer {
  if (challenge.length !== CHALLENGE_LENGTH) {
    throw new RangeError(`an admin challenge is ${CHALLENGE_LENGTH} bytes, got ${challenge.length}`);
  }
  const cipher = createCipheriv("des-ede3-ecb", tripleDesKey(adminKey), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}

export function responsesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Parses an admin key given as 48 hex digits (spaces and colons tolerated). */
export function parseAdminKeyHex(hex: string): Buffer {
  const clean = hex.replace(/[\s:]/g, "");
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length !== ADMIN_KEY_LENGTH * 2) {
    throw new RangeError(`an admin key is ${ADMIN_KEY_LENGTH * 2} hex digits (${ADMIN_KEY_LENGTH} bytes)`);
  }
  return Buffer.from(clean, "hex");
}
