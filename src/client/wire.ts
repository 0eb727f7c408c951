// The response objects the client reads, normalised from the wire. Property names are matched
// case-insensitively and enum names are accepted beside numbers, so the client also works with
// servers that serialise less strictly than SPEC §2 asks.
import { UserPinOption } from "./wire-enums.js";

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asObj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new ProtocolError(`the server sent ${what} that is not a JSON object`);
  return v;
}

function field(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function str(o: Obj, name: string, fallback = ""): string {
  const v = field(o, name);
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : fallback;
}

function num(o: Obj, name: string, fallback = 0): number {
  const v = field(o, name);
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return fallback;
}

function bool(o: Obj, name: string, fallback = false): boolean {
  const v = field(o, name);
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v.toLowerCase() === "true";
  if (typeof v === "number") return v !== 0;
  return fallback;
}

export function normaliseGuid(v: string): string {
  return v.trim().replace(/^\{|\}$/g, "").toLowerCase();
}

export const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";

function guid(o: Obj, name: string): string {
  return normaliseGuid(str(o, name, EMPTY_GUID)) || EMPTY_GUID;
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new ProtocolError(`the server sent ${what} that is not a JSON array`);
  return v;
}

// --- objects ---------------------------------------------------------------------------------

export interface ProfileTemplateView {
  name: string;
  description: string;
  uuid: string;
  isSmartcard: boolean;
  isVirtualSmartcard: boolean;
}

export function parseProfileTemplates(body: unknown): ProfileTemplateView[] {
  return list(body, "a template list").map((v) => {
    const o = asObj(v, "a template");
    return {
      name: str(o, "Name"),
      description: str(o, "Description"),
      uuid: guid(o, "Uuid"),
      isSmartcard: bool(o, "IsSmartcardProfileTemplate"),
      isVirtualSmartcard: bool(o, "IsVirtualSmartcardProfileTemplate"),
    };
  });
}

export interface DataCollectionItem {
  name: string;
  description: string;
  required: boolean;
  regex: string | null;
  minLength: number;
  maxLength: number;
}

export interface WorkflowPolicy {
  enabled: boolean;
  selfServiceEnabled: boolean;
  approvalsNeeded: number;
  collectComments: boolean;
  dataCollection: DataCollectionItem[];
}

function parseDataItem(v: unknown): DataCollectionItem {
  const o = asObj(v, "a data collection item");
  const validation = field(o, "Validation");
  const item: DataCollectionItem = {
    name: str(o, "Name"),
    description: str(o, "Description"),
    required: bool(o, "Required"),
    regex: null,
    minLength: 0,
    maxLength: 0,
  };
  if (typeof validation === "string" && validation !== "") item.regex = validation;
  if (isObj(validation)) {
    const regex = field(validation, "Regex");
    item.regex = typeof regex === "string" && regex !== "" ? regex : null;
    item.minLength = num(validation, "MinLength");
    item.maxLength = num(validation, "MaxLength");
  }
  return item;
}

export function parseWorkflowPolicy(body: unknown): WorkflowPolicy {
  const o = asObj(body, "a workflow policy");
  const items = field(o, "DataCollection") ?? field(o, "PolicyDataCollection") ?? [];
  return {
    enabled: bool(o, "Enabled", true),
    selfServiceEnabled: bool(o, "SelfServiceEnabled"),
    approvalsNeeded: num(o, "ApprovalsNeeded"),
    collectComments: bool(o, "CollectComments"),
    dataCollection: list(items, "DataCollection").map(parseDataItem),
  };
}

export type PinCharacterSet = "numeric" | "alphanumeric" | "any";

export interface PinPolicy {
  minLength: number;
  maxLength: number;
  characterSet: PinCharacterSet;
  maxAttempts: number;
}

export interface SmartcardConfig {
  defaultAdminKeyHex: string;
  diversifyAdminKey: boolean;
  /** UserPinOption number (wire-enums.ts). */
  userPinOption: number;
  userPinPolicy: PinPolicy;
  createVirtualSmartcard: boolean;
  doNotInstallCaCertificates: boolean;
  maximumNumberOfCertificates: number;
  /** Renew re-uses the card (true, the default) or needs a new one. */
  reuseCardOnRenew: boolean;
}

function parseCharacterSet(v: unknown): PinCharacterSet {
  const s = typeof v === "string" ? v.toLowerCase().replace(/[^a-z]/g, "") : "";
  if (s === "numeric" || s === "digits" || s === "digit") return "numeric";
  if (s === "alphanumeric") return "alphanumeric";
  return "any";
}

function parsePinPolicy(v: unknown): PinPolicy {
  const o = isObj(v) ? v : {};
  return {
    minLength: num(o, "MinLength"),
    maxLength: num(o, "MaxLength"),
    characterSet: parseCharacterSet(field(o, "CharacterSet")),
    maxAttempts: num(o, "MaxAttempts"),
  };
}

function parseUserPinOption(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const byName = Object.entries(UserPinOption).find(([k]) => k.toLowerCase() === v.trim().toLowerCase());
    if (byName) return byName[1];
    if (/^\d+$/.test(v.trim())) return Number(v);
  }
  return UserPinOption.UserProvided;
}

