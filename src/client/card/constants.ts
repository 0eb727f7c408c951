// Facts about the card this software emulates: a TPM virtual smart card as Windows creates it.

/** ATR a Windows TPM virtual smart card reports; servers use it to recognise the card type. */
export const TPM_VSC_ATR = "3b8d0180fba000000397425446590301c8";

/** Factory admin key of the demo templates, used when `card create` is given no key. */
export const DEMO_DEFAULT_ADMIN_KEY_HEX = "010203040506070801020304050607080102030405060708";

export const ADMIN_KEY_LENGTH = 24;
export const CHALLENGE_LENGTH = 8;

/** A challenge older than this is refused, so a leaked one cannot be answered days later. */
export const CHALLENGE_LIFETIME_MS = 5 * 60 * 1000;

/**
 * An offline-unblock challenge is read out to the helpdesk and answered later by hand, so it
 * lives longer; it is still one-shot, and any other admin challenge replaces it.
 */
export const OFFLINE_CHALLENGE_LIFETIME_MS = 60 * 60 * 1000;

/** Card-level PIN limits (a template's policy may be stricter, never looser). */
export const CARD_PIN_MIN_BYTES = 4;
export const CARD_PIN_MAX_BYTES = 127;
export const DEFAULT_PIN_MAX_ATTEMPTS = 5;
