// The one place that decides who may do what. Routes and services ask; nothing else decides.
//
// Roles, per workflow policy of a profile template:
// - the target user acts for themselves when the policy allows self-service (and, when the policy
//   lists initiators, only if named there);
// - an enrollment agent starts any of the policy's workflows for another user and carries it out
//   (binds the card, obtains its keys, submits the CSRs), so the card, the certificate and the
//   audit trail name both the agent (originator) and the user (target);
// - a helpdesk operator starts workflows for another user but only carries out the ones that
//   release no card keys and issue nothing (revoke, disable, reinstate); anything else they
//   start is carried out by the user, and the one thing they obtain themselves is the single
//   offline-unblock response;
// - approvers decide on pending requests that are not their own.
// Globally, auditors read everything and change nothing; admins read everything, cancel or
// abandon any request and administer users — but obtain no card keys and start nothing for others.
import type { OpenClmConfig, PolicyConfig } from "../config/types.js";
import { namedIn, type Caller } from "./caller.js";
import { RequestFlags, parseWorkflowType, type WorkflowType } from "./enums.js";
import type { ProfileTemplate } from "./templates.js";
import { enabledPolicy } from "./templates.js";

export interface RequestFacts {
  originatorUuid: string;
  targetUuid: string;
  flags: number;
  workflow: string;
}

export interface CredentialFacts {
  assignedUserUuid: string;
}

export type InitiateDecision = { ok: true; asAgent: boolean } | { ok: false; reason: string };

/** Workflows a helpdesk operator carries out for the user: no key release, no issuance. */
const HELPDESK_EXECUTES: readonly WorkflowType[] = ["Revoke", "Disable", "Reinstate"];

export class Permissions {
  constructor(private readonly roles: OpenClmConfig["roles"]) {}

  isAdmin(c: Caller): boolean {
    return namedIn(c, this.roles.admin);
  }

  isAuditor(c: Caller): boolean {
    return namedIn(c, this.roles.auditor) || this.isAdmin(c);
  }

  /** `GET /audit` and `openclm admin audit …` over the API. */
  mayReadAudit(c: Caller): boolean {
    return this.isAuditor(c);
  }

  /** Reading the user directory (names, groups, attributes; never credentials). */
  mayReadUsers(c: Caller): boolean {
    return this.isAuditor(c);
  }

  mayAdministerUsers(c: Caller): boolean {
    return this.isAdmin(c);
  }

  /** May the caller start workflow `type` on template `t` for the user `targetUuid`? */
  mayInitiate(c: Caller, t: ProfileTemplate, type: WorkflowType, targetUuid: string): InitiateDecision {
    const p = enabledPolicy(t, type);
    if (!p) return { ok: false, reason: `the ${type} workflow is not enabled on this profile template` };
    if (targetUuid === c.uuid) {
      if (p.enrollAgentRequired) return { ok: false, reason: `${type} requires an enrollment agent` };
      if (!p.selfServiceEnabled && !namedIn(c, p.authorizedInitiator))
        return { ok: false, reason: `self-service ${type} is not enabled` };
      if (p.authorizedInitiator.length > 0 && !namedIn(c, p.authorizedInitiator) && !this.isAgent(c, p))
        return { ok: false, reason: `you are not an authorized initiator of ${type}` };
      return { ok: true, asAgent: false };
    }
    if (this.isEnrollmentAgent(c, p)) return { ok: true, asAgent: true };
    if (this.isHelpdesk(c, p)) {
      if (HELPDESK_EXECUTES.includes(type)) return { ok: true, asAgent: true };
      if (p.enrollAgentRequired) return { ok: false, reason: `${type} requires an enrollment agent` };
      return { ok: true, asAgent: false };
    }
    return { ok: false, reason: `you may not start ${type} for another user` };
  }

  /** Templates listed to the caller for enrollment (`GET /profiletemplates`). */
  mayEnrollFor(c: Caller, t: ProfileTemplate, targetUuid: string): boolean {
    return this.mayInitiate(c, t, "Enroll", targetUuid).ok;
  }

