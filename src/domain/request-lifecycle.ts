// The request state machine as a table: which transitions exist and what triggers them.
import { RequestStatus } from "./enums.js";
import { conflict } from "./errors.js";

const S = RequestStatus;
type Status = (typeof S)[keyof typeof S];

export type RequestEvent = "approve" | "deny" | "execute" | "complete" | "cancel" | "abandon" | "fail";

const transitions: Record<RequestEvent, { from: Status[]; to: Status }> = {
  approve: { from: [S.Pending], to: S.Approved },
  deny: { from: [S.Pending], to: S.Denied },
  execute: { from: [S.Approved, S.Executing], to: S.Executing },
  complete: { from: [S.Approved, S.Executing], to: S.Completed },
  cancel: { from: [S.Pending, S.Approved], to: S.Canceled },
  abandon: { from: [S.Executing, S.Approved], to: S.Abandoned },
  fail: { from: [S.Approved, S.Executing], to: S.Failed },
};

export const FINAL_STATUSES: readonly number[] = [S.Completed, S.Denied, S.Canceled, S.Abandoned, S.Failed];
export const ACTIVE_STATUSES: readonly number[] = [S.Approved, S.Executing];

export function transition(event: RequestEvent): { from: number[]; to: number } {
  return transitions[event];
}

/** Throws a 409 naming the current state when `event` is not allowed from `status`. */
export function assertTransition(status: number, event: RequestEvent): number {
  const t = transitions[event];
  if (!t.from.includes(status as Status))
    throw conflict("InvalidRequestState", `the request is ${statusName(status)}; it cannot be ${pastTense(event)}`);
  return t.to;
}

export function statusName(status: number): string {
  return Object.entries(S).find(([, v]) => v === status)?.[0] ?? String(status);
}

function pastTense(e: RequestEvent): string {
  return { approve: "approved", deny: "denied", execute: "executed", complete: "completed", cancel: "canceled", abandon: "abandoned", fail: "failed" }[e];
}
