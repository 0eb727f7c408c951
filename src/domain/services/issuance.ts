// Certificate issuance for a request (SPEC §8): generation options, CSR checks, signing, and
// recording before answering. A second submit of the same CSRs gets the same answer.
// Server-generated keys (software profiles) are delivered as PFX and archived sealed for Recover.
import { createHash } from "node:crypto";
import { requiredFirst, type CertificateRow, type ProfileRow, type RequestRow } from "../../store/store.js";
import type { CertificateTemplateConfig } from "../../config/types.js";
import type { Caller } from "../caller.js";
import { recordAudit } from "../audit.js";
import { CertificateStatus, ProfileStatus, RequestStatus } from "../enums.js";
import { badInput, conflict, forbidden } from "../errors.js";
import { newGuid } from "../guid.js";
import { ISSUING_WORKFLOWS } from "../credential-lifecycle.js";
import { ACTIVE_STATUSES } from "../request-lifecycle.js";
import { clientKeyedCertificates, isSmartcardTemplate, serverKeyedCertificates, type ProfileTemplate } from "../templates.js";
import { renderSubject, sanOf, subjectText, userAttributes, x509KeyUsages, type UserAttributes } from "../subject.js";
import { CsrError, type CsrFacts } from "../../crypto/csr.js";
import type { IssueSpec } from "../../crypto/issuer.js";
import { newSerial } from "../../crypto/ca.js";
import { nameText } from "../../crypto/name.js";
import { certsOnlyPkcs7 } from "../../crypto/cms.js";
import { buildPfx, generateKeyPair } from "../../crypto/pkcs12.js";
import { open, seal } from "../../crypto/envelope.js";
import type { Actor, AppContext } from "./context.js";
import { requestFacts, workflowOf, type RequestService } from "./requests.js";

export interface GenerationOption {
  template: CertificateTemplateConfig;
  subject: string;
}

export type IssuedCertificate =
  | { kind: "pkcs7"; templateName: string; der: Buffer; pkcs7: Buffer }
  | { kind: "pfx"; templateName: string; der: Buffer; pfx: Buffer; keyHistory: boolean };

const CLOCK_SKEW_MS = 5 * 60_000;

const RECOVERIES_PER_REQUEST = 3;
const archiveAad = (serial: string) => `openclm:archived-key:${serial}`;

interface Pending {
  template: CertificateTemplateConfig;
  csr?: CsrFacts;
  keyPkcs8Der?: Buffer;
}

export class IssuanceService {
  constructor(
    private readonly ctx: AppContext,
    private readonly requests: RequestService,
  ) {}

  async generationOptions(caller: Caller, requestId: string): Promise<GenerationOption[]> {
    const { request: r, template: t } = await this.executable(caller, requestId);
    if (!ISSUING_WORKFLOWS.includes(workflowOf(r))) return [];
    const user = await this.targetAttributes(r);
    return clientKeyedCertificates(t).map((c) => ({ template: c, subject: subjectText(renderSubject(c.subject, user)) }));
  }

