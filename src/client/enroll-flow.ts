// The enrollment of the seed walkthrough (steps 5–28), with no terminal I/O: it reports each
// step through a StepRunner and returns what was issued. Before every server-side step the
// card's journal records where it stands, so a crash at any point can be resolved later
// (enroll-recovery.ts); a failure in this process is resolved before the error is rethrown.
import type { EnrollmentJournal, EnrollmentStep } from "./card/card-file.js";
import { parseAdminKeyHex } from "./card/des.js";
import { AdminAuthError } from "./card/errors.js";
import { describeKeySpec, parseHashName, parseKeySpec } from "./card/keys.js";
import type { CardStore, LockedCard } from "./card/store.js";
import type { VirtualSmartCard } from "./card/virtual-card.js";
import type { ApiClient } from "./api.js";
import { certificateInfo, type CertificateInfo } from "./cert-info.js";
import { buildCsr, encodableSubject } from "./csr.js";
import { InputError } from "./errors.js";
import { resolveInterruptedEnrollment } from "./enroll-recovery.js";
import { installCertificateAnswer, CertificateMismatchError } from "./install.js";
import type { StepRunner } from "./steps.js";
import { CertificateStatus, RequestStatus, RequestType, requestStatusName, UserPinOption } from "./wire-enums.js";
import { EMPTY_GUID, ProtocolError, type ProfileTemplateView, type SmartcardConfig, type WorkflowPolicy } from "./wire.js";

export interface EnrollPlan {
  template: ProfileTemplateView;
  policy: WorkflowPolicy;
  smartcardConfig: SmartcardConfig;
  dataCollection: Record<string, string>[];
  comment: string;
  /** The PIN to set (user-provided), or the card's current PIN when the workflow sets none. */
  pin: string | null;
  /** An existing card, locked by the caller; the flow releases the lock. Null: create one. */
  card: LockedCard | null;
  /** Continue this already created (approved) request instead of creating one. */
  requestId?: string;
  /**
   * Renew the card's certificates in place (ReuseCardOnRenew): the request names this server
   * record of `card`, new keys are made on the same card, and `pin` is the card's current PIN.
   */
  renew?: { smartcardUuid: string };
  /** Enroll for this user (name) as an enrollment agent. */
  onBehalfOf?: string;
}

export interface EnrollDeps {
  api: ApiClient;
  store: CardStore;
  steps: StepRunner;
  /** Called at named points between steps; the CLI's crash test hook lives behind it. */
  checkpoint?: (name: string) => void;
}

export interface IssuedCertificateInfo extends CertificateInfo {
  containerId: string;
}

export type EnrollOutcome =
  | {
      kind: "completed";
      requestId: string;
      smartcardUuid: string;
      cardId: string;
      cardPath: string;
      cardCreated: boolean;
      certificates: IssuedCertificateInfo[];
      /** Only when the server chose the PIN (ServerDistributed/Randomized): the user must learn it. */
      serverProposedPin?: string;
      /** Renew: serial numbers of the superseded certificates removed from the card with their keys. */
      removedSuperseded?: string[];
    }
  | { kind: "pending"; requestId: string };

/** Whether this template's workflow will need a PIN typed by the user (before anything starts). */
export function needsUserPin(config: SmartcardConfig): boolean {
  return config.userPinOption !== UserPinOption.ServerDistributed && config.userPinOption !== UserPinOption.Randomized;
}

class Enrollment {
  readonly #plan: EnrollPlan;
  readonly #deps: EnrollDeps;
  #requestId: string | null;
  #locked: LockedCard | null;
  #cardCreated = false;
  #createdRequest = false;
  #journal: EnrollmentJournal | null = null;

  constructor(plan: EnrollPlan, deps: EnrollDeps) {
    this.#plan = plan;
    this.#deps = deps;
    this.#requestId = plan.requestId ?? null;
    this.#locked = plan.card;
  }

