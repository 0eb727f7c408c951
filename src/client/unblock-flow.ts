// Unblocking a card's PIN (SPEC §7.3 Unblock / OfflineUnblock, §9), with no terminal I/O.
//
// Online: the card is at hand and the server reachable. An Unblock request releases one admin
// challenge response for the card; with it the card accepts a new PIN and resets its counter.
// Offline: the card and the server never meet. The card shows its challenge (hex), the user
// reads it to a helpdesk operator, who obtains the response for the user's OfflineUnblock
// request and reads it back; the card checks it and takes a new PIN.
import { OFFLINE_CHALLENGE_LIFETIME_MS, CHALLENGE_LENGTH } from "./card/constants.js";
import { AdminAuthError } from "./card/errors.js";
import type { PinStatus, VirtualSmartCard } from "./card/virtual-card.js";
import type { ApiClient } from "./api.js";
import { endUnfinishedRequest } from "./enroll-recovery.js";
import { ApiError, InputError } from "./errors.js";
import type { StepRunner } from "./steps.js";
import { RequestStatus, RequestType, requestStatusName, smartcardStatusName, SmartcardStatus, UserPinOption } from "./wire-enums.js";
import { EMPTY_GUID, type SmartcardConfig, type SmartcardView } from "./wire.js";

// --- hex, as read out over the phone -------------------------------------------------------

/** 8 bytes as 16 upper-case hex digits. */
export function formatHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase();
}

/** 16 hex digits, spaces, colons and dashes tolerated (people group them when reading aloud). */
export function parseHex8(text: string, what: string): Buffer {
  const clean = text.replace(/[\s:-]/g, "");
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length !== CHALLENGE_LENGTH * 2) {
    // Never echoed: a mistyped response is nearly the response, which unblocks the card.
    throw new InputError(`${what} must be ${CHALLENGE_LENGTH * 2} hexadecimal digits (${CHALLENGE_LENGTH} bytes), got ${clean.length} characters`);
  }
  return Buffer.from(clean, "hex");
}

// --- the server's record of a local card -------------------------------------------------------

/**
 * The server's record of the card with this card id in one of `statuses` (a card id keeps the
 * records of earlier, retired uses of the same card).
 */
export async function findSmartcardRecord(
  api: ApiClient,
  cardId: string,
  statuses: readonly number[] = [SmartcardStatus.Active],
): Promise<SmartcardView> {
  const records = await api.listSmartcards(cardId);
  const usable = records.filter((r) => statuses.includes(r.status));
  if (usable.length === 1) return usable[0]!;
  if (usable.length > 1) throw new InputError(`the server has ${usable.length} records for card ${cardId}: name one by its smart card uuid`);
  const wanted = statuses.map(smartcardStatusName).join(" or ");
  if (records.length === 0) throw new InputError(`the server knows no smart card with card id ${cardId} visible to ${api.user}`);
  throw new InputError(
    `card ${cardId} is not ${wanted} on the server (its records: ${records.map((r) => smartcardStatusName(r.status)).join(", ")})`,
  );
}

/** A smart card given as its server uuid, or failing that as a card id. */
export async function smartcardByRef(api: ApiClient, ref: string): Promise<SmartcardView> {
  try {
    return await api.getSmartcard(ref);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    const byCardId = await api.listSmartcards(ref).catch(() => []);
    const active = byCardId.filter((c) => c.status === SmartcardStatus.Active);
    if (active.length === 1) return active[0]!;
    throw err;
  }
}

// --- online unblock ---------------------------------------------------------------------------

export interface OnlineUnblockPlan {
  /** The card, locked by the caller (who also releases it). */
  card: VirtualSmartCard;
  smartcard: SmartcardView;
  config: SmartcardConfig;
  /** The new PIN, or null when the template has the server choose it. */
  newPin: string | null;
  dataCollection: Record<string, string>[];
  comment: string;
  /** Continue this request (approved after waiting) instead of creating one. */
  requestId?: string;
}

export type UnblockOutcome =
  | { kind: "completed"; requestId: string; smartcardUuid: string; cardId: string; pin: PinStatus; serverProposedPin?: string }
  | { kind: "pending"; requestId: string };

export function serverChoosesPin(config: SmartcardConfig): boolean {
  return config.userPinOption === UserPinOption.ServerDistributed || config.userPinOption === UserPinOption.Randomized;
}

function policyMaxAttempts(config: SmartcardConfig): number | undefined {
  const n = config.userPinPolicy.maxAttempts;
  return n > 0 && n <= 255 ? n : undefined;
}

