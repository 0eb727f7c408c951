// Server-generated PINs that satisfy the template's PIN policy.
import { randomInt } from "node:crypto";
import type { PinPolicyConfig } from "../config/types.js";

const ALPHABETS: Record<PinPolicyConfig["characterSet"], string> = {
  numeric: "0123456789",
  alphanumeric: "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
  // Printable ASCII without characters that are easily confused or hard to type.
  any: "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-=?@",
};

export function generatePin(policy: PinPolicyConfig): string {
  const length = Math.min(Math.max(policy.minLength, 8), policy.maxLength);
  const alphabet = ALPHABETS[policy.characterSet];
  let pin = "";
  for (let i = 0; i < length; i++) pin += alphabet[randomInt(alphabet.length)];
  return pin;
}
