// Serialisation to the CM wire objects of SPEC §5: PascalCase names, numeric enumerations,
// lower-case GUIDs, the empty GUID and the unset date for "none".
import type { CertificateRow, ProfileRow, RequestRow, SmartcardRow } from "../store/store.js";
import type { CertificateTemplateConfig, PinPolicyConfig, PolicyConfig, SmartcardConfigConfig } from "../config/types.js";
import type { ProfileTemplate } from "../domain/templates.js";
import {
  CERTIFICATE_TYPE_X509,
  CertificateFlags,
  CredentialFlags,
  DATA_COLLECTION_FLAGS,
  UserPinOption,
} from "../domain/enums.js";
import { EMPTY_GUID, wireDate } from "../domain/guid.js";
import { isSmartcardTemplate } from "../domain/templates.js";
import type { GenerationOption, IssuedCertificate } from "../domain/services/issuance.js";

const g = (v: string | null | undefined) => v ?? EMPTY_GUID;

export function profileTemplateLimitedView(t: ProfileTemplate) {
  return {
    Name: t.name,
    Description: t.description,
    Uuid: t.uuid,
    IsSmartcardProfileTemplate: isSmartcardTemplate(t),
    IsVirtualSmartcardProfileTemplate: t.kind === "virtualSmartcard",
  };
}

export function profileTemplateView(t: ProfileTemplate) {
  return {
    ...profileTemplateLimitedView(t),
    Version: t.version,
    Kind: t.kind,
    CertificateTemplates: t.certificates.map((c) => certificateTemplateView(c)),
    Policies: Object.fromEntries(Object.entries(t.policies).map(([k, p]) => [k, policyView(p!)])),
    SmartcardConfiguration: t.smartcard ? smartcardConfigView(t.smartcard) : null,
  };
}

function certificateTemplateView(c: CertificateTemplateConfig) {
  return {
    TemplateCommonName: c.name,
    FriendlyName: c.friendlyName,
    KeyAlgorithmName: c.keyAlgorithm,
    KeySize: c.keySize,
    HashAlgorithmNames: c.hashAlgorithms,
    KeyUsages: c.keyUsages,
    ExtendedKeyUsages: c.extendedKeyUsages,
    Subject: c.subject,
    SubjectAltNames: c.subjectAltNames,
    ValidityDays: c.validityDays,
    IsServerGenerated: c.serverGeneratesKey,
    IsArchived: c.archiveKey,
  };
}

export function policyView(p: PolicyConfig) {
  const items = p.dataCollection.map((d) => ({
    Name: d.name,
    Description: d.description,
    Required: d.required,
    Type: d.type,
    Validation: { Regex: d.regex ?? null, MinLength: d.minLength, MaxLength: d.maxLength },
  }));
  return {
    Enabled: p.enabled,
    SelfServiceEnabled: p.selfServiceEnabled,
    ApprovalsNeeded: p.approvalsNeeded,
    AuthorizedInitiator: p.authorizedInitiator,
    AuthorizedApprover: p.authorizedApprover,
    AuthorizedEnrollmentAgent: p.authorizedEnrollmentAgent,
    AuthorizedHelpdesk: p.authorizedHelpdesk,
    EnrollAgentRequired: p.enrollAgentRequired,
    CollectComments: p.collectComments,
    CollectRequestPriority: p.collectRequestPriority,
    DefaultRequestPriority: p.defaultRequestPriority,
    OneTimePasswordPolicy: p.oneTimePasswordPolicy,
    Personalization: p.personalization,
    Documents: p.documents,
    DataCollection: items,
    PolicyDataCollection: items,
  };
}

function pinPolicyView(p: PinPolicyConfig) {
  return { MinLength: p.minLength, MaxLength: p.maxLength, CharacterSet: p.characterSet, MaxAttempts: p.maxAttempts };
}

export function smartcardConfigView(s: SmartcardConfigConfig) {
  return {
    DefaultAdminKeyHex: s.defaultAdminKeyHex.toUpperCase(),
    DiversifyAdminKey: s.diversifyAdminKey,
    UserPinOption: UserPinOption[s.userPinOption],
    UserPinPolicy: pinPolicyView(s.userPinPolicy),
    AdminPinPolicy: pinPolicyView(s.adminPinPolicy),
    CreateVirtualSmartcard: s.createVirtualSmartcard,
    MaximumNumberOfCertificates: s.maximumNumberOfCertificates,
    CertificateLabel: s.certificateLabel,
    AllowSmartcardReuse: s.allowSmartcardReuse,
    CardInitializationType: s.cardInitializationType,
    ReuseCardOnRenew: s.reuseCardOnRenew,
    DoNotInstallCaCertificates: s.doNotInstallCaCertificates,
  };
}

