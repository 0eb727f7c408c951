// Smart card use cases: binding a card to a request, reading cards, and releasing admin keys
// and challenge responses under the rules of SPEC §9.
import { requiredFirst, type RequestRow, type SmartcardRow, type Store } from "../../store/store.js";
import type { Caller } from "../caller.js";
import { recordAudit } from "../audit.js";
import { CertificateStatus, RequestStatus, SmartcardStatus, WorkflowTypes, enumByName, operationName } from "../enums.js";
import { CrlReason } from "./request-effects.js";
import { generatePin } from "../pin.js";
import { open as openSealed, seal } from "../../crypto/envelope.js";
import { badInput, conflict, DomainError, forbidden, notFound } from "../errors.js";
import { newGuid, parseGuid } from "../guid.js";
import { ADMIN_KEY_WORKFLOWS, smartcardStatesFor } from "../credential-lifecycle.js";
import { ACTIVE_STATUSES, assertTransition } from "../request-lifecycle.js";
import { isSmartcardTemplate, type ProfileTemplate } from "../templates.js";
import { challengeResponse, deriveAdminKey, parseAdminKeyHex } from "../../crypto/adminkey.js";
import { RecentAdminKeys } from "./recent-admin-keys.js";
import type { Actor, AppContext } from "./context.js";
import { requestFacts, workflowOf, type RequestService } from "./requests.js";
import { findUser } from "./users.js";

/** The ATR of a TPM virtual smart card, assumed when a client binds a virtual card without one. */
export const TPM_VSC_ATR = "3b8d0180fba000000397425446590301c8";
const ATR_RE = /^(?:[0-9a-f]{2}){2,33}$/i;

export class SmartcardService {
  private readonly recentKeys = new RecentAdminKeys();

  constructor(
    private readonly ctx: AppContext,
    private readonly requests: RequestService,
  ) {}

