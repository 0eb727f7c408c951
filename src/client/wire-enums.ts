// Wire numbers the client needs (shared/reference/enums.md). Kept apart from the server's
// domain/enums.ts on purpose: the client is a separate program that only speaks HTTP.

export const RequestType = {
  None: 0,
  Enroll: 1,
  Recover: 2,
  Renew: 3,
  Disable: 4,
  Unblock: 5,
  Duplicate: 6,
  Retire: 7,
  RecoverOnBehalf: 8,
  SuspendOrReinstate: 9,
  OnlineUpdate: 10,
  TemporaryCardEnroll: 11,
  OfflineUnblock: 12,
} as const;

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

export const ProfileStatus = {
  None: 0,
  New: 1,
  Active: 2,
  Disabled: 3,
  Suspended: 4,
  Retired: 5,
} as const;

export const CertificateStatus = {
  Valid: 0,
  Revoked: 1,
  OnHold: 2,
  Expired: 3,
  Superseded: 4,
} as const;

export const UserPinOption = {
  None: 0,
  UserProvided: 1,
  ServerDistributed: 2,
  Randomized: 3,
} as const;

function nameIn(table: Record<string, number>, value: number, what: string): string {
  return Object.entries(table).find(([, v]) => v === value)?.[0] ?? `${what} ${value}`;
}

export function requestStatusName(status: number): string {
  return nameIn(RequestStatus, status, "status");
}

export function requestTypeName(type: number): string {
  return nameIn(RequestType, type, "type");
}

export function smartcardStatusName(status: number): string {
  return nameIn(SmartcardStatus, status, "status");
}

export function profileStatusName(status: number): string {
  return nameIn(ProfileStatus, status, "status");
}

export function certificateStatusName(status: number): string {
  return nameIn(CertificateStatus, status, "status");
}

/** A status name as typed on the command line (any case) to its wire spelling, or null. */
export function requestStatusByName(name: string): keyof typeof RequestStatus | null {
  const wanted = name.trim().toLowerCase();
  return (Object.keys(RequestStatus) as (keyof typeof RequestStatus)[]).find((k) => k.toLowerCase() === wanted) ?? null;
}

/** Requests in these states never change again (SPEC §7.2). */
export const FINAL_REQUEST_STATUSES: readonly number[] = [
  RequestStatus.Completed,
  RequestStatus.Denied,
  RequestStatus.Failed,
  RequestStatus.Canceled,
  RequestStatus.Abandoned,
];
