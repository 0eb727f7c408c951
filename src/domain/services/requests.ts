// Request use cases: create, read, list, approve, and the status changes a client makes.
import { requiredFirst, type RequestRow } from "../../store/store.js";
import type { Caller } from "../caller.js";
import { recordAudit } from "../audit.js";
import { checkDataCollection, parseDataCollection } from "../datacollection.js";
import {
  RequestFlags,
  RequestStatus,
  enumByName,
  parseWorkflowType,
  requestTypeOfWorkflow,
  type WorkflowType,
} from "../enums.js";
import { badInput, conflict, forbidden, notFound } from "../errors.js";
import { newGuid, parseGuid } from "../guid.js";
import { CREATING_WORKFLOWS, profileStatesFor, smartcardStatesFor } from "../credential-lifecycle.js";
import { assertTransition, statusName } from "../request-lifecycle.js";
import { enabledPolicy, isSmartcardTemplate, type ProfileTemplate } from "../templates.js";
import type { Actor, AppContext } from "./context.js";
import { findUser } from "./users.js";
import { completionEffects, abandonEffects, CrlReason, REVOKING_WORKFLOWS, supportsWorkflow } from "./request-effects.js";

export interface CreateRequestInput {
  type: string;
  profileTemplateUuid?: string;
  smartcard?: string;
  profile?: string;
  target?: string;
  dataCollection: unknown;
  comment?: string;
  priority?: number;
  /** Revoke only: an RFC 5280 reason name (keyCompromise, affiliationChanged, superseded, cessationOfOperation, unspecified). */
  revocationReason?: string;
}

const REVOCATION_REASONS: Record<string, number> = {
  unspecified: CrlReason.unspecified,
  keycompromise: CrlReason.keyCompromise,
  affiliationchanged: CrlReason.affiliationChanged,
  superseded: CrlReason.superseded,
  cessationofoperation: CrlReason.cessationOfOperation,
};

export class RequestService {
  constructor(private readonly ctx: AppContext) {}