export function parseSmartcardConfig(body: unknown): SmartcardConfig {
  const o = asObj(body, "a smart card configuration");
  return {
    defaultAdminKeyHex: str(o, "DefaultAdminKeyHex"),
    diversifyAdminKey: bool(o, "DiversifyAdminKey"),
    userPinOption: parseUserPinOption(field(o, "UserPinOption")),
    userPinPolicy: parsePinPolicy(field(o, "UserPinPolicy")),
    createVirtualSmartcard: bool(o, "CreateVirtualSmartcard"),
    doNotInstallCaCertificates: bool(o, "DoNotInstallCaCertificates"),
    maximumNumberOfCertificates: num(o, "MaximumNumberOfCertificates"),
    reuseCardOnRenew: bool(o, "ReuseCardOnRenew", true),
  };
}

export interface RequestView {
  uuid: string;
  requestType: number;
  /** OpenCLM's extension `Workflow` (e.g. "Revoke", which shares RequestType 4 with Disable); null from other servers. */
  workflow: string | null;
  status: number;
  newSmartcardUuid: string;
  oldSmartcardUuid: string;
  newProfileUuid: string;
  oldProfileUuid: string;
  profileTemplateUuid: string;
  targetUserUuid: string;
  originatorUserUuid: string;
  /** ISO date, or null when unset (`0001-01-01T00:00:00`). */
  submitted: string | null;
  completed: string | null;
  comment: string;
  dataCollection: { name: string; value: string }[];
  isEnrollmentAgent: boolean;
  /** Extension properties; null when the server does not send them. */
  approvalsNeeded: number | null;
  approvals: number | null;
}

function wireDate(o: Obj, name: string): string | null {
  const v = str(o, name);
  if (v === "" || v.startsWith("0001-01-01")) return null;
  const t = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(v) ? v : `${v}Z`);
  return Number.isNaN(t) ? v : new Date(t).toISOString();
}

function optionalNum(o: Obj, name: string): number | null {
  return field(o, name) === undefined ? null : num(o, name);
}

function parseRequestData(v: unknown): { name: string; value: string }[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).flatMap((item) => {
    const name = field(item, "Name");
    if (typeof name === "string") return [{ name, value: str(item, "Value") }];
    // the lenient {"<item name>": "<value>"} form
    return Object.entries(item).map(([k, value]) => ({ name: k, value: typeof value === "string" ? value : String(value) }));
  });
}

export function parseRequest(body: unknown): RequestView {
  const o = asObj(body, "a request");
  const workflow = field(o, "Workflow");
  return {
    uuid: guid(o, "Uuid"),
    requestType: num(o, "RequestType"),
    workflow: typeof workflow === "string" && workflow !== "" ? workflow : null,
    status: num(o, "Status"),
    newSmartcardUuid: guid(o, "NewSmartcardUuid"),
    oldSmartcardUuid: guid(o, "OldSmartcardUuid"),
    newProfileUuid: guid(o, "NewProfileUuid"),
    oldProfileUuid: guid(o, "OldProfileUuid"),
    profileTemplateUuid: guid(o, "ProfileTemplateUuid"),
    targetUserUuid: guid(o, "TargetUserUuid"),
    originatorUserUuid: guid(o, "OriginatorUserUuid"),
    submitted: wireDate(o, "Submitted"),
    completed: wireDate(o, "Completed"),
    comment: str(o, "Comment"),
    dataCollection: parseRequestData(field(o, "DataCollection")),
    isEnrollmentAgent: bool(o, "IsEnrollmentAgent"),
    approvalsNeeded: optionalNum(o, "ApprovalsNeeded"),
    approvals: optionalNum(o, "Approvals"),
  };
}

export function parseRequests(body: unknown): RequestView[] {
  return list(body, "a request list").map(parseRequest);
}

export interface SmartcardView {
  uuid: string;
  status: number;
  /** The card id, braces removed, lower case. */
  cardId: string;
  atr: string;
  profileTemplateUuid: string;
  assignedUserUuid: string;
}

export function parseSmartcard(body: unknown): SmartcardView {
  const o = asObj(body, "a smart card");
  return {
    uuid: guid(o, "Uuid"),
    status: num(o, "Status"),
    cardId: normaliseGuid(str(o, "SerialNumber")),
    atr: str(o, "Atr"),
    profileTemplateUuid: guid(o, "ProfileTemplateUuid"),
    assignedUserUuid: guid(o, "AssignedUserUuid"),
  };
}

