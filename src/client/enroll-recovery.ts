// Bringing a card and its request back to a consistent state after an enrollment stopped half
// way (Ctrl-C, server error, a killed process). The card's journal says which request was in
// flight and which key containers that enrollment made.
//
// Decision: an interrupted enrollment is abandoned, not resumed, unless it had already got
// and installed all its certificates (journal step "install"/"complete"), in which case only
// the final `PUT {"status":"Completed"}` was missing and is sent. Resuming earlier steps would
// have to re-derive admin key and PIN state of a card whose last write is unknown; starting a
// clean request is simpler to reason about and the server revokes whatever the abandoned one
// issued (SPEC §7.2).
import type { EnrollmentJournal } from "./card/card-file.js";
import type { CardStore, LockedCard } from "./card/store.js";
import { CardBusyError } from "./card/errors.js";
import type { ApiClient } from "./api.js";
import type { StepRunner } from "./steps.js";
import { ApiError, NetworkError } from "./errors.js";
import { FINAL_REQUEST_STATUSES, RequestStatus, requestStatusName } from "./wire-enums.js";

export interface RecoveryOutcome {
  cardId: string;
  requestId: string;
  /** What the server now says about the request, when it could be asked. */
  requestStatus: number | null;
  serverAction: "completed" | "abandoned" | "canceled" | "none" | "not-found";
  removedContainers: number;
  cardDeleted: boolean;
  /** The journal stays when the server could not be told; the next run tries again. */
  resolved: boolean;
  message: string;
  /** Why the server could not be told, when it could not. */
  error?: unknown;
}

function allInstalled(card: LockedCard["card"], journal: EnrollmentJournal): boolean {
  const byId = new Map(card.containers().map((c) => [c.id, c]));
  return journal.containerIds.length > 0 && journal.containerIds.every((id) => byId.get(id)?.certificate);
}

export async function endRequest(api: ApiClient, requestId: string, status: number): Promise<{ action: RecoveryOutcome["serverAction"]; status: number }> {
  try {
    const r = await api.setRequestStatus(requestId, "Abandoned");
    return { action: "abandoned", status: r.status };
  } catch (err) {
    // Not every server lets a request that never started executing be abandoned; cancel it.
    const refused = err instanceof ApiError && (err.status === 409 || err.status === 400);
    if (!refused || (status !== RequestStatus.Approved && status !== RequestStatus.Pending)) throw err;
    const r = await api.setRequestStatus(requestId, "Canceled");
    return { action: "canceled", status: r.status };
  }
}

/**
 * Ends a request this run created or continued and could not finish: Abandoned (or Canceled
 * when the server refuses that). A request already in a final state is left as it is.
 */
export async function endUnfinishedRequest(api: ApiClient, requestId: string): Promise<number> {
  const request = await api.getRequest(requestId);
  if (FINAL_REQUEST_STATUSES.includes(request.status)) return request.status;
  return (await endRequest(api, requestId, request.status)).status;
}

/**
 * Resolves the card's journal with the server and cleans the card. Throws only when the card
 * itself cannot be written; server problems leave the journal in place and say so.
 */
export async function resolveInterruptedEnrollment(api: ApiClient, store: CardStore, locked: LockedCard): Promise<RecoveryOutcome | null> {
  const { card, path } = locked;
  const journal = card.journal;
  if (!journal) return null;
  const outcome: RecoveryOutcome = {
    cardId: card.cardId,
    requestId: journal.requestId,
    requestStatus: null,
    serverAction: "none",
    removedContainers: 0,
    cardDeleted: false,
    resolved: false,
    message: "",
  };

  let finished = false;
  try {
    const request = await api.getRequest(journal.requestId);
    outcome.requestStatus = request.status;
    const installed = allInstalled(card, journal);
    if (request.status === RequestStatus.Executing && installed && (journal.step === "install" || journal.step === "complete")) {
      const done = await api.setRequestStatus(journal.requestId, "Completed");
      outcome.requestStatus = done.status;
      outcome.serverAction = "completed";
      finished = true;
    } else if (request.status === RequestStatus.Completed) {
      finished = installed;
    } else if (!FINAL_REQUEST_STATUSES.includes(request.status)) {
      const ended = await endRequest(api, journal.requestId, request.status);
      outcome.serverAction = ended.action;
      outcome.requestStatus = ended.status;
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      outcome.serverAction = "not-found";
    } else if (err instanceof ApiError || err instanceof NetworkError) {
      outcome.message =
        `request ${journal.requestId} could not be ended on the server (${err.message}); ` +
        `card ${card.cardId} keeps its journal and the next enroll will try again`;
      outcome.error = err;
      return outcome;
    } else {
      throw err;
    }
  }

  if (!finished) {
    const present = new Set(card.containers().map((c) => c.id));
    for (const id of journal.containerIds) {
      if (present.has(id)) {
        card.deleteContainer(id);
        outcome.removedContainers++;
      }
    }
  }
  if (!finished && journal.createdCard && card.containers().length === 0) {
    store.remove(path);
    outcome.cardDeleted = true;
  } else {
    card.setJournal(null);
  }
  outcome.resolved = true;
  outcome.message = describe(outcome);
  return outcome;
}

function describe(o: RecoveryOutcome): string {
  const server =
    o.serverAction === "completed"
      ? `request ${o.requestId} completed`
      : o.serverAction === "abandoned" || o.serverAction === "canceled"
        ? `request ${o.requestId} marked ${requestStatusName(o.requestStatus ?? 0)}`
        : o.serverAction === "not-found"
          ? `request ${o.requestId} is not known to the server`
          : `request ${o.requestId} was already ${requestStatusName(o.requestStatus ?? 0)}`;
  const local = o.cardDeleted
    ? `unfinished card ${o.cardId} deleted`
    : o.removedContainers > 0
      ? `${o.removedContainers} orphan key container${o.removedContainers === 1 ? "" : "s"} removed from card ${o.cardId}`
      : `card ${o.cardId} left as it was`;
  return `${server}; ${local}`;
}

/** Card files in the store with an unfinished enrollment for this server and user. */
export function cardsWithJournals(store: CardStore, server: string, user: string): string[] {
  return store
    .list()
    .filter((e) => {
      const j = e.card?.journal;
      return j && j.server === server && j.user.toLowerCase() === user.toLowerCase();
    })
    .map((e) => e.path);
}

/**
 * Resolves every card in the store left with an unfinished enrollment for this server and user.
 * A card locked by a live process is another enrollment in progress and is left alone.
 */
export async function recoverInterruptedEnrollments(
  api: ApiClient,
  store: CardStore,
  steps: StepRunner,
  skipPath?: string,
): Promise<RecoveryOutcome[]> {
  const outcomes: RecoveryOutcome[] = [];
  for (const path of cardsWithJournals(store, api.baseUrl, api.user)) {
    if (path === skipPath) continue;
    let locked: LockedCard;
    try {
      locked = store.openLocked(path);
    } catch (err) {
      if (err instanceof CardBusyError) {
        steps.notice(`${err.message}; its enrollment is still running and is left alone`);
        continue;
      }
      throw err;
    }
    try {
      const outcome = await steps.run("recover", `Resolve interrupted enrollment of card ${locked.card.cardId}`, () =>
        resolveInterruptedEnrollment(api, store, locked), (o) => o?.message,
      );
      if (outcome) {
        outcomes.push(outcome);
        if (!outcome.resolved) steps.notice(outcome.message);
      }
    } finally {
      locked.release();
    }
  }
  return outcomes;
}
