// The one place that decides who may do what. Routes and services ask; nothing else decides.
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

export class Permissions {
  constructor(private readonly roles: OpenClmConfig["roles"]) {}

  isAdmin(c: Caller): boolean {
    return namedIn(c, this.roles.admin);
  }

  isAuditor(c: Caller): boolean {
    return namedIn(c, this.roles.auditor) || this.isAdmin(c);
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
    if (this.isAgent(c, p)) return { ok: true, asAgent: true };
    return { ok: false, reason: `you may not start ${type} for another user` };
  }

  /** Templates listed to the caller for enrollment (`GET /profiletemplates`). */
  mayEnrollFor(c: Caller, t: ProfileTemplate, targetUuid: string): boolean {
    return this.mayInitiate(c, t, "Enroll", targetUuid).ok;
  }

  /** May the caller read the template's definition and policies? */
  maySeeTemplate(c: Caller, t: ProfileTemplate): boolean {
    if (this.isAdmin(c) || this.isAuditor(c)) return true;
    return Object.keys(t.policies).some((w) => this.mayInitiate(c, t, w as WorkflowType, c.uuid).ok || this.isAgentOn(c, t));
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
   * CSRs, complete)? The target for a self-service request; the agent who started it otherwise.
   */
  mayExecute(c: Caller, t: ProfileTemplate, r: RequestFacts): boolean {
    const p = this.policyOf(t, r);
    if (!p) return false;
    if (r.flags & RequestFlags.EnrollmentAgent) return c.uuid === r.originatorUuid && this.isAgent(c, p);
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

  maySeeCredential(c: Caller, t: ProfileTemplate | undefined, cred: CredentialFacts): boolean {
    if (c.uuid === cred.assignedUserUuid || this.isAuditor(c)) return true;
    return !!t && this.isAgentOn(c, t);
  }

  private policyOf(t: ProfileTemplate, r: RequestFacts): PolicyConfig | undefined {
    const w = parseWorkflowType(r.workflow);
    return w ? t.policies[w] : undefined;
  }

  private isAgent(c: Caller, p: PolicyConfig): boolean {
    return namedIn(c, p.authorizedEnrollmentAgent) || namedIn(c, p.authorizedHelpdesk);
  }

  private isAgentOn(c: Caller, t: ProfileTemplate): boolean {
    return Object.values(t.policies).some((p) => p && p.enabled && this.isAgent(c, p));
  }
}
