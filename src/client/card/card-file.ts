// The on-disk form of a virtual smart card. Everything secret in it is either wrapped by the
// device key (admin key, private keys) or a one-way hash (PIN).
import type { WrappedSecret } from "./device-key.js";
import { CardFormatError } from "./errors.js";
import type { KeyAlgorithm } from "./keys.js";
import type { PinHash } from "./pin.js";

export const CARD_FILE_FORMAT = "openclm.virtual-smartcard";
export const CARD_FILE_VERSION = 1;

export interface KeyContainerRecord {
  id: string;
  algorithm: KeyAlgorithm;
  keySize: number;
  createdAt: string;
  friendlyName: string;
  /** SubjectPublicKeyInfo, DER, base64. */
  publicKey: string;
  privateKey: WrappedSecret;
  /** End-entity certificate, DER, base64; null until one is installed. */
  certificate: string | null;
}

/** Where an enrollment stood when it last wrote the card: what a restart must clean up. */
export type EnrollmentStep = "bind" | "admin-key" | "pin" | "keygen" | "certificatedata" | "install" | "complete";

export interface EnrollmentJournal {
  server: string;
  user: string;
  requestId: string;
  templateUuid: string;
  templateName: string;
  smartcardUuid: string | null;
  step: EnrollmentStep;
  /** The enrollment created this card, so an abandoned one may delete it again. */
  createdCard: boolean;
  /** Key containers this enrollment generated (orphans unless a certificate was installed). */
  containerIds: string[];
  startedAt: string;
  updatedAt: string;
}

export interface PendingChallengeRecord {
  /** 8 bytes, base64. */
  value: string;
  issuedAt: string;
  /** Absent in files written before offline unblock existed: issuedAt + the default lifetime. */
  expiresAt?: string;
  /** "offline-unblock" for a challenge shown to the user to read out to the helpdesk. */
  purpose?: "admin" | "offline-unblock";
}

export interface CardFileData {
  format: typeof CARD_FILE_FORMAT;
  version: typeof CARD_FILE_VERSION;
  cardId: string;
  atr: string;
  label: string;
  createdAt: string;
  updatedAt: string;
  adminKey: WrappedSecret;
  pin: PinHash | null;
  pinMaxAttempts: number;
  pinRetriesLeft: number;
  /** The outstanding admin challenge; one-shot, cleared by any authentication attempt. */
  challenge: PendingChallengeRecord | null;
  containers: KeyContainerRecord[];
  caCertificates: string[];
  enrollment: EnrollmentJournal | null;
}

function fail(what: string): never {
  throw new CardFormatError(`not a valid card file: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isWrapped(v: unknown): v is WrappedSecret {
  return isObject(v) && v.alg === "A256GCM" && typeof v.iv === "string" && typeof v.ct === "string" && typeof v.tag === "string";
}

/** Checks the structure enough that the card logic can trust field types. */
export function parseCardFile(text: string): CardFileData {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail("not JSON");
  }
  if (!isObject(raw)) fail("not an object");
  if (raw.format !== CARD_FILE_FORMAT) fail(`format is not ${CARD_FILE_FORMAT}`);
  if (raw.version !== CARD_FILE_VERSION) fail(`unsupported version ${String(raw.version)}`);
  for (const k of ["cardId", "atr", "label", "createdAt", "updatedAt"]) {
    if (typeof raw[k] !== "string") fail(`${k} missing`);
  }
  if (!isWrapped(raw.adminKey)) fail("adminKey missing");
  if (raw.pin !== null && !(isObject(raw.pin) && raw.pin.kdf === "scrypt")) fail("pin malformed");
  if (!Number.isInteger(raw.pinMaxAttempts) || !Number.isInteger(raw.pinRetriesLeft)) fail("PIN counters malformed");
  if (raw.challenge !== null && !(isObject(raw.challenge) && typeof raw.challenge.value === "string")) fail("challenge malformed");
  if (!Array.isArray(raw.containers)) fail("containers missing");
  for (const c of raw.containers) {
    if (!isObject(c) || typeof c.id !== "string" || typeof c.publicKey !== "string" || !isWrapped(c.privateKey)) {
      fail("key container malformed");
    }
  }
  if (!Array.isArray(raw.caCertificates) || raw.caCertificates.some((c) => typeof c !== "string")) fail("caCertificates malformed");
  if (raw.enrollment !== null && !(isObject(raw.enrollment) && typeof raw.enrollment.requestId === "string")) {
    fail("enrollment journal malformed");
  }
  return raw as unknown as CardFileData;
}

export function serializeCardFile(data: CardFileData): string {
  return `${JSON.stringify(data, null, 2)}\n`;
}