  /** `POST /smartcards`: a card is bound to an approved request; idempotent for the same card. */
  async bind(actor: Actor, input: { requestId: string; cardId: string; atr?: string }): Promise<SmartcardRow> {
    const { store, permissions, catalog } = this.ctx;
    const caller = actor.caller;
    const requestUuid = parseGuid(input.requestId);
    if (!requestUuid) throw badInput("InvalidGuid", "requestid: not a GUID");
    const cardId = parseGuid(input.cardId);
    if (!cardId) throw badInput("InvalidGuid", "cardid: not a GUID");
    const atr = (input.atr ?? "").trim().toLowerCase();
    if (atr !== "" && !ATR_RE.test(atr)) throw badInput("InvalidAtr", "atr: hexadecimal bytes expected");
    // Read together (one round trip on PostgreSQL); the cards count only once the request may be seen.
    const [requestRow, existing, byCardId] = await store.bindingFacts(requestUuid, cardId);
    const r = this.requests.visible(caller, requestRow);
    const t = catalog.get(r.template_uuid)!;
    if (!permissions.mayExecute(caller, t, requestFacts(r))) throw forbidden("NotAuthorized", "you may not execute this request");
    if (!isSmartcardTemplate(t)) throw conflict("NotASmartcardRequest", "the request's profile template is not for smart cards");
    const workflow = workflowOf(r);
    if (!["Enroll", "Duplicate", "TemporaryEnroll", "Renew"].includes(workflow))
      throw conflict("NoCardToBind", `a ${workflow} request works on its existing card`);

    if (r.new_smartcard_uuid && r.new_smartcard_uuid === r.old_smartcard_uuid) {
      // Renew onto the same card: nothing to bind, the card must be the request's.
      const same = (await store.smartcardByUuid(r.new_smartcard_uuid))!;
      if (same.card_id !== cardId) throw conflict("CardMismatch", "this request renews its existing card; bind that card");
      return same;
    }
    if (existing) {
      if (existing.card_id === cardId) return existing;
      throw conflict("CardAlreadyBound", "another card is already bound to this request");
    }
    assertTransition(r.status, "execute");
    const live = byCardId.filter((c) =>
      [SmartcardStatus.Assigned, SmartcardStatus.Active, SmartcardStatus.Suspended].includes(c.status as 2 | 3 | 5),
    );
    // A parallel call for the same request and card may have bound it since the read above.
    const boundMeanwhile = live.find((c) => c.request_uuid === r.uuid);
    if (boundMeanwhile) return boundMeanwhile;
    if (live.length > 0) throw conflict("CardInUse", "this card is already in use; retire it first");
    const keyVersion = t.smartcard!.diversifyAdminKey ? (await this.ctx.masterSecrets.current(t.uuid)).version : null;
    const now = new Date().toISOString();
    const row: SmartcardRow = {
      uuid: newGuid(),
      card_id: cardId,
      status: SmartcardStatus.Assigned,
      flags: 1,
      parent_uuid: null,
      primary_uuid: null,
      permanent_uuid: null,
      assigned_user_uuid: r.target_uuid,
      template_uuid: t.uuid,
      template_version: t.version,
      key_version: keyVersion,
      // The card names the agent who enrolled it for its user (AssignedUserUuid).
      comment: r.originator_uuid !== r.target_uuid ? `enrolled by ${caller.name} on behalf of the user` : "",
      atr: atr || (t.kind === "virtualSmartcard" ? TPM_VSC_ATR : ""),
      middleware: "MSBaseCSP",
      request_uuid: r.uuid,
      created_at: now,
      updated_at: now,
    };
    const audited = (tx: Store) =>
      recordAudit(tx, {
        actorUuid: caller.uuid,
        actorName: caller.name,
        action: "smartcard.bind",
        targetType: "smartcard",
        targetUuid: row.uuid,
        requestUuid: r.uuid,
        correlationId: actor.correlationId,
        outcome: "success",
        details: { cardId, user: r.target_uuid },
      });
    const binding = { new_smartcard_uuid: row.uuid, status: RequestStatus.Executing, updated_at: now };
    return requiredFirst(
      () =>
        store.tx(async (tx) => {
          await tx.insertSmartcardRequired(row);
          await tx.updateRequestRequired(r.uuid, binding, [...ACTIVE_STATUSES]);
          await audited(tx);
          return row;
        }),
      // Another bind raced this one, or the request changed state: find out which.
      () =>
        store.tx(async (tx) => {
          // The unique indexes decide between binds racing for this request or this card id: the
          // loser's insert waits for the winner's commit, then finds its card.
          if (!(await tx.insertSmartcard(row))) {
            const other = await tx.smartcardByRequest(r.uuid);
            // No card on this request: the card id went live on another request meanwhile.
            if (!other) throw conflict("CardInUse", "this card is already in use; retire it first");
            if (other.card_id === cardId) return other;
            throw conflict("CardAlreadyBound", "another card is already bound to this request");
          }
          // Compare-and-set on the status (on PostgreSQL it waits for and locks the row): a request
          // canceled or completed since the read above is not bound, and the card goes with the rollback.
          if (!(await tx.updateRequest(r.uuid, binding, [...ACTIVE_STATUSES]))) {
            assertTransition((await tx.requestByUuid(r.uuid))?.status ?? -1, "execute");
            throw conflict("InvalidRequestState", "the request changed state meanwhile; read it again");
          }
          await audited(tx);
          return row;
        }),
    );
  }

  async get(caller: Caller, uuidInput: string): Promise<SmartcardRow> {
    const uuid = parseGuid(uuidInput);
    const card = uuid && (await this.ctx.store.smartcardByUuid(uuid));
    if (!card || !this.visible(caller, card)) throw notFound("smart card");
    return card;
  }

  async list(caller: Caller, q: { cardId?: string; targetUser?: string; top: number; skip: number }): Promise<SmartcardRow[]> {
    const page = { top: q.top, skip: q.skip };
    if (q.targetUser !== undefined && q.targetUser.trim() !== "") {
      // The helpdesk finds a user's cards: only those of templates that name the caller show.
      const user = await findUser(this.ctx.store, q.targetUser);
      if (!user) return [];
      return (await this.ctx.store.listSmartcards({ userUuid: user.uuid, page })).filter((c) => this.visible(caller, c));
    }
    if (q.cardId !== undefined) {
      const cardId = parseGuid(q.cardId);
      if (!cardId) throw badInput("InvalidGuid", "cardid: not a GUID");
      // The published API reference describes `cardid` as the record's uuid, clients send the
      // card's own id (SerialNumber): accept either.
      let rows = await this.ctx.store.listSmartcards({ cardId, page });
      if (rows.length === 0) {
        const byUuid = await this.ctx.store.smartcardByUuid(cardId);
        rows = byUuid ? [byUuid] : [];
      }
      return rows.filter((c) => this.visible(caller, c));
    }
    if (this.ctx.permissions.isAuditor(caller)) return this.ctx.store.listSmartcards({ page });
    return this.ctx.store.listSmartcards({ userUuid: caller.uuid, page });
  }

