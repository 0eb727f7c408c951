// What completing or abandoning a request does to its cards, profiles and certificates (SPEC §7.3).
// Runs inside the transaction that moves the request, so the effect and the state change are one.
import { RequiredChangeMissing, type CertificateRow, type RequestRow, type Store } from "../../store/store.js";
import { CertificateStatus, ProfileStatus, SmartcardStatus, parseWorkflowType, type WorkflowType } from "../enums.js";
import { conflict } from "../errors.js";
import { clientKeyedCertificates, isSmartcardTemplate, type ProfileTemplate } from "../templates.js";
import type { AppContext } from "./context.js";
import { ISSUING_WORKFLOWS } from "../credential-lifecycle.js";

/** RFC 5280 CRLReason codes used by the workflows. */
export const CrlReason = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
} as const;

const C = SmartcardStatus;
const P = ProfileStatus;
const LIVE = [CertificateStatus.Valid, CertificateStatus.OnHold];

/**
 * `required`: the completion's conditions are required changes (Store's …Required), which fail the
 * transaction with RequiredChangeMissing when one does not hold, instead of being read and checked
 * here: on PostgreSQL they go out with the request's update, its audit record and the COMMIT, one
 * round trip. The caller then runs the completion again without them, checking each condition in
 * order, so the first that fails is the one reported.
 */
type Effect = (ctx: AppContext, tx: Store, r: RequestRow, t: ProfileTemplate, now: string, required: boolean) => Promise<void>;

/** Every certificate the request should have issued is there. */
async function requireIssued(tx: Store, r: RequestRow, t: ProfileTemplate, required = false): Promise<void> {
  const expected = isSmartcardTemplate(t) ? clientKeyedCertificates(t).length : t.certificates.length;
  if (required) return tx.certificateCountAtLeastRequired(r.uuid, expected);
  const issued = await tx.certificateCountOfRequest(r.uuid);
  if (issued < expected) throw conflict("IncompleteRequest", `the request cannot complete: ${issued} of ${expected} certificates issued`);
}

const NO_CARD = () => conflict("IncompleteRequest", "the request cannot complete: no smart card is bound to it");

async function newCard(tx: Store, r: RequestRow) {
  const card = r.new_smartcard_uuid ? await tx.smartcardByUuid(r.new_smartcard_uuid) : undefined;
  if (!card) throw NO_CARD();
  return card;
}

/** The request's new card becomes Active (read only by the update that changes it). */
async function activateNewCard(tx: Store, r: RequestRow, patch: Parameters<Store["updateSmartcard"]>[1], required: boolean): Promise<void> {
  const uuid = r.new_smartcard_uuid;
  // Required: a missing card is reported by the run without required changes, after the certificates.
  if (!uuid) throw required ? new RequiredChangeMissing() : NO_CARD();
  if (required) return tx.updateSmartcardRequired(uuid, { status: C.Active, ...patch });
  if (!(await tx.updateSmartcard(uuid, { status: C.Active, ...patch }))) throw NO_CARD();
}

async function certificatesOf(tx: Store, credential: { card?: string | null; profile?: string | null }): Promise<CertificateRow[]> {
  if (credential.card) return tx.certificatesOfSmartcard(credential.card);
  if (credential.profile) return tx.certificatesOfProfile(credential.profile);
  return [];
}

async function setCertificates(tx: Store, certs: CertificateRow[], status: number, reason: number | null, now: string, from = LIVE): Promise<void> {
  for (const c of certs)
    await tx.updateCertificate(c.serial, { status, revoked_at: reason === null ? null : now, revocation_reason: reason }, from);
}

/** Old certificates of the credential, other than the ones this request issued, become superseded. */
async function supersedeOld(tx: Store, r: RequestRow, now: string): Promise<void> {
  const old = (await certificatesOf(tx, { card: r.old_smartcard_uuid, profile: r.old_profile_uuid })).filter((c) => c.request_uuid !== r.uuid);
  await setCertificates(tx, old, CertificateStatus.Superseded, CrlReason.superseded, now);
}

