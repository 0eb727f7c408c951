// The card's logic: what a minidriver card or TPM virtual smart card enforces. Secrets are only
// ever unwrapped for the one operation that needs them, and every state change is persisted
// before the call returns, so a killed process never leaves the card more permissive.
import { randomBytes, randomUUID } from "node:crypto";
import type { CardFileData, EnrollmentJournal, KeyContainerRecord, PendingChallengeRecord } from "./card-file.js";
import { CARD_FILE_FORMAT, CARD_FILE_VERSION } from "./card-file.js";
import { ADMIN_KEY_LENGTH, CHALLENGE_LENGTH, CHALLENGE_LIFETIME_MS, DEFAULT_PIN_MAX_ATTEMPTS, TPM_VSC_ATR } from "./constants.js";
import { adminChallengeResponse, responsesEqual } from "./des.js";
import type { DeviceKey } from "./device-key.js";
import {
  AdminAuthError,
  CardError,
  PinBlockedError,
  PinNotSetError,
  SecurityStatusError,
  WrongPinError,
} from "./errors.js";
import { canonicalSpki, generateKey, signWithPkcs8, type HashName, type KeyAlgorithm, type KeySpec } from "./keys.js";
import { checkCardPinRules, hashPin, pinMatches } from "./pin.js";

export type PersistCard = (data: CardFileData) => void;

export interface KeyContainerInfo {
  id: string;
  algorithm: KeyAlgorithm;
  keySize: number;
  createdAt: string;
  friendlyName: string;
  publicKey: Buffer;
  certificate: Buffer | null;
}

export interface PinStatus {
  set: boolean;
  blocked: boolean;
  retriesLeft: number;
  maxAttempts: number;
}

export interface ChallengeOptions {
  lifetimeMs?: number;
  purpose?: "admin" | "offline-unblock";
}

/** The card's outstanding admin challenge (not a secret: it is what a response must encrypt). */
export interface PendingChallenge {
  value: Buffer;
  issuedAt: string;
  expiresAt: string;
  purpose: "admin" | "offline-unblock";
}

export interface CreateCardOptions {
  adminKey: Uint8Array;
  pin?: string;
  pinMaxAttempts?: number;
  label?: string;
  cardId?: string;
}

const adminKeyContext = (cardId: string) => `openclm-card:${cardId}:admin-key`;
const privateKeyContext = (cardId: string, containerId: string) => `openclm-card:${cardId}:key:${containerId}`;

function checkAdminKey(key: Uint8Array): void {
  if (key.length !== ADMIN_KEY_LENGTH) throw new CardError(`an admin key is ${ADMIN_KEY_LENGTH} bytes, got ${key.length}`);
}

function checkMaxAttempts(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new CardError("PIN attempts must be between 1 and 255");
  return n;
}

function challengeExpiry(c: PendingChallengeRecord): string {
  return c.expiresAt ?? new Date(Date.parse(c.issuedAt) + CHALLENGE_LIFETIME_MS).toISOString();
}

export class VirtualSmartCard {
  #data: CardFileData;
  readonly #deviceKey: DeviceKey;
  readonly #persist: PersistCard;
  #adminAuthenticated = false;
  #pinVerified = false;

  constructor(data: CardFileData, deviceKey: DeviceKey, persist: PersistCard) {
    this.#data = data;
    this.#deviceKey = deviceKey;
    this.#persist = persist;
  }

  static create(deviceKey: DeviceKey, persist: PersistCard, opts: CreateCardOptions): VirtualSmartCard {
    checkAdminKey(opts.adminKey);
    const cardId = (opts.cardId ?? randomUUID()).toLowerCase();
    const now = new Date().toISOString();
    const maxAttempts = checkMaxAttempts(opts.pinMaxAttempts ?? DEFAULT_PIN_MAX_ATTEMPTS);
    const data: CardFileData = {
      format: CARD_FILE_FORMAT,
      version: CARD_FILE_VERSION,
      cardId,
      atr: TPM_VSC_ATR,
      label: opts.label ?? "",
      createdAt: now,
      updatedAt: now,
      adminKey: deviceKey.wrap(opts.adminKey, adminKeyContext(cardId)),
      pin: opts.pin === undefined ? null : hashPin(opts.pin),
      pinMaxAttempts: maxAttempts,
      pinRetriesLeft: maxAttempts,
      challenge: null,
      containers: [],
      caCertificates: [],
      enrollment: null,
    };
    const card = new VirtualSmartCard(data, deviceKey, persist);
    card.#save();
    return card;
  }

  get cardId(): string {
    return this.#data.cardId;
  }