  async create(actor: Actor, input: CreateRequestInput): Promise<RequestRow> {
    const { store, catalog, permissions } = this.ctx;
    const caller = actor.caller;
    const workflow = parseWorkflowType(input.type);
    if (!workflow) throw badInput("InvalidRequestType", `type: unknown request type "${clip(input.type)}"`);

    let template: ProfileTemplate | undefined;
    let cardUuid: string | null = null;
    let profileUuid: string | null = null;
    let credentialOwner: string | undefined;

    if (CREATING_WORKFLOWS.includes(workflow) && input.profileTemplateUuid !== undefined) {
      const uuid = parseGuid(input.profileTemplateUuid);
      if (!uuid) throw badInput("InvalidGuid", "profiletemplateuuid: not a GUID");
      template = catalog.get(uuid);
      if (!template) throw notFound("profile template");
    }
    if (input.smartcard !== undefined && input.smartcard !== "") {
      const uuid = parseGuid(input.smartcard);
      if (!uuid) throw badInput("InvalidGuid", "smartcard: not a GUID");
      const card = await store.smartcardByUuid(uuid);
      const t = card && catalog.get(card.template_uuid);
      if (!card || !permissions.maySeeCredential(caller, t, { assignedUserUuid: card.assigned_user_uuid })) throw notFound("smart card");
      const allowed = smartcardStatesFor[workflow];
      if (!allowed) throw badInput("InvalidRequestType", `${workflow} does not apply to a smart card`);
      if (!allowed.includes(card.status)) throw conflict("InvalidCredentialState", `the smart card's state does not allow ${workflow}`);
      template ??= t;
      cardUuid = card.uuid;
      credentialOwner = card.assigned_user_uuid;
    } else if (input.profile !== undefined && input.profile !== "") {
      const uuid = parseGuid(input.profile);
      if (!uuid) throw badInput("InvalidGuid", "profile: not a GUID");
      const profile = await store.profileByUuid(uuid);
      const t = profile && catalog.get(profile.template_uuid);
      if (!profile || !permissions.maySeeCredential(caller, t, { assignedUserUuid: profile.assigned_user_uuid })) throw notFound("profile");
      const allowed = profileStatesFor[workflow];
      if (!allowed) throw badInput("InvalidRequestType", `${workflow} does not apply to a software profile`);
      if (!allowed.includes(profile.status)) throw conflict("InvalidCredentialState", `the profile's state does not allow ${workflow}`);
      template ??= t;
      profileUuid = profile.uuid;
      credentialOwner = profile.assigned_user_uuid;
    } else if (!CREATING_WORKFLOWS.includes(workflow)) {
      throw badInput("MissingField", `${workflow} needs "smartcard" or "profile"`);
    }
    if (!template) throw badInput("MissingField", "profiletemplateuuid: required for this request type");

    let targetUuid = credentialOwner ?? caller.uuid;
    if (input.target !== undefined && input.target.trim() !== "") {
      const target = await findUser(store, input.target);
      if (!target || target.disabled) throw badInput("UnknownUser", "target: no such user");
      if (credentialOwner && target.uuid !== credentialOwner) throw badInput("InvalidTarget", "target: the credential belongs to another user");
      targetUuid = target.uuid;
    }

    const decision = permissions.mayInitiate(caller, template, workflow, targetUuid);
    if (!decision.ok) throw forbidden("NotAuthorized", decision.reason);
    const policy = enabledPolicy(template, workflow)!;

    const items = checkDataCollection(parseDataCollection(input.dataCollection), policy.dataCollection);
    if (input.comment === undefined) throw badInput("MissingField", "comment: required (may be empty)");
    if (policy.collectComments && input.comment.trim() === "") throw badInput("MissingField", "comment: the policy requires a comment");
    if (input.comment.length > 1024) throw badInput("TooLong", "comment: at most 1024 characters");
    let priority = policy.defaultRequestPriority;
    if (policy.collectRequestPriority && input.priority !== undefined) {
      if (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > 255)
        throw badInput("InvalidPriority", "priority: an integer from 0 to 255");
      priority = input.priority;
    }

    let revocationReason: number | null = null;
    if (input.revocationReason !== undefined && input.revocationReason !== "") {
      if (workflow !== "Revoke") throw badInput("InvalidField", "revocationreason: only for Revoke requests");
      const reason = REVOCATION_REASONS[input.revocationReason.trim().toLowerCase()];
      if (reason === undefined)
        throw badInput("InvalidRevocationReason", "revocationreason: one of unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation");
      revocationReason = reason;
    }
    if (!supportsWorkflow(workflow)) throw badInput("UnsupportedWorkflow", `${workflow} requests are not supported by this server`);
    const now = new Date().toISOString();
    const row: RequestRow = {
      uuid: newGuid(),
      type: requestTypeOfWorkflow[workflow],
      workflow,
      status: policy.approvalsNeeded > 0 ? RequestStatus.Pending : RequestStatus.Approved,
      flags: (isSmartcardTemplate(template) ? RequestFlags.Smartcard : 0) | (decision.asAgent ? RequestFlags.EnrollmentAgent : 0),
      data_collection: JSON.stringify(items),
      originator_uuid: caller.uuid,
      target_uuid: targetUuid,
      submitted_at: now,
      completed_at: null,
      new_profile_uuid: profileUuid,
      old_profile_uuid: profileUuid,
      new_smartcard_uuid: cardUuid,
      old_smartcard_uuid: cardUuid,
      priority,
      comment: policy.collectComments ? input.comment : "",
      template_uuid: template.uuid,
      template_version: template.version,
      approvals_needed: policy.approvalsNeeded,
      responses_released: 0,
      new_key_version: null,
      csr_fingerprints: null,
      revocation_reason: revocationReason,
      updated_at: now,
    };
    if (CREATING_WORKFLOWS.includes(workflow)) {
      // The new credential comes from the request's execution (bind, or issuance for profiles).
      row.new_smartcard_uuid = null;
      row.new_profile_uuid = null;
      if (workflow === "TemporaryEnroll" && !row.old_smartcard_uuid) {
        const permanent = (await store.activeCardsOf(targetUuid, template.uuid)).find((c) => !c.permanent_uuid);
        if (!permanent) throw conflict("NoPermanentCard", "the user has no active card of this profile template to replace temporarily");
        row.old_smartcard_uuid = permanent.uuid;
      }
    } else if (workflow === "Renew" && cardUuid && !template.smartcard?.reuseCardOnRenew) {
      row.new_smartcard_uuid = null; // renewed onto a new card, bound later
    }
    await store.tx(async (tx) => {
      await tx.insertRequest(row);
      await recordAudit(tx, {
        actorUuid: caller.uuid,
        actorName: caller.name,
        action: "request.create",
        targetType: "request",
        targetUuid: row.uuid,
        requestUuid: row.uuid,
        correlationId: actor.correlationId,
        outcome: "success",
        details: { workflow, target: targetUuid, template: template!.uuid, status: statusName(row.status) },
      });
    });
    return row;
  }