  get #card(): VirtualSmartCard {
    return this.#locked!.card;
  }

  #checkpoint(name: string): void {
    this.#deps.checkpoint?.(name);
  }

  #record(step: EnrollmentStep, patch: Partial<EnrollmentJournal> = {}): void {
    this.#journal = { ...this.#journal!, ...patch, step };
    this.#card.setJournal(this.#journal);
  }

  async run(): Promise<EnrollOutcome> {
    const { api, steps } = this.#deps;
    const plan = this.#plan;
    try {
      if (!this.#requestId) {
        this.#requestId = await steps.run("create-request", plan.renew ? "Create renewal request" : "Create request", () =>
          api.createRequest({
            ...(plan.renew ? { type: "Renew", smartcard: plan.renew.smartcardUuid } : { type: "Enroll", profiletemplateuuid: plan.template.uuid }),
            datacollection: plan.dataCollection,
            comment: plan.comment,
            ...(plan.onBehalfOf ? { target: plan.onBehalfOf } : {}),
          }),
          (id) => id,
        );
        this.#createdRequest = true;
        this.#checkpoint("after-create-request");
      }
      const requestId = this.#requestId;
      const request = await steps.run("check-request", "Check request status", () => api.getRequest(requestId), (r) =>
        requestStatusName(r.status),
      );
      if (request.status === RequestStatus.Pending) return { kind: "pending", requestId };
      if (request.status !== RequestStatus.Approved) {
        throw new InputError(`request ${requestId} is ${requestStatusName(request.status)}; only an Approved request can be executed`);
      }
      if (plan.renew) {
        const scid = plan.renew.smartcardUuid;
        if (request.requestType !== RequestType.Renew || request.oldSmartcardUuid !== scid) {
          throw new InputError(`request ${requestId} is not a renewal of smart card ${scid}`);
        }
        if (request.newSmartcardUuid !== scid) {
          throw new InputError(`request ${requestId} renews onto a new card; this client renews cards in place only`);
        }
      } else if (request.newSmartcardUuid !== EMPTY_GUID) {
        throw new InputError(`request ${requestId} already has smart card ${request.newSmartcardUuid} bound to it`);
      }

      await this.#prepareCard();
      let smartcardUuid: string;
      let pin: string;
      let serverProposedPin: string | undefined;
      if (plan.renew) {
        // Same card: nothing to bind, PIN and admin key stay; the admin key moves to the
        // current master-secret version once the new certificates are on the card.
        smartcardUuid = plan.renew.smartcardUuid;
        if (!plan.pin) throw new InputError("the card's PIN is needed to make the new keys");
        pin = plan.pin;
      } else {
        smartcardUuid = await this.#bind(requestId);
        this.#checkpoint("after-bind");
        await this.#establishAdminKey(requestId, smartcardUuid);
        this.#checkpoint("after-key-release");
        ({ pin, serverProposedPin } = await this.#setPin(requestId, smartcardUuid));
      }
      const previous = this.#card.containers().filter((c) => c.certificate).map((c) => c.id);
      const csrs = await this.#generateRequests(requestId, pin);
      this.#record("certificatedata");
      this.#checkpoint("before-certificatedata");
      const answers = await steps.run("submit", "Submit certificate requests", () => api.submitCertificateRequests(requestId, csrs));
      this.#checkpoint("after-certificatedata");
      this.#record("install");
      const certificates = await steps.run("install", "Install certificates", () => this.#install(answers));
      if (plan.renew) await this.#moveAdminKey(requestId, smartcardUuid);
      this.#record("complete");
      this.#checkpoint("before-complete");
      await steps.run("complete", "Complete request", () => api.setRequestStatus(requestId, "Completed"), (r) =>
        requestStatusName(r.status),
      );
      this.#card.setJournal(null);
      const removedSuperseded = plan.renew ? await this.#removeSuperseded(previous) : undefined;
      return {
        kind: "completed",
        requestId,
        smartcardUuid,
        cardId: this.#card.cardId,
        cardPath: this.#locked!.path,
        cardCreated: this.#cardCreated,
        certificates,
        ...(serverProposedPin ? { serverProposedPin } : {}),
        ...(removedSuperseded ? { removedSuperseded } : {}),
      };
    } catch (err) {
      await this.#cleanUp();
      throw err;
    } finally {
      this.#locked?.card.logout();
      this.#locked?.release();
    }
  }

  async #prepareCard(): Promise<void> {
    const { steps, store } = this.#deps;
    const config = this.#plan.smartcardConfig;
    if (!this.#locked) {
      let adminKey: Buffer;
      try {
        adminKey = parseAdminKeyHex(config.defaultAdminKeyHex);
      } catch {
        throw new ProtocolError(`template "${this.#plan.template.name}" gives no usable DefaultAdminKeyHex`);
      }
      this.#locked = await steps.run("create-card", "Create virtual smart card", () =>
        store.lockNew(store.create({ adminKey, label: this.#plan.template.name })),
        (l) => l.card.cardId,
      );
      this.#cardCreated = true;
    }
    const now = new Date().toISOString();
    this.#journal = {
      server: this.#deps.api.baseUrl,
      user: this.#deps.api.user,
      requestId: this.#requestId!,
      templateUuid: this.#plan.template.uuid,
      templateName: this.#plan.template.name,
      smartcardUuid: this.#plan.renew?.smartcardUuid ?? null,
      step: this.#plan.renew ? "keygen" : "bind",
      createdCard: this.#cardCreated,
      containerIds: [],
      startedAt: now,
      updatedAt: now,
    };
    this.#card.setJournal(this.#journal);
  }

  async #bind(requestId: string): Promise<string> {
    const { api, steps } = this.#deps;
    const card = this.#card;
    return steps.run("bind-card", "Bind card to request", async () => {
      const smartcardUuid = await api.bindSmartcard(requestId, card.cardId, card.atr);
      this.#record("bind", { smartcardUuid });
      const smartcard = await api.getSmartcard(smartcardUuid);
      if (smartcard.cardId && smartcard.cardId !== card.cardId) {
        throw new ProtocolError(`the server bound card ${smartcard.cardId}, not ${card.cardId}`);
      }
      return smartcardUuid;
    });
  }

  /** One challenge, one server response; false when the response does not open the card. */
  async #adminAuth(requestId: string, smartcardUuid: string, diversified: boolean): Promise<boolean> {
    const card = this.#card;
    const challenge = card.getChallenge();
    const response = await this.#deps.api.getAuthenticationResponse(requestId, smartcardUuid, card.cardId, card.atr, challenge, diversified);
    try {
      card.authenticateAdmin(response);
      return true;
    } catch (err) {
      if (err instanceof AdminAuthError) return false;
      throw err;
    }
  }

  async #establishAdminKey(requestId: string, smartcardUuid: string): Promise<void> {
    if (!this.#plan.smartcardConfig.diversifyAdminKey) return;
    this.#record("admin-key");
    const { api, steps } = this.#deps;
    const card = this.#card;
    await steps.run("admin-key", "Set card admin key", async () => {
      const diversified = await api.getDiversifiedKey(requestId, smartcardUuid, card.cardId, card.atr);
      try {
        if (await this.#adminAuth(requestId, smartcardUuid, false)) {
          card.changeAdminKey(diversified);
          return "diversified";
        }
        // A card enrolled before under this template already carries its diversified key.
        if (await this.#adminAuth(requestId, smartcardUuid, true)) {
          card.endAdminSession();
          return "already diversified";
        }
      } finally {
        diversified.fill(0);
      }
      throw new AdminAuthError("the card's admin key is neither the template's default key nor the card's diversified key");
    }, (how) => how);
  }

  /**
   * Renew: the card takes the diversified key of the current master-secret version (SPEC §9),
   * opened with a response under the key it holds now. Done after installation, so a failure
   * earlier leaves the card's admin key untouched.
   */
  async #moveAdminKey(requestId: string, smartcardUuid: string): Promise<void> {
    if (!this.#plan.smartcardConfig.diversifyAdminKey) return;
    const { api, steps } = this.#deps;
    const card = this.#card;
    await steps.run("admin-key", "Update card admin key", async () => {
      const current = await api.getDiversifiedKey(requestId, smartcardUuid, card.cardId, card.atr);
      try {
        if (!(await this.#adminAuth(requestId, smartcardUuid, true))) {
          throw new AdminAuthError("the server's admin response does not open the card");
        }
        card.changeAdminKey(current);
      } finally {
        current.fill(0);
      }
    });
  }

  /**
   * After a completed renewal the server has superseded the card's earlier certificates; their
   * keys are removed from the card. Best effort: the renewal stands whatever happens here.
   */
  async #removeSuperseded(previous: string[]): Promise<string[]> {
    const { api, steps } = this.#deps;
    const card = this.#card;
    if (previous.length === 0) return [];
    try {
      return await steps.run("remove-superseded", "Remove superseded certificates from card", async () => {
        const superseded = new Set(
          (await api.listCertificates()).filter((c) => c.status === CertificateStatus.Superseded).map((c) => normaliseSerial(c.serialNumber)),
        );
        const removed: string[] = [];
        for (const c of card.containers()) {
          if (!previous.includes(c.id) || !c.certificate) continue;
          const serial = certificateInfo(c.certificate).serialNumber;
          if (!superseded.has(normaliseSerial(serial))) continue;
          card.deleteContainer(c.id);
          removed.push(serial);
        }
        return removed;
      }, (r) => `${r.length} removed`);
    } catch (err) {
      steps.notice(`superseded certificates stay on card ${card.cardId}: ${(err as Error).message}`);
      return [];
    }
  }

  async #setPin(requestId: string, smartcardUuid: string): Promise<{ pin: string; serverProposedPin?: string }> {
    const { api, steps } = this.#deps;
    const config = this.#plan.smartcardConfig;
    const card = this.#card;
    const serverChooses = !needsUserPin(config);
    if (config.userPinOption === UserPinOption.None && card.pinStatus().set) {
      if (!this.#plan.pin) throw new InputError("the card's PIN is needed to sign the certificate requests");
      return { pin: this.#plan.pin };
    }
    this.#record("pin");
    return steps.run("set-pin", serverChooses ? "Set server-proposed PIN" : "Set user PIN", async () => {
      const pin = serverChooses ? await api.getServerProposedPin(smartcardUuid) : this.#plan.pin;
      if (!pin) throw new InputError("no PIN was given for the card");
      if (!(await this.#adminAuth(requestId, smartcardUuid, config.diversifyAdminKey))) {
        throw new AdminAuthError("the server's admin response does not open the card");
      }
      const maxAttempts = config.userPinPolicy.maxAttempts;
      card.resetPin(pin, maxAttempts > 0 && maxAttempts <= 255 ? maxAttempts : undefined);
      card.endAdminSession();
      return serverChooses ? { pin, serverProposedPin: pin } : { pin };
    });
  }

  async #generateRequests(requestId: string, pin: string): Promise<Buffer[]> {
    const { api, steps } = this.#deps;
    const card = this.#card;
    this.#record("keygen");
    const options = await steps.run("generation-options", "Read certificate request options", () => api.getGenerationOptions(requestId), (o) =>
      `${o.length} certificate${o.length === 1 ? "" : "s"}`,
    );
    card.verifyPin(pin);
    const csrs: Buffer[] = [];
    for (const [i, option] of options.entries()) {
      const spec = parseKeySpec(option.keyAlgorithmName, option.keySize);
      const hash = parseHashName(option.hashAlgorithmName);
      const container = await steps.run(`keygen-${i}`, `Generate ${describeKeySpec(spec)} key on card`, async () => {
        const c = await card.generateKey(spec, option.friendlyName);
        this.#record("keygen", { containerIds: [...this.#journal!.containerIds, c.id] });
        return c;
      });
      const csr = await steps.run(`csr-${i}`, `Create certificate request (${hash})`, () =>
        buildCsr({
          subject: encodableSubject(option.subject),
          subjectPublicKeyInfo: container.publicKey,
          algorithm: spec.algorithm,
          hash,
          sign: (tbs) => card.sign(container.id, hash, tbs),
        }),
      );
      csrs.push(csr);
    }
    return csrs;
  }

  #install(answers: Awaited<ReturnType<ApiClient["submitCertificateRequests"]>>): IssuedCertificateInfo[] {
    const card = this.#card;
    const installed: IssuedCertificateInfo[] = [];
    for (const answer of answers) {
      if (answer.error) throw new ProtocolError(`the server could not issue ${answer.templateCommonName || "a certificate"}: ${answer.error}`);
      if (answer.isPfx || !answer.pkcs7) {
        throw new ProtocolError(
          `${answer.templateCommonName || "a certificate"} came with a server-generated key (PFX); this client installs only certificates for keys made on the card`,
        );
      }
      for (const done of installCertificateAnswer(card, answer.pkcs7, {
        installCaCertificates: !this.#plan.smartcardConfig.doNotInstallCaCertificates,
      })) {
        installed.push({ containerId: done.containerId, ...certificateInfo(done.certificate) });
      }
    }
    const missing = this.#journal!.containerIds.filter((id) => !card.containers().find((c) => c.id === id)?.certificate);
    if (missing.length > 0) throw new CertificateMismatchError(`the server sent no certificate for ${missing.length} of the card's new keys`);
    return installed;
  }

  /** Ends the request and removes what this run put on the card, as a crash recovery would. */
  async #cleanUp(): Promise<void> {
    const { steps, store } = this.#deps;
    const api = this.#deps.api.withSignal(undefined, 15_000);
    if (this.#locked && this.#card.journal) {
      const locked = this.#locked;
      await steps
        .run("cleanup", "Abandon unfinished enrollment", () => resolveInterruptedEnrollment(api, store, locked), (o) => o?.message)
        .then((o) => {
          if (o && !o.resolved) steps.notice(o.message);
        })
        .catch((err: unknown) => steps.notice(`clean-up failed: ${(err as Error).message}`));
      return;
    }
    // The request exists but no card carries its journal yet (the card was never created, or
    // the run stopped before touching the given card).
    if (this.#requestId && (!this.#locked || this.#createdRequest)) {
      const requestId = this.#requestId;
      await steps
        .run("cleanup", "Cancel unfinished request", async () => {
          const r = await api.getRequest(requestId);
          if (r.status === RequestStatus.Approved) return api.setRequestStatus(requestId, "Canceled");
          return r;
        }, (r) => `request ${requestId} ${requestStatusName(r.status)}`)
        .catch((err: unknown) => steps.notice(`request ${requestId} could not be canceled: ${(err as Error).message}`));
    }
  }
}

/** Serial numbers compare equal whatever case and leading zeros each side used. */
export function normaliseSerial(serial: string): string {
  return serial.trim().toUpperCase().replace(/^0+(?=.)/, "");
}

export function runEnrollment(plan: EnrollPlan, deps: EnrollDeps): Promise<EnrollOutcome> {
  return new Enrollment(plan, deps).run();
}
