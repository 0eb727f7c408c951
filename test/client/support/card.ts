import { CardStore } from "../../../src/client/card/store.js";
import { DEMO_DEFAULT_ADMIN_KEY_HEX } from "../../../src/client/card/constants.js";
import { adminChallengeResponse } from "../../../src/client/card/des.js";
import type { VirtualSmartCard } from "../../../src/client/card/virtual-card.js";
import { tempDir } from "./tmp.js";

export const DEMO_KEY = Buffer.from(DEMO_DEFAULT_ADMIN_KEY_HEX, "hex");

export function newStore(): CardStore {
  return new CardStore(tempDir());
}

export function newCard(opts: { pin?: string; pinMaxAttempts?: number } = {}) {
  const store = newStore();
  const { card, path } = store.create({ adminKey: DEMO_KEY, ...opts });
  return { store, card, path };
}

/** Opens an admin session the way the server would answer the challenge. */
export function adminLogin(card: VirtualSmartCard, key: Buffer = DEMO_KEY): void {
  card.authenticateAdmin(adminChallengeResponse(key, card.getChallenge()));
}