  /** The request if the caller may see it; 404 otherwise. */
  async get(caller: Caller, uuidInput: string): Promise<RequestRow> {
    const uuid = parseGuid(uuidInput);
    return this.visible(caller, uuid ? await this.ctx.store.requestByUuid(uuid) : undefined);
  }

  /** The request if the caller may see it; a 404 alike for one that does not exist. */
  visible(caller: Caller, r: RequestRow | undefined): RequestRow {
    if (!r || !this.ctx.permissions.maySeeRequest(caller, this.ctx.catalog.get(r.template_uuid), requestFacts(r))) throw notFound("request");
    return r;
  }

  async list(
    caller: Caller,
    q: { status?: string; targetUser?: string; top: number; skip: number },
  ): Promise<RequestRow[]> {
    const { store, permissions } = this.ctx;
    let status: number | undefined;
    if (q.status !== undefined && q.status !== "") {
      const name = enumByName(RequestStatus, q.status);
      if (name === undefined) throw badInput("InvalidStatus", `status: unknown request status "${clip(q.status)}"`);
      status = RequestStatus[name];
    }
    let targetUuid: string | undefined;
    if (q.targetUser && q.targetUser.trim() !== "") {
      if (q.targetUser.trim().toLowerCase() === "current") targetUuid = caller.uuid;
      else {
        const u = await findUser(store, q.targetUser);
        if (!u) return [];
        targetUuid = u.uuid;
      }
    }
    const page = { top: q.top, skip: q.skip };
    if (permissions.isAuditor(caller)) return store.listRequests({ status, targetUuid, page });
    // Everyone sees their own; approvers and agents also see other people's requests of the
    // templates and workflows their policies name them in (pending ones, unless a status is
    // asked for). One query, paged in the database, however long the queue grows.
    const grants = this.ctx.catalog
      .all()
      .map((t) => ({
        templateUuid: t.uuid,
        workflows: Object.keys(t.policies)
          .map((w) => parseWorkflowType(w))
          .filter((w): w is NonNullable<typeof w> => !!w && permissions.maySeeRequest(caller, t, { originatorUuid: "", targetUuid: "", flags: 0, workflow: w })),
      }))
      .filter((g) => g.workflows.length > 0);
    return store.listRequests({
      visibleTo: caller.uuid,
      shared: { grants, status: status === undefined ? RequestStatus.Pending : undefined },
      status,
      targetUuid,
      page,
    });
  }

  /** The request's approval decisions; only a request that needed approvals was ever Pending and can have any. */
  async approvals(r: RequestRow) {
    return r.approvals_needed > 0 ? this.ctx.store.approvalsOf(r.uuid) : [];
  }

  /** One approver's decision; distinct approvers are counted in the database, once each. */
  async decide(actor: Actor, uuidInput: string, decisionInput: string, comment: string): Promise<RequestRow> {
    const { store, catalog, permissions } = this.ctx;
    const caller = actor.caller;
    const r = await this.get(caller, uuidInput);
    const template = catalog.get(r.template_uuid);
    const decision = decisionInput.trim().toLowerCase();
    if (decision !== "approve" && decision !== "deny") throw badInput("InvalidDecision", 'decision: "Approve" or "Deny"');
    if (!template || !permissions.mayApprove(caller, template, requestFacts(r))) throw forbidden("NotAuthorized", "you may not approve this request");
    if (comment.length > 1024) throw badInput("TooLong", "comment: at most 1024 characters");
    return store.tx(async (tx) => {
      const cur = (await tx.requestByUuid(r.uuid, true))!;
      assertTransition(cur.status, decision === "approve" ? "approve" : "deny");
      const inserted = await tx.insertApproval({
        request_uuid: r.uuid,
        approver_uuid: caller.uuid,
        decision: decision === "approve" ? "Approve" : "Deny",
        comment,
        decided_at: new Date().toISOString(),
      });
      if (!inserted) throw conflict("AlreadyDecided", "you have already decided on this request");
      const all = await tx.approvalsOf(r.uuid);
      const now = new Date().toISOString();
      let next = cur.status;
      if (all.some((a) => a.decision === "Deny")) next = RequestStatus.Denied;
      else if (all.filter((a) => a.decision === "Approve").length >= cur.approvals_needed) next = RequestStatus.Approved;
      if (next !== cur.status) await tx.updateRequest(r.uuid, { status: next, updated_at: now, completed_at: next === RequestStatus.Denied ? now : null }, [RequestStatus.Pending]);
      await recordAudit(tx, {
        actorUuid: caller.uuid,
        actorName: caller.name,
        action: decision === "approve" ? "request.approve" : "request.deny",
        targetType: "request",
        targetUuid: r.uuid,
        requestUuid: r.uuid,
        correlationId: actor.correlationId,
        outcome: "success",
        details: { status: statusName(next) },
      });
      return (await tx.requestByUuid(r.uuid))!;
    });
  }

