// Software profiles (SPEC §7.3 Enroll on a software template, Recover / RecoverOnBehalf): the
// server generates the key and hands it out as a password-protected PKCS#12 (PFX), which this
// module writes to a file. No terminal I/O; steps are reported through a StepRunner.
import { existsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { writeFileAtomic } from "./card/atomic-write.js";
import type { ApiClient } from "./api.js";
import { endUnfinishedRequest } from "./enroll-recovery.js";
import { normaliseSerial } from "./enroll-flow.js";
import { InputError } from "./errors.js";
import type { StepRunner } from "./steps.js";
import { RequestStatus, requestStatusName } from "./wire-enums.js";
import { EMPTY_GUID, ProtocolError, type CertificateAnswer, type ClmCertificateView, type ProfileTemplateView } from "./wire.js";

/** The server's rule (issuance.ts refuses shorter ones with 400), checked before anything is asked. */
export const PFX_PASSWORD_MIN_LENGTH = 4;

export function pfxPasswordProblem(password: string): string | null {
  if (password === "") return "the PFX password must not be empty: the file holds a private key";
  if ([...password].length < PFX_PASSWORD_MIN_LENGTH) return `the PFX password must have at least ${PFX_PASSWORD_MIN_LENGTH} characters`;
  return null;
}

/** Output file names: FILE for the first PFX, FILE-2.pfx, FILE-3.pfx … for further ones. */
export function pfxFileNames(out: string, count: number): string[] {
  const path = resolve(out);
  const ext = extname(path);
  const stem = ext ? path.slice(0, -ext.length) : path;
  return Array.from({ length: count }, (_, i) => (i === 0 ? path : `${stem}-${i + 1}${ext || ".pfx"}`));
}

/** Refuses, before any request exists, an output that would overwrite a file or cannot be written. */
export function checkPfxOutput(out: string, force: boolean): void {
  const path = resolve(out);
  let dirOk = false;
  try {
    dirOk = statSync(dirname(path)).isDirectory();
  } catch {
    // reported below
  }
  if (!dirOk) throw new InputError(`--out ${out}: the directory ${dirname(path)} does not exist`);
  if (!force && existsSync(path)) throw new InputError(`--out ${out}: the file exists (use --force to replace it)`);
}

export interface DeliveredCertificate {
  templateCommonName: string;
  serialNumber: string;
  subject: string | null;
  notAfter: string | null;
}

export interface ProfileDelivery {
  kind: "completed";
  requestId: string;
  profileUuid: string;
  files: string[];
  certificates: DeliveredCertificate[];
}

export type ProfileOutcome = ProfileDelivery | { kind: "pending"; requestId: string };

export interface SoftwarePlan {
  pfxPassword: string;
  out: string;
  force: boolean;
  dataCollection: Record<string, string>[];
  comment: string;
  /** Continue this request (approved after waiting) instead of creating one. */
  requestId?: string;
}

export interface SoftwareEnrollPlan extends SoftwarePlan {
  template: ProfileTemplateView;
}

export interface RecoverPlan extends SoftwarePlan {
  profileUuid: string;
  /** RecoverOnBehalf: a helpdesk operator or agent recovers the user's keys. */
  onBehalf: boolean;
}

interface Deps {
  api: ApiClient;
  steps: StepRunner;
}

function writePfx(path: string, der: Buffer, force: boolean): void {
  if (force) writeFileAtomic(path, der, 0o600);
  else writeFileSync(path, der, { mode: 0o600, flag: "wx" });
}

/** Request, PFX delivery, files, completion; the request is ended and the files removed on failure. */
async function deliver(
  deps: Deps,
  plan: SoftwarePlan,
  create: () => Promise<string>,
  profileOf: (completed: { newProfileUuid: string; oldProfileUuid: string }) => string,
  expectIssuing: boolean,
): Promise<ProfileOutcome> {
  const { api, steps } = deps;
  let requestId = plan.requestId ?? null;
  const written: string[] = [];
  let completed = false;
  try {
    if (!requestId) requestId = await steps.run("create-request", "Create request", create, (id) => id);
    const id = requestId;
    const request = await steps.run("check-request", "Check request status", () => api.getRequest(id), (r) => requestStatusName(r.status));
    if (request.status === RequestStatus.Pending) return { kind: "pending", requestId: id };
    if (request.status !== RequestStatus.Approved && request.status !== RequestStatus.Executing) {
      throw new InputError(`request ${id} is ${requestStatusName(request.status)}; only an Approved request can be executed`);
    }
    if (expectIssuing) {
      const options = await steps.run("generation-options", "Read certificate request options", () => api.getGenerationOptions(id), (o) =>
        o.length === 0 ? "all keys server-generated" : `${o.length} client key${o.length === 1 ? "" : "s"}`,
      );
      if (options.length > 0) {
        throw new InputError("this template wants keys made by the client; this command handles server-generated software profiles only");
      }
    }
    const answers = await steps.run("certificatedata", "Get the server-generated keys (PFX)", () => api.submitCertificateRequests(id, [], plan.pfxPassword), (a) =>
      `${a.length} certificate${a.length === 1 ? "" : "s"}`,
    );
    const pfxs = answers.map(pfxOf);
    if (pfxs.length === 0) throw new ProtocolError("the server delivered no PFX");
    const files = pfxFileNames(plan.out, pfxs.length);
    await steps.run("write", "Write PFX file", () => {
      for (const [i, der] of pfxs.entries()) {
        writePfx(files[i]!, der, plan.force);
        written.push(files[i]!);
      }
    }, () => files.join(", "));
    const done = await steps.run("complete", "Complete request", () => api.setRequestStatus(id, "Completed"), (r) => requestStatusName(r.status));
    completed = true;
    const profileUuid = profileOf(done);
    const certificates = await describeCertificates(api, profileUuid, answers).catch((err: unknown) => {
      steps.notice(`certificate details unavailable: ${(err as Error).message}`);
      return answers.map((a) => ({ templateCommonName: a.templateCommonName, serialNumber: "", subject: null, notAfter: null }));
    });
    return { kind: "completed", requestId: id, profileUuid, files, certificates };
  } catch (err) {
    if (!completed) {
      // An abandoned request's certificates are revoked: a PFX left behind would be useless.
      for (const f of written) {
        try {
          unlinkSync(f);
        } catch {
          // already gone
        }
      }
      if (requestId) {
        const id = requestId;
        await steps
          .run("cleanup", "End unfinished request", () => endUnfinishedRequest(api.withSignal(undefined, 15_000), id), (s) => `request ${id} ${requestStatusName(s)}`)
          .catch((e: unknown) => steps.notice(`request ${id} could not be ended: ${(e as Error).message}`));
      }
    }
    throw err;
  }
}

function pfxOf(answer: CertificateAnswer): Buffer {
  const name = answer.templateCommonName || "a certificate";
  if (answer.error) throw new ProtocolError(`the server could not issue ${name}: ${answer.error}`);
  if (!answer.pfx) throw new ProtocolError(`${name} came without a PFX; this command handles server-generated keys only`);
  return Buffer.from(answer.pfx, "base64");
}

/** Serial numbers from the profile; subject and expiry from the caller's certificate list when it has them. */
async function describeCertificates(api: ApiClient, profileUuid: string, answers: CertificateAnswer[]): Promise<DeliveredCertificate[]> {
  const onProfile = profileUuid !== EMPTY_GUID ? await api.getProfileCertificates(profileUuid) : [];
  const long = await api.listCertificates().catch((): ClmCertificateView[] => []);
  const wanted = new Set(answers.map((a) => a.templateCommonName));
  return onProfile
    .filter((c) => wanted.size === 0 || wanted.has(c.templateCommonName) || c.archivedOnCa)
    .map((c) => {
      const detail = long.find((l) => normaliseSerial(l.serialNumber) === normaliseSerial(c.serialNumber));
      return { templateCommonName: c.templateCommonName, serialNumber: c.serialNumber, subject: detail?.subject ?? null, notAfter: detail?.notAfter ?? null };
    });
}

export function runSoftwareEnrollment(plan: SoftwareEnrollPlan, deps: Deps): Promise<ProfileOutcome> {
  return deliver(
    deps,
    plan,
    () => deps.api.createRequest({ type: "Enroll", profiletemplateuuid: plan.template.uuid, datacollection: plan.dataCollection, comment: plan.comment }),
    (r) => r.newProfileUuid,
    true,
  );
}

export function runProfileRecovery(plan: RecoverPlan, deps: Deps): Promise<ProfileOutcome> {
  return deliver(
    deps,
    plan,
    () =>
      deps.api.createRequest({
        type: plan.onBehalf ? "RecoverOnBehalf" : "Recover",
        profile: plan.profileUuid,
        datacollection: plan.dataCollection,
        comment: plan.comment,
      }),
    (r) => (r.oldProfileUuid !== EMPTY_GUID ? r.oldProfileUuid : plan.profileUuid),
    false,
  );
}