export function requestView(
  r: RequestRow,
  t: ProfileTemplate | undefined,
  approvals: { decision: string }[],
  names: { target: string; originator?: string },
) {
  const approvers = (t?.policies[r.workflow as keyof typeof t.policies]?.authorizedApprover ?? []).join(",");
  return {
    Uuid: r.uuid,
    RequestType: r.type,
    Status: r.status,
    Flags: r.flags,
    DataCollection: JSON.parse(r.data_collection) as { Name: string; Value: string }[],
    DataCollectionFlags: DATA_COLLECTION_FLAGS,
    OriginatorUserUuid: r.originator_uuid,
    TargetUserUuid: r.target_uuid,
    Submitted: wireDate(r.submitted_at),
    Completed: wireDate(r.completed_at),
    NewProfileUuid: g(r.new_profile_uuid),
    OldProfileUuid: g(r.old_profile_uuid),
    NewSmartcardUuid: g(r.new_smartcard_uuid),
    OldSmartcardUuid: g(r.old_smartcard_uuid),
    Priority: r.priority,
    Comment: r.comment,
    ProfileTemplateUuid: r.template_uuid,
    SecurityDescriptor: `originator=${r.originator_uuid};target=${r.target_uuid};approvers=${approvers}`,
    IsSmartcard: (r.flags & 2) !== 0,
    IsEnrollmentAgent: (r.flags & 1) !== 0,
    IsDataCollectionComplete: true,
    ApprovalsNeeded: r.approvals_needed,
    Approvals: approvals.filter((a) => a.decision === "Approve").length,
    Workflow: r.workflow,
    TargetUserName: names.target,
    OriginatorUserName: names.originator ?? names.target,
    ProfileTemplateName: t?.name ?? "",
  };
}

/** `templateName` is an OpenCLM extension, so clients need no template lookup to label a card. */
export function smartcardView(c: SmartcardRow, templateName = "") {
  return {
    Uuid: c.uuid,
    Status: c.status,
    Flags: c.flags,
    ParentSmartcardUuid: g(c.parent_uuid),
    PrimarySmartcardUuid: g(c.primary_uuid),
    PermanentSmartcardUuid: g(c.permanent_uuid),
    AssignedUserUuid: c.assigned_user_uuid,
    ProfileTemplateUuid: c.template_uuid,
    ProfileTemplateVersion: c.template_version,
    Comment: c.comment,
    SerialNumber: `{${c.card_id}}`,
    Middleware: c.middleware,
    Atr: c.atr,
    ProfileTemplateName: templateName,
  };
}

export function profileView(p: ProfileRow, operations: string[], templateName = "") {
  return {
    Uuid: p.uuid,
    Status: p.status,
    Flags: p.flags || CredentialFlags.Primary,
    ParentProfileUuid: g(p.parent_uuid),
    PrimaryProfileUuid: g(p.primary_uuid),
    AssignedUserUuid: p.assigned_user_uuid,
    ProfileTemplateUuid: p.template_uuid,
    ProfileTemplateVersion: p.template_version,
    Comment: p.comment,
    ProfileOperations: operations,
    ProfileTemplateName: templateName,
  };
}

export function generationOptionView(o: GenerationOption) {
  const c = o.template;
  return {
    Subject: o.subject,
    KeyAlgorithmName: c.keyAlgorithm,
    KeySize: c.keySize,
    FriendlyName: c.friendlyName,
    HashAlgorithmName: c.hashAlgorithms[0]!,
    KeyStorageProviderNames: c.keyStorageProviders,
    Exportable: c.exportable ? 1 : 0,
    KeyProtectionLevel: c.keyProtectionLevel,
    KeyUsages: c.keyUsages,
  };
}

export function certificateAnswerView(c: IssuedCertificate) {
  const pfx = c.kind === "pfx";
  return {
    TemplateCommonName: c.templateName,
    CertificateId: 0,
    Flags: pfx ? 0 : CertificateFlags.Pkcs7,
    UseLocalMachineStore: false,
    Error: null,
    Pkcs7: pfx ? null : c.pkcs7.toString("base64"),
    Pfx: pfx ? c.pfx.toString("base64") : null,
    IsExternal: false,
    isServerGenerated: pfx,
    isPfx: pfx,
    isPkcs7: !pfx,
    isKeyHistory: pfx ? c.keyHistory : false,
  };
}

export function certificateShortView(c: CertificateRow) {
  return {
    IsKeyHistory: false,
    ArchivedOnCa: c.archived_key !== null,
    CertificateType: CERTIFICATE_TYPE_X509,
    TemplateCommonName: c.template_name,
    SerialNumber: c.serial,
    Thumbprint: c.thumbprint,
  };
}

export function certificateLongView(c: CertificateRow, requesterName: string) {
  const expired = c.status === 0 && new Date(c.not_after).getTime() < Date.now();
  return {
    ...certificateShortView(c),
    NotAfter: wireDate(c.not_after),
    NotBefore: wireDate(c.not_before),
    Issuer: c.issuer,
    Subject: c.subject,
    RequesterName: requesterName,
    Status: expired ? 3 : c.status,
  };
}