  /** The card within a request (`/requests/{r}/smartcards/{s}`): it must be that request's card. */
  async inRequest(caller: Caller, requestInput: string, cardInput: string): Promise<{ request: RequestRow; card: SmartcardRow }> {
    const { store } = this.ctx;
    const uuid = parseGuid(requestInput);
    if (!uuid) throw notFound("request");
    const scid = parseGuid(cardInput);
    // Read together (one round trip on PostgreSQL); the card counts only as the visible request's.
    const [row, card] = scid ? await store.requestAndCard(uuid, scid) : [await store.requestByUuid(uuid), undefined];
    const r = this.requests.visible(caller, row);
    if (!scid || (scid !== r.new_smartcard_uuid && scid !== r.old_smartcard_uuid) || !card) throw notFound("smart card");
    return { request: r, card };
  }

  /** Operations the caller may start on the card now (lower-case names). */
  operations(caller: Caller, card: SmartcardRow): string[] {
    const t = this.ctx.catalog.get(card.template_uuid);
    if (!t) return [];
    return WorkflowTypes.filter(
      (w) => smartcardStatesFor[w]?.includes(card.status) && this.ctx.permissions.mayInitiate(caller, t, w, card.assigned_user_uuid).ok,
    ).map(operationName);
  }

  /**
   * Releases the card's diversified admin key (`kind: "key"`) or a challenge response. Every rule
   * of SPEC §9 is checked here; a refusal reveals nothing about the key.
   */
  async release(actor: Actor, input: ReleaseInput): Promise<Buffer> {
    try {
      return await this.releaseChecked(actor, input);
    } catch (e) {
      // A refused release of a visible request is on record as an attempt (bound refusals already are).
      if (e instanceof DomainError && e.kind === "forbidden" && e.code !== "ReleaseBoundReached") {
        const r = await this.ctx.store.requestByUuid(parseGuid(input.requestId) ?? "");
        await recordAudit(this.ctx.store, {
          actorUuid: actor.caller.uuid,
          actorName: actor.caller.name,
          action: input.kind === "key" ? "smartcard.diversifiedkey" : "smartcard.authenticationresponse",
          targetType: "smartcard",
          targetUuid: parseGuid(input.smartcardId) ?? null,
          requestUuid: r?.uuid ?? null,
          correlationId: actor.correlationId,
          outcome: "denied",
          details: { reason: e.code },
        });
      }
      throw e;
    }
  }

