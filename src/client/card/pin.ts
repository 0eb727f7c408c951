// The PIN is kept only as a salted scrypt hash, so a copied card file does not reveal it.
import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import { CARD_PIN_MAX_BYTES, CARD_PIN_MIN_BYTES } from "./constants.js";
import { InvalidPinError } from "./errors.js";

export interface PinHash {
  kdf: "scrypt";
  N: number;
  r: number;
  p: number;
  salt: string;
  hash: string;
}

const N = 1 << 14;
const R = 8;
const P = 1;
const HASH_BYTES = 32;

export function checkCardPinRules(pin: string): void {
  const bytes = Buffer.byteLength(pin, "utf8");
  if (bytes < CARD_PIN_MIN_BYTES || bytes > CARD_PIN_MAX_BYTES) {
    throw new InvalidPinError(`a card PIN is ${CARD_PIN_MIN_BYTES} to ${CARD_PIN_MAX_BYTES} bytes long`);
  }
}

export function hashPin(pin: string): PinHash {
  checkCardPinRules(pin);
  const salt = randomBytes(16);
  const hash = scryptSync(pin.normalize("NFC"), salt, HASH_BYTES, { N, r: R, p: P });
  return { kdf: "scrypt", N, r: R, p: P, salt: salt.toString("base64"), hash: hash.toString("base64") };
}

export function pinMatches(pin: string, stored: PinHash): boolean {
  const expected = Buffer.from(stored.hash, "base64");
  const actual = scryptSync(pin.normalize("NFC"), Buffer.from(stored.salt, "base64"), expected.length, {
    N: stored.N,
    r: stored.r,
    p: stored.p,
  });
  return timingSafeEqual(actual, expected);
}
