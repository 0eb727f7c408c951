// The template's user PIN policy (SmartcardConfig.UserPinPolicy), checked before anything is
// created on the server, so a PIN the card would later refuse never costs a request.
import { checkCardPinRules } from "./card/pin.js";
import type { PinPolicy } from "./wire.js";

const CHARACTER_SETS = {
  numeric: { pattern: /^[0-9]+$/, text: "digits only" },
  alphanumeric: { pattern: /^[A-Za-z0-9]+$/, text: "letters and digits" },
  any: { pattern: /^[\x20-\x7e]+$/, text: "printable ASCII characters" },
} as const;

export function describePinPolicy(policy: PinPolicy): string {
  const min = policy.minLength > 0 ? policy.minLength : 4;
  const max = policy.maxLength > 0 ? policy.maxLength : 127;
  return `${min}–${max} characters, ${CHARACTER_SETS[policy.characterSet].text}`;
}

/** What is wrong with `pin` under `policy`, or null when it is acceptable. */
export function pinPolicyProblem(pin: string, policy: PinPolicy | null): string | null {
  const length = [...pin].length;
  if (policy) {
    if (policy.minLength > 0 && length < policy.minLength) return `the PIN must have at least ${policy.minLength} characters`;
    if (policy.maxLength > 0 && length > policy.maxLength) return `the PIN must have at most ${policy.maxLength} characters`;
    const set = CHARACTER_SETS[policy.characterSet];
    if (!set.pattern.test(pin)) return `the PIN may contain ${set.text}`;
  }
  try {
    checkCardPinRules(pin);
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}