async function revokeCredential(tx: Store, r: RequestRow, reason: number, now: string): Promise<void> {
  await setCertificates(tx, await certificatesOf(tx, { card: r.old_smartcard_uuid, profile: r.old_profile_uuid }), CertificateStatus.Revoked, reason, now);
}

async function setCredentialStatus(tx: Store, r: RequestRow, card: number, profile: number, now: string): Promise<void> {
  if (r.old_smartcard_uuid) await tx.updateSmartcard(r.old_smartcard_uuid, { status: card, updated_at: now });
  if (r.old_profile_uuid) await tx.updateProfile(r.old_profile_uuid, { status: profile, updated_at: now });
}

/** The card takes the admin key version released in this request (Renew, OnlineUpdate). */
async function moveKeyVersion(tx: Store, r: RequestRow, cardUuid: string, t: ProfileTemplate, now: string): Promise<void> {
  const patch: Parameters<Store["updateSmartcard"]>[1] = { template_version: t.version, updated_at: now };
  if (r.new_key_version !== null) patch.key_version = r.new_key_version;
  await tx.updateSmartcard(cardUuid, patch);
}

const effects: Partial<Record<WorkflowType, Effect>> = {
  Enroll: async (_ctx, tx, r, t, now, required) => {
    if (isSmartcardTemplate(t)) {
      await requireIssued(tx, r, t, required);
      await activateNewCard(tx, r, { updated_at: now }, required);
    } else {
      await requireIssued(tx, r, t);
      const profile = r.new_profile_uuid ? await tx.profileByUuid(r.new_profile_uuid) : undefined;
      if (!profile) throw conflict("IncompleteRequest", "the request cannot complete: no profile was issued");
      await tx.updateProfile(profile.uuid, { status: P.Active, updated_at: now });
    }
  },
  Duplicate: async (_ctx, tx, r, t, now, required) => {
    await requireIssued(tx, r, t, required);
    await activateNewCard(tx, r, { flags: 0, parent_uuid: r.old_smartcard_uuid, primary_uuid: r.old_smartcard_uuid, updated_at: now }, required);
  },
  TemporaryEnroll: async (_ctx, tx, r, t, now, required) => {
    await requireIssued(tx, r, t, required);
    await activateNewCard(tx, r, { flags: 0, permanent_uuid: r.old_smartcard_uuid, updated_at: now }, required);
    // The permanent card is suspended: its certificates on hold until it is reinstated or retired.
    await setCertificates(tx, await certificatesOf(tx, { card: r.old_smartcard_uuid }), CertificateStatus.OnHold, CrlReason.certificateHold, now, [CertificateStatus.Valid]);
    await tx.updateSmartcard(r.old_smartcard_uuid!, { status: C.Suspended, updated_at: now });
  },
  Renew: async (_ctx, tx, r, t, now) => {
    await requireIssued(tx, r, t);
    await supersedeOld(tx, r, now);
    if (isSmartcardTemplate(t)) {
      const card = await newCard(tx, r);
      if (card.uuid === r.old_smartcard_uuid) await moveKeyVersion(tx, r, card.uuid, t, now);
      else {
        await tx.updateSmartcard(card.uuid, { status: C.Active, parent_uuid: r.old_smartcard_uuid, updated_at: now });
        await tx.updateSmartcard(r.old_smartcard_uuid!, { status: C.Retired, updated_at: now });
      }
    } else if (r.old_profile_uuid) await tx.updateProfile(r.old_profile_uuid, { template_version: t.version, updated_at: now });
  },
  OnlineUpdate: async (_ctx, tx, r, t, now) => {
    await requireIssued(tx, r, t);
    await supersedeOld(tx, r, now);
    await moveKeyVersion(tx, r, r.old_smartcard_uuid!, t, now);
  },
  // The card itself is unblocked with the released response; completing closes the request.
  Unblock: async () => {},
  OfflineUnblock: async () => {},
  Recover: async () => {},
  RecoverOnBehalf: async () => {},
  Retire: async (_ctx, tx, r, _t, now) => {
    await revokeCredential(tx, r, CrlReason.cessationOfOperation, now);
    await setCredentialStatus(tx, r, C.Retired, P.Retired, now);
    await retireTemporaryCards(tx, r, now);
  },
  Revoke: async (_ctx, tx, r, _t, now) => {
    await revokeCredential(tx, r, r.revocation_reason ?? CrlReason.unspecified, now);
    await setCredentialStatus(tx, r, C.Disabled, P.Disabled, now);
  },
  Disable: async (_ctx, tx, r, _t, now) => {
    await revokeCredential(tx, r, CrlReason.cessationOfOperation, now);
    await setCredentialStatus(tx, r, C.Disabled, P.Disabled, now);
  },
  Reinstate: async (_ctx, tx, r, _t, now) => {
    const held = (await certificatesOf(tx, { card: r.old_smartcard_uuid, profile: r.old_profile_uuid })).filter((c) => c.status === CertificateStatus.OnHold);
    await setCertificates(tx, held, CertificateStatus.Valid, null, now, [CertificateStatus.OnHold]);
    await setCredentialStatus(tx, r, C.Active, P.Active, now);
    await retireTemporaryCards(tx, r, now);
  },
};