export function parseSmartcards(body: unknown): SmartcardView[] {
  return list(body, "a smart card list").map(parseSmartcard);
}

export interface ProfileView {
  uuid: string;
  status: number;
  profileTemplateUuid: string;
  assignedUserUuid: string;
  operations: string[];
}

export function parseProfile(body: unknown): ProfileView {
  const o = asObj(body, "a profile");
  const ops = field(o, "ProfileOperations");
  return {
    uuid: guid(o, "Uuid"),
    status: num(o, "Status"),
    profileTemplateUuid: guid(o, "ProfileTemplateUuid"),
    assignedUserUuid: guid(o, "AssignedUserUuid"),
    operations: Array.isArray(ops) ? ops.filter((x): x is string => typeof x === "string") : [],
  };
}

export function parseProfiles(body: unknown): ProfileView[] {
  return list(body, "a profile list").map(parseProfile);
}

/** X509ClmCertificate (SPEC §5.9); the long-form fields are null in the short form. */
export interface ClmCertificateView {
  serialNumber: string;
  thumbprint: string;
  templateCommonName: string;
  archivedOnCa: boolean;
  subject: string | null;
  notBefore: string | null;
  notAfter: string | null;
  status: number | null;
}

export function parseClmCertificates(body: unknown): ClmCertificateView[] {
  return list(body, "a certificate list").map((v) => {
    const o = asObj(v, "a certificate");
    const subject = field(o, "Subject");
    return {
      serialNumber: str(o, "SerialNumber").toUpperCase(),
      thumbprint: str(o, "Thumbprint").toUpperCase(),
      templateCommonName: str(o, "TemplateCommonName"),
      archivedOnCa: bool(o, "ArchivedOnCa"),
      subject: typeof subject === "string" ? subject : null,
      notBefore: wireDate(o, "NotBefore"),
      notAfter: wireDate(o, "NotAfter"),
      status: optionalNum(o, "Status"),
    };
  });
}

export interface GenerationOption {
  subject: string;
  keyAlgorithmName: string;
  keySize: number;
  friendlyName: string;
  hashAlgorithmName: string;
  keyUsages: number;
}

export function parseGenerationOptions(body: unknown): GenerationOption[] {
  return list(body, "certificate request generation options").map((v) => {
    const o = asObj(v, "a certificate request generation option");
    return {
      subject: str(o, "Subject"),
      keyAlgorithmName: str(o, "KeyAlgorithmName", "RSA"),
      keySize: num(o, "KeySize"),
      friendlyName: str(o, "FriendlyName"),
      hashAlgorithmName: str(o, "HashAlgorithmName", "SHA256"),
      keyUsages: num(o, "KeyUsages"),
    };
  });
}

export interface CertificateAnswer {
  templateCommonName: string;
  error: string | null;
  pkcs7: string | null;
  pfx: string | null;
  isPkcs7: boolean;
  isPfx: boolean;
}

export function parseCertificateAnswers(body: unknown): CertificateAnswer[] {
  return list(body, "a certificate answer").map((v) => {
    const o = asObj(v, "a certificate");
    const error = field(o, "Error");
    const pkcs7 = field(o, "Pkcs7");
    const pfx = field(o, "Pfx");
    return {
      templateCommonName: str(o, "TemplateCommonName"),
      error: typeof error === "string" && error !== "" ? error : null,
      pkcs7: typeof pkcs7 === "string" && pkcs7 !== "" ? pkcs7 : null,
      pfx: typeof pfx === "string" && pfx !== "" ? pfx : null,
      isPkcs7: bool(o, "isPkcs7", typeof pkcs7 === "string" && pkcs7 !== ""),
      isPfx: bool(o, "isPfx"),
    };
  });
}

/** Binary values travel as base64 JSON strings (SPEC §2). */
export function parseBase64String(body: unknown, what: string, length?: number): Buffer {
  if (typeof body !== "string") throw new ProtocolError(`the server sent ${what} that is not a base64 string`);
  const bytes = Buffer.from(body.trim(), "base64");
  if (length !== undefined && bytes.length !== length) {
    throw new ProtocolError(`the server sent ${what} of ${bytes.length} bytes, expected ${length}`);
  }
  return bytes;
}

/** The id at the end of a created object's URI ("api/v1.0/requests/<uuid>"). */
export function idFromCreatedUri(uri: string, what: string): string {
  const last = uri.trim().replace(/[/.\s]+$/, "").split("/").pop() ?? "";
  const id = normaliseGuid(decodeURIComponent(last));
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
    throw new ProtocolError(`the server answered the creation of ${what} with "${uri}", which names no object`);
  }
  return id;
}
