// Every wire number lives here, so a value can be corrected in one place (reference/enums.md).

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
export type RequestTypeName = keyof typeof RequestType;

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
export type RequestStatusName = keyof typeof RequestStatus;

export const SmartcardStatus = {
  None: 0,
  New: 1,
  Assigned: 2,
  Active: 3,
  Disabled: 4,
  Suspended: 5,
  Retired: 6,
} as const;
export type SmartcardStatusName = keyof typeof SmartcardStatus;

export const ProfileStatus = {
  None: 0,
  New: 1,
  Active: 2,
  Disabled: 3,
  Suspended: 4,
  Retired: 5,
} as const;
export type ProfileStatusName = keyof typeof ProfileStatus;

export const CertificateStatus = {
  Valid: 0,
  Revoked: 1,
  OnHold: 2,
  Expired: 3,
  Superseded: 4,
} as const;
export type CertificateStatusName = keyof typeof CertificateStatus;

export const UserPinOption = {
  None: 0,
  UserProvided: 1,
  ServerDistributed: 2,
  Randomized: 3,
} as const;
export type UserPinOptionName = keyof typeof UserPinOption;

export const RequestFlags = { EnrollmentAgent: 1, Smartcard: 2 } as const;
export const CredentialFlags = { Primary: 1 } as const;
export const CertificateFlags = { Pkcs7: 65536 } as const;
export const DATA_COLLECTION_FLAGS = 32;
export const CERTIFICATE_TYPE_X509 = 1;

export const KeyUsageBits = { Decryption: 1, Signing: 2, KeyAgreement: 4 } as const;

/**
 * Workflow policy types as the API names them (`/policies/{type}`), with the request type each
 * creates. Aliases map to the same policy.
 */
export const WorkflowTypes = [
  "Enroll",
  "Duplicate",
  "OfflineUnblock",
  "OnlineUpdate",
  "Renew",
  "Recover",
  "RecoverOnBehalf",
  "Reinstate",
  "Retire",
  "Revoke",
  "TemporaryEnroll",
  "Unblock",
  "Disable",
] as const;
export type WorkflowType = (typeof WorkflowTypes)[number];

const workflowAliases: Record<string, WorkflowType> = { temporarycards: "TemporaryEnroll" };

export const requestTypeOfWorkflow: Record<WorkflowType, number> = {
  Enroll: RequestType.Enroll,
  Duplicate: RequestType.Duplicate,
  OfflineUnblock: RequestType.OfflineUnblock,
  OnlineUpdate: RequestType.OnlineUpdate,
  Renew: RequestType.Renew,
  Recover: RequestType.Recover,
  RecoverOnBehalf: RequestType.RecoverOnBehalf,
  Reinstate: RequestType.SuspendOrReinstate,
  Retire: RequestType.Retire,
  Revoke: RequestType.Disable,
  TemporaryEnroll: RequestType.TemporaryCardEnroll,
  Unblock: RequestType.Unblock,
  Disable: RequestType.Disable,
};

/** Case-insensitive lookup of a name in an enumeration table; undefined when unknown. */
export function enumByName<T extends Record<string, number>>(table: T, name: string): keyof T | undefined {
  const wanted = name.trim().toLowerCase();
  return (Object.keys(table) as (keyof T)[]).find((k) => String(k).toLowerCase() === wanted);
}

export function enumName<T extends Record<string, number>>(table: T, value: number): keyof T | undefined {
  return (Object.keys(table) as (keyof T)[]).find((k) => table[k] === value);
}

export function parseWorkflowType(name: string): WorkflowType | undefined {
  const lower = name.trim().toLowerCase();
  return workflowAliases[lower] ?? WorkflowTypes.find((t) => t.toLowerCase() === lower);
}

/** Lower-case operation name as `/operations` and `ProfileOperations` carry it. */
export function operationName(type: WorkflowType): string {
  return type.toLowerCase();
}