  async submit(actor: Actor, requestId: string, body: { certificateRequests: string[]; pfxPassword?: string }): Promise<IssuedCertificate[]> {
    const { store } = this.ctx;
    const { request: r, template: t } = await this.executable(actor.caller, requestId);
    const workflow = workflowOf(r);
    if (workflow === "Recover" || workflow === "RecoverOnBehalf") return this.recover(actor, r, body.pfxPassword);
    if (!ISSUING_WORKFLOWS.includes(workflow)) throw conflict("NotAnIssuingRequest", `a ${r.workflow} request issues no certificates`);
    if (!ACTIVE_STATUSES.includes(r.status)) throw conflict("InvalidRequestState", "certificates are issued only while the request is Approved or Executing");
    const clientTemplates = clientKeyedCertificates(t);
    const serverTemplates = serverKeyedCertificates(t);
    if (body.certificateRequests.length !== clientTemplates.length)
      throw badInput("WrongCsrCount", `certificaterequests: expected ${clientTemplates.length} request(s), one per generation option, got ${body.certificateRequests.length}`);
    if (serverTemplates.length > 0) requirePfxPassword(body.pfxPassword);
    // A repeated submit: the same CSRs get the recorded answer; nothing is signed again.
    if (r.csr_fingerprints !== null) {
      const csrs = await Promise.all(body.certificateRequests.map((text, i) => readCsr(this.ctx.ca.parseCsr(text), i)));
      return this.previousAnswer(r, fingerprintsOf(csrs), body.pfxPassword);
    }
    let cardUuid: string | null = null;
    if (isSmartcardTemplate(t)) {
      cardUuid = r.new_smartcard_uuid;
      if (!cardUuid) throw conflict("NoCardBound", "bind a smart card to the request (POST /smartcards) before submitting certificate requests");
    }
    const user = await this.targetAttributes(r);
    const validityCap = workflow === "TemporaryEnroll" ? t.temporaryValidityDays : Infinity;

    // Each CSR is read, verified and — when its key is what the template asks for — signed in one
    // trip to an issuance worker; the template's verdict on the key is given here, with its message.
    const clientKeyed = await Promise.all(
      clientTemplates.map(async (ct, i) => {
        const plan = this.plan(ct, user, validityCap);
        const requirement = { keyAlgorithm: ct.keyAlgorithm, keySize: ct.keySize, signatureHashes: ct.hashAlgorithms };
        return { plan, ...(await readCsr(this.ctx.ca.issueForCsr(body.certificateRequests[i]!, requirement, plan.spec), i)) };
      }),
    );
    clientKeyed.forEach(({ csr }, i) => checkCsrAgainstTemplate(csr, clientTemplates[i]!, i));
    const fingerprints = fingerprintsOf(clientKeyed.map((c) => c.csr));
    const serverKeyed = await Promise.all(
      serverTemplates.map(async (ct) => {
        const kp = await generateKeyPair(ct.keyAlgorithm, ct.keySize);
        const plan = this.plan(ct, user, validityCap);
        return { plan, keyPkcs8Der: kp.pkcs8Der, issued: await this.ctx.ca.issueWithChain({ ...plan.spec, spkiDer: kp.spkiDer }) };
      }),
    );
    const pending: Pending[] = [
      ...clientKeyed.map(({ csr }, i) => ({ template: clientTemplates[i]!, csr })),
      ...serverKeyed.map(({ keyPkcs8Der }, i) => ({ template: serverTemplates[i]!, keyPkcs8Der })),
    ];
    const issued = [...clientKeyed, ...serverKeyed].map(({ plan, issued }, i) => {
      // The worker signs only keys that meet the template's requirement, which checkCsrAgainstTemplate has just confirmed.
      if (!issued) throw new Error(`certificate ${i} of the request was not issued`);
      return { p: pending[i]!, ...issued, serial: plan.serial, facts: plan.facts };
    });

    const at = new Date().toISOString();
    let profile: ProfileRow | undefined;
    if (!isSmartcardTemplate(t) && workflow !== "Renew") profile = newProfile(r, t, at);
    const profileUuid = profile?.uuid ?? r.old_profile_uuid;
    const rows = issued.map(({ p, der, serial, facts }) =>
      certificateRow(der, serial, facts, r, p, { card: cardUuid, profile: profileUuid, at, archive: p.keyPkcs8Der && p.template.archiveKey ? this.ctx.kek : undefined }),
    );

    // Recorded before the answer leaves; a racing submit for the same request loses here.
    const won = await requiredFirst(
      () =>
        store.tx(async (tx) => {
          // Claims the request (and on PostgreSQL locks its row) only while it is active and
          // unsubmitted. The claim and the inserts are required changes: if any changes nothing (a
          // racing submit won), the whole transaction fails and no certificate of ours stays
          // half-recorded. Nobody waits for their answers: on PostgreSQL they go out with the audit
          // record and the COMMIT, one round trip.
          await tx.updateRequestRequired(
            r.uuid,
            {
              csr_fingerprints: fingerprints,
              // Already Executing (a card was bound): the status is not written again, so none of its indexes move.
              ...(r.status === RequestStatus.Executing ? {} : { status: RequestStatus.Executing }),
              updated_at: at,
              ...(profile ? { new_profile_uuid: profile.uuid } : {}),
            },
            [...ACTIVE_STATUSES],
            { unsubmitted: true },
          );
          if (profile) await tx.insertProfile(profile);
          for (const row of rows) await tx.insertCertificateRequired(row);
          await recordAudit(tx, {
            actorUuid: actor.caller.uuid,
            actorName: actor.caller.name,
            action: "certificate.issue",
            targetType: "request",
            targetUuid: r.uuid,
            requestUuid: r.uuid,
            correlationId: actor.correlationId,
            outcome: "success",
            details: { serials: rows.map((x) => x.serial), templates: rows.map((x) => x.template_name), user: r.target_uuid, serverGenerated: serverTemplates.length },
          });
          return true;
        }),
      // A racing submit won: its answer (below) is this one's too.
      async () => false,
    );
    if (!won) {
      const latest = (await store.requestByUuid(r.uuid))!;
      if (latest.csr_fingerprints === null) throw conflict("InvalidRequestState", "the request changed state meanwhile");
      return this.previousAnswer(latest, fingerprints, body.pfxPassword);
    }
    return Promise.all(
      rows.map((row, i) => {
        const key = pending[i]!.keyPkcs8Der;
        return key ? this.pfxAnswer(row, key, body.pfxPassword!, false) : this.pkcs7Answer(row, issued[i]!.pkcs7);
      }),
    );
  }