  /** `PUT /requests/{id}`: Completed, Canceled or Abandoned. */
  async setStatus(actor: Actor, uuidInput: string, statusInput: string): Promise<RequestRow> {
    const { store, catalog, permissions } = this.ctx;
    const caller = actor.caller;
    const uuid = parseGuid(uuidInput);
    if (!uuid) throw notFound("request");
    let republish = false;
    // First with the conditions and the update as required changes (one round trip on PostgreSQL
    // after the row's read); when one does not hold, nothing is kept and the second run checks
    // each in order, reporting the first that fails.
    const run = (required: boolean) => store.tx(async (tx) => {
      // Read once, in the transaction (on PostgreSQL locking the row for the effects below): the
      // checks and the change see the same row.
      const cur = this.visible(caller, await tx.requestByUuid(uuid, true));
      const template = catalog.get(cur.template_uuid);
      const name = enumByName(RequestStatus, statusInput);
      const event = name === "Completed" ? "complete" : name === "Canceled" ? "cancel" : name === "Abandoned" ? "abandon" : undefined;
      if (!event) throw badInput("InvalidStatus", 'status: "Completed", "Canceled" or "Abandoned"');
      const facts = requestFacts(cur);
      const allowed =
        event === "cancel"
          ? permissions.mayCancel(caller, facts)
          : !!template && (event === "abandon" ? permissions.mayAbandon(caller, template, facts) : permissions.mayExecute(caller, template, facts));
      if (!allowed) throw forbidden("NotAuthorized", `you may not mark this request ${name}`);
      if (cur.status === RequestStatus[name!]) return cur; // repeating a final answer is harmless
      const to = assertTransition(cur.status, event);
      const now = new Date().toISOString();
      if (event === "complete") {
        await completionEffects(this.ctx, tx, cur, template!, required);
        republish = REVOKING_WORKFLOWS.includes(workflowOf(cur));
      } else republish = await abandonEffects(tx, cur, now);
      const change = { status: to, completed_at: now, updated_at: now };
      if (required) await tx.updateRequestRequired(cur.uuid, change, [cur.status]);
      else if (!(await tx.updateRequest(cur.uuid, change, [cur.status]))) throw conflict("InvalidRequestState", "the request changed state meanwhile; read it again");
      await recordAudit(tx, {
        actorUuid: caller.uuid,
        actorName: caller.name,
        action: `request.${event}`,
        targetType: "request",
        targetUuid: cur.uuid,
        requestUuid: cur.uuid,
        correlationId: actor.correlationId,
        outcome: "success",
        details: { from: statusName(cur.status), to: statusName(to) },
      });
      // The row as just written: the update above won against cur, and the effects leave the request alone.
      return { ...cur, status: to, completed_at: now, updated_at: now };
    });
    const result = await requiredFirst(() => run(true), () => run(false));
    if (republish) await this.ctx.ca.publishCrl();
    return result;
  }
}

export function requestFacts(r: RequestRow) {
  return { originatorUuid: r.originator_uuid, targetUuid: r.target_uuid, flags: r.flags, workflow: r.workflow };
}

export function workflowOf(r: RequestRow): WorkflowType {
  return parseWorkflowType(r.workflow)!;
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