  get atr(): string {
    return this.#data.atr;
  }

  get label(): string {
    return this.#data.label;
  }

  get createdAt(): string {
    return this.#data.createdAt;
  }

  get isAdminAuthenticated(): boolean {
    return this.#adminAuthenticated;
  }

  get isPinVerified(): boolean {
    return this.#pinVerified;
  }

  #save(): void {
    this.#data.updatedAt = new Date().toISOString();
    this.#persist(this.#data);
  }

  // --- admin authentication -------------------------------------------------------------------

  /** A fresh 8-byte challenge; it replaces any earlier one and is valid for one attempt. */
  getChallenge(now: number = Date.now(), opts: ChallengeOptions = {}): Buffer {
    const challenge = randomBytes(CHALLENGE_LENGTH);
    this.#data.challenge = {
      value: challenge.toString("base64"),
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + (opts.lifetimeMs ?? CHALLENGE_LIFETIME_MS)).toISOString(),
      purpose: opts.purpose ?? "admin",
    };
    this.#adminAuthenticated = false;
    this.#save();
    return challenge;
  }

  /** The outstanding challenge while it can still be answered, else null. */
  pendingChallenge(now: number = Date.now()): PendingChallenge | null {
    const c = this.#data.challenge;
    if (!c) return null;
    const expiresAt = challengeExpiry(c);
    if (now > Date.parse(expiresAt)) return null;
    return { value: Buffer.from(c.value, "base64"), issuedAt: c.issuedAt, expiresAt, purpose: c.purpose ?? "admin" };
  }

  authenticateAdmin(response: Uint8Array, now: number = Date.now()): void {
    const pending = this.#data.challenge;
    this.#adminAuthenticated = false;
    if (!pending) throw new AdminAuthError("no admin challenge outstanding: ask the card for a challenge first");
    // Consumed before checking, so a response can never be tried twice against one challenge.
    this.#data.challenge = null;
    this.#save();
    if (now > Date.parse(challengeExpiry(pending))) {
      throw new AdminAuthError("the admin challenge has expired: ask the card for a new one");
    }
    const adminKey = this.#deviceKey.unwrap(this.#data.adminKey, adminKeyContext(this.cardId));
    try {
      const expected = adminChallengeResponse(adminKey, Buffer.from(pending.value, "base64"));
      if (!responsesEqual(expected, response)) {
        throw new AdminAuthError("admin authentication failed: the response does not match the card's admin key");
      }
    } finally {
      adminKey.fill(0);
    }
    this.#adminAuthenticated = true;
  }

  endAdminSession(): void {
    this.#adminAuthenticated = false;
  }

  #requireAdmin(what: string): void {
    if (!this.#adminAuthenticated) throw new SecurityStatusError(`${what} needs admin authentication`);
  }

  /** Re-keys the card; the session ends because it was opened under the old key. */
  changeAdminKey(newKey: Uint8Array): void {
    this.#requireAdmin("changing the admin key");
    checkAdminKey(newKey);
    this.#data.adminKey = this.#deviceKey.wrap(newKey, adminKeyContext(this.cardId));
    this.#adminAuthenticated = false;
    this.#save();
  }

  /** Sets or resets the user PIN and unblocks the card (the unblock operation). */
  resetPin(newPin: string, maxAttempts?: number): void {
    this.#requireAdmin("setting the user PIN");
    checkCardPinRules(newPin);
    if (maxAttempts !== undefined) this.#data.pinMaxAttempts = checkMaxAttempts(maxAttempts);
    this.#data.pin = hashPin(newPin);
    this.#data.pinRetriesLeft = this.#data.pinMaxAttempts;
    this.#pinVerified = false;
    this.#save();
  }

  // --- user PIN --------------------------------------------------------------------------------

  pinStatus(): PinStatus {
    return {
      set: this.#data.pin !== null,
      blocked: this.#data.pin !== null && this.#data.pinRetriesLeft <= 0,
      retriesLeft: Math.max(0, this.#data.pinRetriesLeft),
      maxAttempts: this.#data.pinMaxAttempts,
    };
  }

  verifyPin(pin: string): void {
    const stored = this.#data.pin;
    this.#pinVerified = false;
    if (!stored) throw new PinNotSetError();
    if (this.#data.pinRetriesLeft <= 0) throw new PinBlockedError();
    // The attempt is counted on disk before the comparison, as cards do, so killing the
    // process at the right moment cannot buy unlimited guesses.
    const before = this.#data.pinRetriesLeft;
    this.#data.pinRetriesLeft = before - 1;
    this.#save();
    if (!pinMatches(pin, stored)) throw new WrongPinError(this.#data.pinRetriesLeft);
    this.#data.pinRetriesLeft = this.#data.pinMaxAttempts;
    this.#save();
    this.#pinVerified = true;
  }

  changePin(oldPin: string, newPin: string): void {
    checkCardPinRules(newPin);
    this.verifyPin(oldPin);
    this.#data.pin = hashPin(newPin);
    this.#save();
  }

  logout(): void {
    this.#pinVerified = false;
    this.#adminAuthenticated = false;
  }

  #requirePin(what: string): void {
    if (this.#data.pin !== null && this.#data.pinRetriesLeft <= 0) throw new PinBlockedError();
    if (!this.#pinVerified) throw new SecurityStatusError(`${what} needs the user PIN`);
  }

  // --- keys and certificates ---------------------------------------------------------------

  containers(): KeyContainerInfo[] {
    return this.#data.containers.map((c) => ({
      id: c.id,
      algorithm: c.algorithm,
      keySize: c.keySize,
      createdAt: c.createdAt,
      friendlyName: c.friendlyName,
      publicKey: Buffer.from(c.publicKey, "base64"),
      certificate: c.certificate ? Buffer.from(c.certificate, "base64") : null,
    }));
  }

  caCertificates(): Buffer[] {
    return this.#data.caCertificates.map((c) => Buffer.from(c, "base64"));
  }

  #container(id: string): KeyContainerRecord {
    const found = this.#data.containers.find((c) => c.id === id);
    if (!found) throw new CardError(`no key container ${id} on card ${this.cardId}`);
    return found;
  }

  async generateKey(spec: KeySpec, friendlyName = ""): Promise<KeyContainerInfo> {
    this.#requirePin("generating a key");
    const pair = await generateKey(spec);
    const id = randomUUID();
    try {
      this.#data.containers.push({
        id,
        algorithm: spec.algorithm,
        keySize: spec.keySize ?? (spec.algorithm === "ECDSA_P384" ? 384 : spec.algorithm === "ECDSA_P256" ? 256 : 2048),
        createdAt: new Date().toISOString(),
        friendlyName,
        publicKey: pair.spki.toString("base64"),
        privateKey: this.#deviceKey.wrap(pair.pkcs8, privateKeyContext(this.cardId, id)),
        certificate: null,
      });
    } finally {
      pair.pkcs8.fill(0);
    }
    this.#save();
    return this.containers().find((c) => c.id === id)!;
  }

  sign(containerId: string, hash: HashName, data: Uint8Array): Buffer {
    this.#requirePin("signing");
    const record = this.#container(containerId);
    const pkcs8 = this.#deviceKey.unwrap(record.privateKey, privateKeyContext(this.cardId, record.id));
    try {
      return signWithPkcs8(pkcs8, hash, data);
    } finally {
      pkcs8.fill(0);
    }
  }

  /** The container whose public key equals `spkiDer`, if any. */
  findContainerByPublicKey(spkiDer: Uint8Array): KeyContainerInfo | undefined {
    const wanted = canonicalSpki(spkiDer);
    return this.containers().find((c) => canonicalSpki(c.publicKey).equals(wanted));
  }

  installCertificate(containerId: string, certificateDer: Uint8Array): void {
    this.#requirePin("writing a certificate");
    this.#container(containerId).certificate = Buffer.from(certificateDer).toString("base64");
    this.#save();
  }

  addCaCertificates(ders: Uint8Array[]): void {
    const have = new Set(this.#data.caCertificates);
    for (const der of ders) {
      const b64 = Buffer.from(der).toString("base64");
      if (!have.has(b64)) {
        have.add(b64);
        this.#data.caCertificates.push(b64);
      }
    }
    this.#save();
  }

  /**
   * Destroys a key container. No PIN: destroying discloses nothing, whoever can run this can
   * delete the card file anyway, and crash recovery must be able to remove keys of a card
   * whose PIN it does not know.
   */
  deleteContainer(containerId: string): void {
    this.#container(containerId);
    this.#data.containers = this.#data.containers.filter((c) => c.id !== containerId);
    this.#save();
  }

  // --- enrollment journal -------------------------------------------------------------------

  get journal(): EnrollmentJournal | null {
    return this.#data.enrollment ? { ...this.#data.enrollment, containerIds: [...this.#data.enrollment.containerIds] } : null;
  }

  setJournal(journal: EnrollmentJournal | null): void {
    this.#data.enrollment = journal ? { ...journal, updatedAt: new Date().toISOString() } : null;
    this.#save();
  }
}