  private async releaseChecked(actor: Actor, input: ReleaseInput): Promise<Buffer> {
    const { store, permissions, catalog } = this.ctx;
    const caller = actor.caller;
    const { request: r, card } = await this.inRequest(caller, input.requestId, input.smartcardId);
    const t = catalog.get(r.template_uuid)!;
    const workflow = workflowOf(r);
    const offline = permissions.mayAnswerOffline(caller, t, requestFacts(r));
    if (!permissions.mayExecute(caller, t, requestFacts(r)) && !offline) throw forbidden("NotAuthorized", "you may not obtain keys for this request");
    if (!ADMIN_KEY_WORKFLOWS.includes(workflow)) throw forbidden("NotAuthorized", `a ${workflow} request does not release card keys`);
    if (!ACTIVE_STATUSES.includes(r.status)) throw conflict("InvalidRequestState", "keys are released only while the request is Approved or Executing");
    const cardId = parseGuid(input.cardId);
    if (!cardId) throw badInput("InvalidGuid", "cardid: not a GUID");
    if (cardId !== card.card_id) throw forbidden("CardMismatch", "cardid does not match the card bound to this request");
    const sc = t.smartcard!;

    let diversified: boolean;
    let challenge: Buffer | undefined;
    if (input.kind === "key") {
      if (!sc.diversifyAdminKey) throw conflict("NotDiversified", "this profile template does not diversify admin keys");
      if (offline && !permissions.mayExecute(caller, t, requestFacts(r))) throw forbidden("NotAuthorized", "offline unblock releases responses, not keys");
      diversified = true;
    } else {
      diversified = parseBool(input.diversified ?? "false");
      challenge = parseChallenge(input.challenge);
      if (diversified && !sc.diversifyAdminKey) throw conflict("NotDiversified", "this profile template does not diversify admin keys");
    }
    // The diversified key released is the one the card should now get (current master secret
    // version); a diversified response uses the key the card holds (its recorded version, read
    // as current when it records none). The current version is read only when it decides.
    const recorded = input.kind === "key" ? null : card.key_version;
    const version = diversified ? (recorded ?? (await this.ctx.masterSecrets.current(t.uuid)).version) : undefined;
    const key = diversified ? await this.derivedKey(t, card, version!) : parseAdminKeyHex(sc.defaultAdminKeyHex);
    // Offline unblock answers one challenge read out over the phone, whoever started the request.
    const bound = workflow === "OfflineUnblock" ? 1 : sc.maxResponsesPerRequest;

    // Count the release and move the request to Executing.
    const move = {
      from: [RequestStatus.Approved, RequestStatus.Executing] as [number, number],
      to: RequestStatus.Executing,
      at: new Date().toISOString(),
      keyVersion: input.kind === "key" ? version! : null,
    };
    const audited = (tx: Store, taken: boolean) =>
      recordAudit(tx, {
        actorUuid: caller.uuid,
        actorName: caller.name,
        action: input.kind === "key" ? "smartcard.diversifiedkey" : "smartcard.authenticationresponse",
        targetType: "smartcard",
        targetUuid: card.uuid,
        requestUuid: r.uuid,
        correlationId: actor.correlationId,
        outcome: taken ? "success" : "denied",
        details: { cardId, diversified, keyVersion: diversified ? version : null, ...(taken ? {} : { reason: "release bound reached" }) },
      });
    const taken = await requiredFirst(
      () =>
        store.tx(async (tx) => {
          await tx.takeResponseReleaseRequired(r.uuid, bound, move, r.status);
          await audited(tx, true);
          return true;
        }),
      // Nothing was counted (the bound reached, or the request moved on meanwhile): find out which.
      () =>
        store.tx(async (tx) => {
          const taken = await tx.takeResponseReleaseAndMove(r.uuid, bound, move, r.status);
          if (!taken) {
            const cur = (await tx.requestByUuid(r.uuid, true))!;
            if (!ACTIVE_STATUSES.includes(cur.status)) throw conflict("InvalidRequestState", "keys are released only while the request is Approved or Executing");
          }
          await audited(tx, taken);
          return taken;
        }),
    );
    // The denial is audited (committed) before it is reported.
    if (!taken) throw forbidden("ReleaseBoundReached", "the number of key releases for this request is exhausted");
    if (input.kind === "key") return key;
    return challengeResponse(key, challenge!);
  }

  /**
   * `PUT /requests/{r}/smartcards/{s}`: the client reports the card's state within the request,
   * e.g. Retired after wiping it. Retiring or disabling revokes the card's certificates.
   */
  async setStatusInRequest(actor: Actor, requestInput: string, cardInput: string, statusInput: string): Promise<SmartcardRow> {
    const caller = actor.caller;
    const { request: r, card } = await this.inRequest(caller, requestInput, cardInput);
    const t = this.ctx.catalog.get(r.template_uuid)!;
    if (!this.ctx.permissions.mayExecute(caller, t, requestFacts(r))) throw forbidden("NotAuthorized", "you may not execute this request");
    const name = enumByName(SmartcardStatus, statusInput);
    if (name !== "Retired" && name !== "Disabled") throw badInput("InvalidStatus", 'status: "Retired" or "Disabled"');
    if (!ACTIVE_STATUSES.includes(r.status)) throw conflict("InvalidRequestState", "the request is not Approved or Executing");
    const status = SmartcardStatus[name];
    if (card.status === status) return card;
    const from = [SmartcardStatus.Assigned, SmartcardStatus.Active, SmartcardStatus.Suspended, SmartcardStatus.Disabled];
    const now = new Date().toISOString();
    const updated = await this.ctx.store.tx(async (tx) => {
      if (!(await tx.updateSmartcard(card.uuid, { status, updated_at: now }, from)))
        throw conflict("InvalidCredentialState", "the card's state does not allow this change");
      for (const c of await tx.certificatesOfSmartcard(card.uuid))
        await tx.updateCertificate(c.serial, { status: CertificateStatus.Revoked, revoked_at: now, revocation_reason: CrlReason.cessationOfOperation }, [
          CertificateStatus.Valid,
          CertificateStatus.OnHold,
        ]);
      await recordAudit(tx, {
        actorUuid: caller.uuid,
        actorName: caller.name,
        action: "smartcard.status",
        targetType: "smartcard",
        targetUuid: card.uuid,
        requestUuid: r.uuid,
        correlationId: actor.correlationId,
        outcome: "success",
        details: { status: name },
      });
      return (await tx.smartcardByUuid(card.uuid))!;
    });
    await this.ctx.ca.publishCrl();
    return updated;
  }