/** When the permanent card comes back (or is retired), its temporary cards end. */
async function retireTemporaryCards(tx: Store, r: RequestRow, now: string): Promise<void> {
  if (!r.old_smartcard_uuid) return;
  for (const temp of await tx.temporaryCardsOf(r.old_smartcard_uuid)) {
    await setCertificates(tx, await tx.certificatesOfSmartcard(temp.uuid), CertificateStatus.Revoked, CrlReason.cessationOfOperation, now);
    await tx.updateSmartcard(temp.uuid, { status: C.Retired, updated_at: now });
  }
}

/** Workflows this server can carry to completion. */
export function supportsWorkflow(w: WorkflowType): boolean {
  return w in effects;
}

/** Completion changes certificates' revocation state (the CRL must be republished). */
export const REVOKING_WORKFLOWS: readonly WorkflowType[] = ["Renew", "OnlineUpdate", "TemporaryEnroll", "Retire", "Revoke", "Disable", "Reinstate"];

/** Runs the completion's effects in the transaction (`required`: see Effect). */
export async function completionEffects(ctx: AppContext, tx: Store, r: RequestRow, t: ProfileTemplate, required: boolean): Promise<void> {
  await effects[parseWorkflowType(r.workflow)!]!(ctx, tx, r, t, new Date().toISOString(), required);
}

/**
 * Canceled, Abandoned or Failed: revoke what the request issued and never activate its new
 * credential. Returns true when certificates were revoked (the CRL must be republished).
 */
export async function abandonEffects(tx: Store, r: RequestRow, now: string): Promise<boolean> {
  const w = parseWorkflowType(r.workflow)!;
  if (!ISSUING_WORKFLOWS.includes(w)) return false;
  const certs = await tx.certificatesOfRequest(r.uuid);
  await setCertificates(tx, certs, CertificateStatus.Revoked, CrlReason.cessationOfOperation, now);
  if (r.new_smartcard_uuid && r.new_smartcard_uuid !== r.old_smartcard_uuid)
    await tx.updateSmartcard(r.new_smartcard_uuid, { status: C.Retired, updated_at: now });
  if (r.new_profile_uuid && r.new_profile_uuid !== r.old_profile_uuid) await tx.updateProfile(r.new_profile_uuid, { status: P.Retired, updated_at: now });
  return certs.length > 0;
}
