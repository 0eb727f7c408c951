// Which workflows a card or profile in a given state allows (SPEC §7.3), as one table.
import { ProfileStatus, SmartcardStatus, type WorkflowType } from "./enums.js";

const C = SmartcardStatus;
const P = ProfileStatus;

/** Card states from which each workflow may start (workflows on an existing card). */
export const smartcardStatesFor: Partial<Record<WorkflowType, number[]>> = {
  Unblock: [C.Active],
  OfflineUnblock: [C.Active],
  Renew: [C.Active],
  OnlineUpdate: [C.Active],
  Duplicate: [C.Active],
  TemporaryEnroll: [C.Active],
  Retire: [C.Active, C.Disabled, C.Suspended, C.Assigned],
  Revoke: [C.Active, C.Suspended],
  Disable: [C.Active, C.Suspended],
  Reinstate: [C.Suspended],
};

export const profileStatesFor: Partial<Record<WorkflowType, number[]>> = {
  Renew: [P.Active],
  Recover: [P.Active],
  RecoverOnBehalf: [P.Active],
  Retire: [P.Active, P.Disabled, P.Suspended],
  Revoke: [P.Active, P.Suspended],
  Disable: [P.Active, P.Suspended],
  Reinstate: [P.Suspended],
  Duplicate: [P.Active],
};

/** Workflows that create a new credential from a template rather than act on an existing one. */
export const CREATING_WORKFLOWS: readonly WorkflowType[] = ["Enroll", "Duplicate", "TemporaryEnroll"];

/** Workflows whose client needs the card's admin key or challenge responses. */
export const ADMIN_KEY_WORKFLOWS: readonly WorkflowType[] = [
  "Enroll",
  "Duplicate",
  "TemporaryEnroll",
  "Renew",
  "OnlineUpdate",
  "Unblock",
  "OfflineUnblock",
  "Retire",
];

/** Workflows that issue certificates. */
export const ISSUING_WORKFLOWS: readonly WorkflowType[] = ["Enroll", "Duplicate", "TemporaryEnroll", "Renew", "OnlineUpdate"];
