// The CM API's objects as the portal reads them (SPEC §5) and the names of their numeric
// enumerations (reference/enums.md).

export const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";

export interface ProfileTemplateLimitedView {
  Name: string;
  Description: string;
  Uuid: string;
  IsSmartcardProfileTemplate: boolean;
  IsVirtualSmartcardProfileTemplate: boolean;
}

export interface DataCollectionItem {
  Name: string;
  Description: string;
  Required: boolean;
  Type?: string;
  Validation?: { Regex: string | null; MinLength?: number; MaxLength?: number };
}

export interface WorkflowPolicy {
  Enabled: boolean;
  SelfServiceEnabled: boolean;
  ApprovalsNeeded: number;
  AuthorizedInitiator: string[];
  AuthorizedApprover: string[];
  AuthorizedEnrollmentAgent: string[];
  AuthorizedHelpdesk?: string[];
  EnrollAgentRequired: boolean;
  CollectComments: boolean;
  CollectRequestPriority: boolean;
  DefaultRequestPriority: number;
  DataCollection: DataCollectionItem[];
}

export interface CertificateTemplateView {
  TemplateCommonName: string;
  FriendlyName?: string;
  KeyAlgorithmName: string;
  KeySize: number;
  HashAlgorithmNames: string[];
  KeyUsages: number;
  ExtendedKeyUsages: string[];
  Subject: string;
  SubjectAltNames: string[];
  ValidityDays: number;
  IsServerGenerated: boolean;
  IsArchived: boolean;
}

export interface SmartcardConfig {
  DefaultAdminKeyHex?: string;
  DiversifyAdminKey: boolean;
  UserPinOption: number;
  UserPinPolicy: { MinLength: number; MaxLength: number; CharacterSet: string; MaxAttempts: number };
  CreateVirtualSmartcard: boolean;
  MaximumNumberOfCertificates?: number;
  ReuseCardOnRenew?: boolean;
}

export interface ProfileTemplateView extends ProfileTemplateLimitedView {
  Version: number;
  Kind: string;
  CertificateTemplates: CertificateTemplateView[];
  Policies: Record<string, WorkflowPolicy>;
  SmartcardConfiguration: SmartcardConfig | null;
}

export interface ClmRequest {
  Uuid: string;
  RequestType: number;
  Status: number;
  Flags: number;
  DataCollection: { Name: string; Value: string }[];
  OriginatorUserUuid: string;
  TargetUserUuid: string;
  Submitted: string;
  Completed: string;
  NewProfileUuid: string;
  OldProfileUuid: string;
  NewSmartcardUuid: string;
  OldSmartcardUuid: string;
  Priority: number;
  Comment: string;
  ProfileTemplateUuid: string;
  IsSmartcard: boolean;
  IsEnrollmentAgent: boolean;
  ApprovalsNeeded?: number;
  Approvals?: number;
  Workflow?: string;
  /** Shown when the server adds them (extension properties). */
  TargetUserName?: string;
  OriginatorUserName?: string;
  ProfileTemplateName?: string;
}

export interface Smartcard {
  Uuid: string;
  Status: number;
  Flags: number;
  PermanentSmartcardUuid: string;
  AssignedUserUuid: string;
  ProfileTemplateUuid: string;
  ProfileTemplateVersion: number;
  Comment: string;
  SerialNumber: string;
  Middleware: string;
  Atr: string;
  /** OpenCLM extension. */
  ProfileTemplateName?: string;
  AssignedUserName?: string;
}

export interface Profile {
  Uuid: string;
  Status: number;
  Flags: number;
  AssignedUserUuid: string;
  ProfileTemplateUuid: string;
  ProfileTemplateVersion: number;
  Comment: string;
  ProfileOperations: string[];
  /** OpenCLM extension. */
  ProfileTemplateName?: string;
}

export interface CertificateShort {
  IsKeyHistory: boolean;
  ArchivedOnCa: boolean;
  CertificateType: number;
  TemplateCommonName: string;
  SerialNumber: string;
  Thumbprint: string;
}

export interface CertificateLong extends CertificateShort {
  NotAfter: string;
  NotBefore: string;
  Issuer: string;
  Subject?: string;
  RequesterName: string;
  Status: number;
}

export interface IssuedCertificate {
  TemplateCommonName: string;
  Pfx: string | null;
  Pkcs7: string | null;
  isPfx: boolean;
}

export const RequestTypeName: Record<number, string> = {
  1: "Enroll",
  2: "Recover",
  3: "Renew",
  4: "Disable",
  5: "Unblock",
  6: "Duplicate",
  7: "Retire",
  8: "Recover on behalf",
  9: "Suspend or reinstate",
  10: "Online update",
  11: "Temporary card",
  12: "Offline unblock",
};

export const RequestStatusName: Record<number, string> = {
  0: "None",
  3: "Approved",
  4: "Denied",
  8: "Completed",
  9: "Failed",
  16: "Pending",
  17: "Canceled",
  18: "Executing",
  19: "Abandoned",
};

export const RequestStatus = { Approved: 3, Denied: 4, Completed: 8, Failed: 9, Pending: 16, Canceled: 17, Executing: 18, Abandoned: 19 } as const;

export const SmartcardStatusName: Record<number, string> = {
  0: "None",
  1: "New",
  2: "Assigned",
  3: "Active",
  4: "Disabled",
  5: "Suspended",
  6: "Retired",
};

export const ProfileStatusName: Record<number, string> = {
  0: "None",
  1: "New",
  2: "Active",
  3: "Disabled",
  4: "Suspended",
  5: "Retired",
};

export const CertificateStatusName: Record<number, string> = {
  0: "Valid",
  1: "Revoked",
  2: "On hold",
  3: "Expired",
  4: "Superseded",
};

/** Operation names as `/operations` gives them → the request type to create and a label. */
export const OPERATIONS: Record<string, { type: string; label: string; description: string }> = {
  renew: { type: "Renew", label: "Renew", description: "new certificates before the current ones expire" },
  unblock: { type: "Unblock", label: "Unblock PIN", description: "reset a blocked PIN with the card in this computer" },
  offlineunblock: { type: "OfflineUnblock", label: "Offline unblock", description: "the helpdesk gives you the response to your card's challenge" },
  onlineupdate: { type: "OnlineUpdate", label: "Update", description: "bring the card's certificates up to the current template" },
  duplicate: { type: "Duplicate", label: "Duplicate", description: "a second card with the same certificates" },
  temporaryenroll: { type: "TemporaryEnroll", label: "Temporary card", description: "a short-lived card while this one is missing" },
  reinstate: { type: "Reinstate", label: "Reinstate", description: "make a suspended card active again" },
  retire: { type: "Retire", label: "Retire", description: "stop using it; its certificates are revoked" },
  revoke: { type: "Revoke", label: "Revoke", description: "revoke its certificates (lost or compromised)" },
  disable: { type: "Disable", label: "Disable", description: "disable it and revoke its certificates" },
  recover: { type: "Recover", label: "Download PFX", description: "download the certificate and its archived key again" },
  recoveronbehalf: { type: "RecoverOnBehalf", label: "Recover for user", description: "recover the archived key on the user's behalf" },
};

/** Request types the server carries out alone: the portal completes them (no card-side step). */
export const SERVER_ONLY = new Set([4, 7, 9]);

export function isUnset(date: string | undefined | null): boolean {
  return !date || date.startsWith("0001-01-01");
}