  /**
   * A server-generated PIN for the card of the caller's open request, when the template's PIN
   * option says so. ServerDistributed keeps it sealed for later distribution; Randomized keeps none.
   */
  async serverProposedPin(actor: Actor, cardInput: string): Promise<string> {
    const caller = actor.caller;
    const card = await this.get(caller, cardInput);
    const t = this.ctx.catalog.get(card.template_uuid)!;
    const option = t.smartcard?.userPinOption;
    if (option !== "ServerDistributed" && option !== "Randomized") throw conflict("NoServerPin", "this profile template does not use server-generated PINs");
    const open = (await this.ctx.store.openRequestsForCredential(card.uuid)).find(
      (r) => ACTIVE_STATUSES.includes(r.status) && this.ctx.permissions.mayExecute(caller, t, requestFacts(r)),
    );
    if (!open) throw conflict("NoOpenRequest", "a server-generated PIN is released only within an approved request for this card");
    let pin: string;
    const aad = `openclm:pin:${card.uuid}`;
    const stored = option === "ServerDistributed" ? await this.ctx.store.pinOf(card.uuid) : undefined;
    if (stored) pin = openSealed(this.ctx.kek, stored, aad).toString("utf8");
    else {
      pin = generatePin(t.smartcard!.userPinPolicy);
      if (option === "ServerDistributed") await this.ctx.store.putPin(card.uuid, seal(this.ctx.kek, Buffer.from(pin, "utf8"), aad), new Date().toISOString());
    }
    await recordAudit(this.ctx.store, {
      actorUuid: caller.uuid,
      actorName: caller.name,
      action: "smartcard.serverproposedpin",
      targetType: "smartcard",
      targetUuid: card.uuid,
      requestUuid: open.uuid,
      correlationId: actor.correlationId,
      outcome: "success",
      details: { option },
    });
    return pin;
  }

  private derivedKey(t: ProfileTemplate, card: SmartcardRow, version: number): Promise<Buffer> {
    return this.recentKeys.get(t.uuid, version, card.card_id, async () => {
      const secret = await this.ctx.masterSecrets.get(t.uuid, version);
      if (!secret) throw new Error(`master secret version ${version} of template ${t.uuid} is missing`);
      return deriveAdminKey(secret, t.uuid, card.card_id);
    });
  }

  private visible(caller: Caller, card: SmartcardRow): boolean {
    return this.ctx.permissions.maySeeCredential(caller, this.ctx.catalog.get(card.template_uuid), { assignedUserUuid: card.assigned_user_uuid });
  }
}

type ReleaseInput =
  | { requestId: string; smartcardId: string; cardId: string; kind: "key" }
  | { requestId: string; smartcardId: string; cardId: string; kind: "response"; challenge: string; diversified: string | undefined };

export function parseBool(v: string): boolean {
  const s = v.trim().toLowerCase();
  if (s === "true" || s === "1" || s === "yes") return true;
  if (s === "false" || s === "0" || s === "no" || s === "") return false;
  throw badInput("InvalidBoolean", "diversified: true or false");
}

/** The card's challenge: base64 of exactly 8 bytes (the walkthrough's 7-byte hex is refused here). */
export function parseChallenge(input: string | undefined): Buffer {
  const text = (input ?? "").trim();
  if (!/^[A-Za-z0-9+/]{11}(=?)$/.test(text) && !/^[A-Za-z0-9_-]{11}$/.test(text))
    throw badInput("InvalidChallenge", "challenge: must be the base64 encoding of the card's 8-byte challenge");
  const bytes = Buffer.from(text, text.includes("-") || text.includes("_") ? "base64url" : "base64");
  if (bytes.length !== 8) throw badInput("InvalidChallenge", "challenge: must be the base64 encoding of the card's 8-byte challenge");
  return bytes;
}