  /** Recover / RecoverOnBehalf: the profile's archived keys, re-delivered as PFX. */
  private async recover(actor: Actor, r: RequestRow, pfxPassword: string | undefined): Promise<IssuedCertificate[]> {
    if (!ACTIVE_STATUSES.includes(r.status)) throw conflict("InvalidRequestState", "keys are recovered only while the request is Approved or Executing");
    requirePfxPassword(pfxPassword);
    const certs = (await this.ctx.store.certificatesOfProfile(r.old_profile_uuid!)).filter((c) => c.archived_key !== null);
    if (certs.length === 0) throw conflict("NothingArchived", "this profile has no archived keys");
    const taken = await this.ctx.store.tx(async (tx) => {
      const ok = await tx.takeResponseRelease(r.uuid, RECOVERIES_PER_REQUEST);
      if (ok) await tx.updateRequest(r.uuid, { status: RequestStatus.Executing, updated_at: new Date().toISOString() }, [...ACTIVE_STATUSES]);
      await recordAudit(tx, {
        actorUuid: actor.caller.uuid,
        actorName: actor.caller.name,
        action: "key.recover",
        targetType: "profile",
        targetUuid: r.old_profile_uuid,
        requestUuid: r.uuid,
        correlationId: actor.correlationId,
        outcome: ok ? "success" : "denied",
        details: { serials: certs.map((c) => c.serial) },
      });
      return ok;
    });
    if (!taken) throw forbidden("ReleaseBoundReached", "the number of key recoveries for this request is exhausted");
    return Promise.all(certs.map((c) => this.pfxAnswer(c, open(this.ctx.kek, c.archived_key!, archiveAad(c.serial)), pfxPassword!, c.status !== CertificateStatus.Valid)));
  }

  /** Same CSRs → the stored certificates again; different CSRs → 409. */
  private async previousAnswer(r: RequestRow, fingerprints: string, pfxPassword: string | undefined): Promise<IssuedCertificate[]> {
    if (r.csr_fingerprints !== fingerprints)
      throw conflict("AlreadyIssued", "certificates were already issued for this request with different certificate requests");
    const certs = await this.ctx.store.certificatesOfRequest(r.uuid);
    const order = JSON.parse(fingerprints) as string[];
    const clientKeyed = order.map((fp) => certs.find((c) => c.csr_fingerprint === fp)!);
    const serverKeyed = certs.filter((c) => c.csr_fingerprint === null);
    if (serverKeyed.some((c) => !c.archived_key)) throw conflict("AlreadyDelivered", "the server-generated keys of this request were delivered already and are not archived");
    if (serverKeyed.length > 0) requirePfxPassword(pfxPassword);
    return Promise.all([
      ...clientKeyed.map((c) => this.pkcs7Answer(c)),
      ...serverKeyed.map((c) => this.pfxAnswer(c, open(this.ctx.kek, c.archived_key!, archiveAad(c.serial)), pfxPassword!, false)),
    ]);
  }

  /** What a certificate of template ct for the user will say, all but its key: serial, names, validity, extensions. */
  private plan(ct: CertificateTemplateConfig, user: UserAttributes, validityCapDays: number) {
    const now = Date.now();
    const base = this.ctx.publicBaseUrl.replace(/\/$/, "");
    const serial = newSerial();
    const days = Math.min(ct.validityDays, validityCapDays);
    const subject = renderSubject(ct.subject, user);
    const validity = this.ctx.ca.validity({
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(Math.min(now + days * 86_400_000, this.ctx.ca.issuingNotAfter.getTime())),
    });
    const spec: Omit<IssueSpec, "spkiDer"> = {
      serial,
      subject,
      ...validity,
      keyUsage: x509KeyUsages(ct),
      extendedKeyUsages: ct.extendedKeyUsages,
      san: sanOf(ct, user),
      crlDistributionPoint: `${base}/CertificateManagement/api/v1.0/ca/crl`,
      caIssuersUrl: `${base}/CertificateManagement/api/v1.0/ca/issuer.cer`,
    };
    // The record's text fields come from what is encoded rather than from parsing it back.
    return { spec, serial, facts: { subject: nameText(subject), issuer: this.ctx.ca.issuerName, ...validity } };
  }

  /** `pkcs7`: the one the issuance worker built with the certificate, else built here. */
  private pkcs7Answer(c: CertificateRow, pkcs7 = certsOnlyPkcs7([c.der, ...this.ctx.ca.chainDer])): IssuedCertificate {
    return { kind: "pkcs7", templateName: c.template_name, der: c.der, pkcs7 };
  }

  private async pfxAnswer(c: CertificateRow, keyPkcs8Der: Buffer, password: string, keyHistory: boolean): Promise<IssuedCertificate> {
    const pfx = await buildPfx({ keyPkcs8Der, certDer: c.der, chainDer: this.ctx.ca.chainDer, password, friendlyName: c.template_name });
    return { kind: "pfx", templateName: c.template_name, der: c.der, pfx, keyHistory };
  }

