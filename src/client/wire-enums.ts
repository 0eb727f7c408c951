// Wire numbers the client needs (shared/reference/enums.md). Kept apart from the server's
// domain/enums.ts on purpose: the client is a separate program that only speaks HTTP.

export const RequestStatus = {
  None: 0,
  Approved: 3,
  Denied: 4,
  Completed: 8,
  Failed: 9,
  Pending: 16,
  Canceled: 17,
  Executing: 18,
  Abandoned: 19,
} as const;

export const SmartcardStatus = {
  None: 0,
  New: 1,
  Assigned: 2,
  Active: 3,
  Disabled: 4,
  Suspended: 5,
  Retired: 6,
} as const;

export const UserPinOption = {
  None: 0,
  UserProvided: 1,
  ServerDistributed: 2,
  Randomized: 3,
} as const;

export function requestStatusName(status: number): string {
  return Object.entries(RequestStatus).find(([, v]) => v === status)?.[0] ?? `status ${status}`;
}

export function smartcardStatusName(status: number): string {
  return Object.entries(SmartcardStatus).find(([, v]) => v === status)?.[0] ?? `status ${status}`;
}

/** Requests in these states never change again (SPEC §7.2). */
export const FINAL_REQUEST_STATUSES: readonly number[] = [
  RequestStatus.Completed,
  RequestStatus.Denied,
  RequestStatus.Failed,
  RequestStatus.Canceled,
  RequestStatus.Abandoned,
];