  /** May the caller read the template's definition and policies? */
  maySeeTemplate(c: Caller, t: ProfileTemplate): boolean {
    if (this.isAuditor(c) || this.isAgentOn(c, t)) return true;
    // Approvers read what they are asked to approve.
    if (Object.values(t.policies).some((p) => p?.enabled && namedIn(c, p.authorizedApprover))) return true;
    return Object.keys(t.policies).some((w) => this.mayInitiate(c, t, w as WorkflowType, c.uuid).ok);
  }

  mayApprove(c: Caller, t: ProfileTemplate, r: RequestFacts): boolean {
    const p = this.policyOf(t, r);
    if (!p || !namedIn(c, p.authorizedApprover)) return false;
    return c.uuid !== r.originatorUuid && c.uuid !== r.targetUuid;
  }

  maySeeRequest(c: Caller, t: ProfileTemplate | undefined, r: RequestFacts): boolean {
    if (c.uuid === r.targetUuid || c.uuid === r.originatorUuid || this.isAuditor(c)) return true;
    const p = t && this.policyOf(t, r);
    return !!p && (namedIn(c, p.authorizedApprover) || this.isAgent(c, p));
  }

  /**
   * May the caller carry out the request's steps (bind a card, obtain keys and responses, submit
   * CSRs, complete)? The target, unless an agent started it on their behalf; then that agent.
   */
  mayExecute(c: Caller, t: ProfileTemplate, r: RequestFacts): boolean {
    const p = this.policyOf(t, r);
    if (!p) return false;
    if (r.flags & RequestFlags.EnrollmentAgent) {
      if (c.uuid !== r.originatorUuid) return false;
      const w = parseWorkflowType(r.workflow)!;
      return this.isEnrollmentAgent(c, p) || (this.isHelpdesk(c, p) && HELPDESK_EXECUTES.includes(w));
    }
    return c.uuid === r.targetUuid;
  }

  /** Offline unblock: the helpdesk operator obtains the response for the user's card. */
  mayAnswerOffline(c: Caller, t: ProfileTemplate, r: RequestFacts): boolean {
    const p = this.policyOf(t, r);
    if (!p || r.workflow !== "OfflineUnblock") return false;
    return c.uuid !== r.targetUuid && namedIn(c, p.authorizedHelpdesk);
  }

  mayCancel(c: Caller, r: RequestFacts): boolean {
    return c.uuid === r.originatorUuid || c.uuid === r.targetUuid || this.isAdmin(c);
  }

  /** Abandoning an executing request: whoever carries it out, or an admin cleaning up. */
  mayAbandon(c: Caller, t: ProfileTemplate, r: RequestFacts): boolean {
    return this.mayExecute(c, t, r) || this.isAdmin(c);
  }

  maySeeCredential(c: Caller, t: ProfileTemplate | undefined, cred: CredentialFacts): boolean {
    if (c.uuid === cred.assignedUserUuid || this.isAuditor(c)) return true;
    return !!t && this.isAgentOn(c, t);
  }

  private policyOf(t: ProfileTemplate, r: RequestFacts): PolicyConfig | undefined {
    const w = parseWorkflowType(r.workflow);
    return w ? t.policies[w] : undefined;
  }

  private isEnrollmentAgent(c: Caller, p: PolicyConfig): boolean {
    return namedIn(c, p.authorizedEnrollmentAgent);
  }

  private isHelpdesk(c: Caller, p: PolicyConfig): boolean {
    return namedIn(c, p.authorizedHelpdesk);
  }

  /** Agents and helpdesk operators see the requests and credentials of the templates naming them. */
  private isAgent(c: Caller, p: PolicyConfig): boolean {
    return this.isEnrollmentAgent(c, p) || this.isHelpdesk(c, p);
  }

  private isAgentOn(c: Caller, t: ProfileTemplate): boolean {
    return Object.values(t.policies).some((p) => p && p.enabled && this.isAgent(c, p));
  }
}