  private async executable(caller: Caller, requestId: string): Promise<{ request: RequestRow; template: ProfileTemplate }> {
    const r = await this.requests.get(caller, requestId);
    const t = this.ctx.catalog.get(r.template_uuid);
    if (!t || !this.ctx.permissions.mayExecute(caller, t, requestFacts(r))) throw forbidden("NotAuthorized", "you may not execute this request");
    return { request: r, template: t };
  }

  private async targetAttributes(r: RequestRow): Promise<UserAttributes> {
    const u = await this.ctx.store.userByUuid(r.target_uuid);
    if (!u) throw conflict("UnknownUser", "the request's target user no longer exists");
    // An agent's open request does not outlive the disabling of the user it was for.
    if (u.disabled) throw conflict("UserDisabled", "the request's target user is disabled");
    return userAttributes({ name: u.name, displayName: u.display_name, email: u.email, upn: u.upn });
  }
}

/** A CSR read on a worker; its CsrError becomes the API caller's 400, naming which request it was. */
function readCsr<T>(reading: Promise<T>, i: number): Promise<T> {
  return reading.catch((e: unknown) => {
    if (e instanceof CsrError) throw badInput("InvalidCsr", `certificaterequests[${i}]: ${e.message}`);
    throw e;
  });
}

const fingerprintsOf = (csrs: CsrFacts[]) => JSON.stringify(csrs.map((c) => c.fingerprint));

function requirePfxPassword(password: string | undefined): void {
  if (!password) throw badInput("PfxPasswordRequired", "pfxpassword: required to protect the server-generated private key");
  if (password.length < 4) throw badInput("PfxPasswordTooShort", "pfxpassword: at least 4 characters");
}

function newProfile(r: RequestRow, t: ProfileTemplate, at: string): ProfileRow {
  return {
    uuid: newGuid(),
    status: ProfileStatus.New,
    flags: 1,
    parent_uuid: null,
    primary_uuid: null,
    assigned_user_uuid: r.target_uuid,
    template_uuid: t.uuid,
    template_version: t.version,
    comment: "",
    request_uuid: r.uuid,
    created_at: at,
    updated_at: at,
  };
}

interface CertificateFacts {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
}

function certificateRow(
  der: Buffer,
  serial: Buffer,
  facts: CertificateFacts,
  r: RequestRow,
  p: Pending,
  where: { card: string | null; profile: string | null; at: string; archive?: Buffer },
): CertificateRow {
  const serialHex = serial.toString("hex").toUpperCase();
  return {
    serial: serialHex,
    request_uuid: r.uuid,
    smartcard_uuid: where.card,
    profile_uuid: where.card ? null : where.profile,
    user_uuid: r.target_uuid,
    template_name: p.template.name,
    der,
    thumbprint: createHash("sha1").update(der).digest("hex").toUpperCase(),
    subject: facts.subject,
    issuer: facts.issuer,
    not_before: facts.notBefore.toISOString(),
    not_after: facts.notAfter.toISOString(),
    status: CertificateStatus.Valid,
    revoked_at: null,
    revocation_reason: null,
    archived_key: where.archive && p.keyPkcs8Der ? seal(where.archive, p.keyPkcs8Der, archiveAad(serialHex)) : null,
    csr_fingerprint: p.csr?.fingerprint ?? null,
    created_at: where.at,
  };
}

const EC_SIZES: Record<string, number> = { ECDSA_P256: 256, ECDSA_P384: 384 };

export function checkCsrAgainstTemplate(csr: CsrFacts, t: CertificateTemplateConfig, i: number): void {
  const where = `certificaterequests[${i}]`;
  if (csr.keyAlgorithm !== t.keyAlgorithm) {
    const got = csr.keyAlgorithm === "ECDSA_OTHER" ? "an ECDSA key on an unsupported curve" : `a ${csr.keyAlgorithm} key`;
    throw badInput("WrongKeyAlgorithm", `${where}: certificate template ${t.name} requires ${t.keyAlgorithm} keys, the request has ${got}`);
  }
  const size = csr.keyAlgorithm === "RSA" ? csr.keySize : EC_SIZES[csr.keyAlgorithm];
  if (size !== t.keySize)
    throw badInput("WrongKeySize", `${where}: certificate template ${t.name} requires ${t.keyAlgorithm} ${t.keySize}-bit keys, the request has ${size} bits`);
  if (!t.hashAlgorithms.includes(csr.signatureHash as never))
    throw badInput(
      "HashNotAllowed",
      `${where}: the request is signed with ${csr.signatureHash}, which certificate template ${t.name} does not allow (allowed: ${t.hashAlgorithms.join(", ")})`,
    );
}