export async function runOnlineUnblock(plan: OnlineUnblockPlan, deps: { api: ApiClient; steps: StepRunner }): Promise<UnblockOutcome> {
  const { api, steps } = deps;
  const { card, smartcard, config } = plan;
  let requestId = plan.requestId ?? null;
  let pinReset = false;
  try {
    if (!requestId) {
      requestId = await steps.run("create-request", "Create unblock request", () =>
        api.createRequest({ type: "Unblock", smartcard: smartcard.uuid, datacollection: plan.dataCollection, comment: plan.comment }),
        (id) => id,
      );
    }
    const id = requestId;
    const request = await steps.run("check-request", "Check request status", () => api.getRequest(id), (r) => requestStatusName(r.status));
    if (request.status === RequestStatus.Pending) return { kind: "pending", requestId: id };
    if (request.requestType !== RequestType.Unblock || (request.oldSmartcardUuid !== EMPTY_GUID && request.oldSmartcardUuid !== smartcard.uuid)) {
      throw new InputError(`request ${id} is not an unblock of smart card ${smartcard.uuid}`);
    }
    if (request.status !== RequestStatus.Approved && request.status !== RequestStatus.Executing) {
      throw new InputError(`request ${id} is ${requestStatusName(request.status)}; only an Approved request can be executed`);
    }

    const serverPin = serverChoosesPin(config)
      ? await steps.run("server-pin", "Get server-proposed PIN", () => api.getServerProposedPin(smartcard.uuid))
      : undefined;
    const pin = serverPin ?? plan.newPin;
    if (!pin) throw new InputError("no new PIN was given for the card");

    await steps.run("admin-auth", "Authenticate to card with the server's response", async () => {
      const challenge = card.getChallenge();
      const response = await api.getAuthenticationResponse(id, smartcard.uuid, card.cardId, card.atr, challenge, config.diversifyAdminKey);
      card.authenticateAdmin(response);
    });
    await steps.run("reset-pin", serverPin ? "Set server-proposed PIN" : "Set new PIN", () => {
      try {
        card.resetPin(pin, policyMaxAttempts(config));
      } finally {
        card.endAdminSession();
      }
    });
    pinReset = true;
    await steps.run("complete", "Complete request", () => api.setRequestStatus(id, "Completed"), (r) => requestStatusName(r.status));
    return {
      kind: "completed",
      requestId: id,
      smartcardUuid: smartcard.uuid,
      cardId: card.cardId,
      pin: card.pinStatus(),
      ...(serverPin ? { serverProposedPin: serverPin } : {}),
    };
  } catch (err) {
    if (pinReset) {
      steps.notice(`the card's PIN was reset, but request ${requestId} could not be completed: run "openclm requests complete ${requestId}"`);
    } else if (requestId) {
      const id = requestId;
      await steps
        .run("cleanup", "End unfinished request", () => endUnfinishedRequest(api.withSignal(undefined, 15_000), id), (s) => `request ${id} ${requestStatusName(s)}`)
        .catch((e: unknown) => steps.notice(`request ${id} could not be ended: ${(e as Error).message}`));
    }
    throw err;
  }
}

// --- offline unblock: the card's side -----------------------------------------------------------

export interface OfflineChallenge {
  challenge: Buffer;
  expiresAt: string;
  /** True when the card's outstanding offline challenge was shown again rather than replaced. */
  repeated: boolean;
}

/**
 * The challenge to read to the helpdesk. One still outstanding is shown again (the helpdesk
 * gets one response per request, so a replaced challenge would waste it) unless `fresh`.
 */
export function offlineUnblockChallenge(card: VirtualSmartCard, fresh = false, now = Date.now()): OfflineChallenge {
  const pending = card.pendingChallenge(now);
  if (pending && pending.purpose === "offline-unblock" && !fresh) {
    return { challenge: pending.value, expiresAt: pending.expiresAt, repeated: true };
  }
  const challenge = card.getChallenge(now, { lifetimeMs: OFFLINE_CHALLENGE_LIFETIME_MS, purpose: "offline-unblock" });
  return { challenge, expiresAt: card.pendingChallenge(now)!.expiresAt, repeated: false };
}

/** Checks the helpdesk's response against the outstanding challenge and sets the new PIN. */
export function unblockWithResponse(card: VirtualSmartCard, response: Buffer, newPin: string): PinStatus {
  const pending = card.pendingChallenge();
  if (!pending) {
    throw new AdminAuthError("the card has no outstanding challenge (it expired or was used): start again with --challenge and a new request");
  }
  card.authenticateAdmin(response);
  try {
    card.resetPin(newPin);
  } finally {
    card.endAdminSession();
  }
  return card.pinStatus();
}

// --- offline unblock: the helpdesk's side -------------------------------------------------------

export interface HelpdeskAnswer {
  requestId: string;
  smartcardUuid: string;
  cardId: string;
  response: Buffer;
}

/** The response to a user's card challenge for an approved OfflineUnblock request. */
export async function helpdeskUnblockResponse(api: ApiClient, steps: StepRunner, requestId: string, challenge: Buffer): Promise<HelpdeskAnswer> {
  const request = await steps.run("read-request", "Read request", () => api.getRequest(requestId), (r) => requestStatusName(r.status));
  if (request.requestType !== RequestType.OfflineUnblock) {
    throw new InputError(`request ${requestId} is not an OfflineUnblock request`);
  }
  if (request.status === RequestStatus.Pending) throw new InputError(`request ${requestId} still awaits approval`);
  if (request.status !== RequestStatus.Approved && request.status !== RequestStatus.Executing) {
    throw new InputError(`request ${requestId} is ${requestStatusName(request.status)}; no response can be released for it`);
  }
  const scid = request.oldSmartcardUuid !== EMPTY_GUID ? request.oldSmartcardUuid : request.newSmartcardUuid;
  const smartcard = await steps.run("read-card", "Read the request's smart card", () => api.getSmartcard(scid), (c) => c.cardId);
  // The card holds its diversified key when the template diversifies; a helpdesk that may not
  // read the template's configuration assumes it does (as every demo template).
  const diversified = await api.getSmartcardConfig(request.profileTemplateUuid).then((c) => c.diversifyAdminKey, () => true);
  const response = await steps.run("response", "Get the card's challenge response", () =>
    api.getAuthenticationResponse(requestId, smartcard.uuid, smartcard.cardId, smartcard.atr, challenge, diversified),
  );
  return { requestId, smartcardUuid: smartcard.uuid, cardId: smartcard.cardId, response };
}
