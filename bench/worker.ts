// Load-generator worker (node:worker_threads). Each job runs a number of virtual clients, each
// on its own keep-alive connection, one call after another, and reports per-endpoint latencies
// (performance.now()) of the calls that ended inside the measured window.
import { parentPort } from "node:worker_threads";
import { createCipheriv, createPrivateKey, randomBytes, randomUUID, sign } from "node:crypto";
import { performance } from "node:perf_hooks";
import { basicAuth, HttpClient, type HttpResult } from "./http.js";
import { Samples } from "./stats.js";
import {
  hrNow,
  type CfsslJob,
  type EnrollJob,
  type ErrorReport,
  type IssueJob,
  type Job,
  type JobMessage,
  type LoadResult,
  type PrepJob,
  type ResultMessage,
  type SignJob,
  type SignResult,
} from "./protocol.js";

export const VPN = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";
const MAX_ERRORS = 2000;

// ---------------------------------------------------------------------------------------------
// The fast in-process card: a 24-byte 3DES admin key, one-shot 8-byte challenges, and a CSR
// taken from the pool generated before the timed part.

function des3(key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv("des-ede3-ecb", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

class FastCard {
  readonly cardId = randomUUID().toUpperCase();
  private adminKey: Buffer;
  private challenge?: Buffer;
  private authenticated = false;

  constructor(defaultAdminKeyHex: string) {
    this.adminKey = Buffer.from(defaultAdminKeyHex, "hex");
  }

  getChallenge(): Buffer {
    this.challenge = randomBytes(8);
    return this.challenge;
  }

  authenticate(response: Buffer): boolean {
    const expected = this.challenge && des3(this.adminKey, this.challenge);
    this.challenge = undefined;
    this.authenticated = !!expected && expected.equals(response);
    return this.authenticated;
  }

  setAdminKey(key: Buffer): void {
    if (!this.authenticated) throw new Error("card: admin authentication required");
    this.adminKey = key;
    this.authenticated = false;
  }

  setPin(_pin: string): void {
    if (!this.authenticated) throw new Error("card: admin authentication required");
    this.authenticated = false;
  }
}

// ---------------------------------------------------------------------------------------------

class StepError extends Error {
  constructor(
    readonly endpoint: string,
    message: string,
  ) {
    super(message);
  }
}

class Recorder {
  readonly calls = new Map<string, Samples>();
  readonly flows = new Samples();
  readonly errors: ErrorReport = { inWindow: 0, outside: 0, byEndpoint: {}, examples: [] };

  constructor(
    private readonly measureAt: number,
    private readonly stopAt: number,
  ) {}

  inWindow(t: number): boolean {
    return t >= this.measureAt && t < this.stopAt;
  }

  call(endpoint: string, ms: number, endedAt: number): void {
    if (!this.inWindow(endedAt)) return;
    let s = this.calls.get(endpoint);
    if (!s) this.calls.set(endpoint, (s = new Samples()));
    s.push(ms);
  }

  flow(ms: number, endedAt: number): void {
    if (this.inWindow(endedAt)) this.flows.push(ms);
  }

  error(endpoint: string, message: string): void {
    if (this.inWindow(hrNow())) this.errors.inWindow++;
    else this.errors.outside++;
    this.errors.byEndpoint[endpoint] = (this.errors.byEndpoint[endpoint] ?? 0) + 1;
    const example = `${endpoint}: ${message}`.slice(0, 300);
    if (this.errors.examples.length < 8 && !this.errors.examples.includes(example)) this.errors.examples.push(example);
  }

  get totalErrors(): number {
    return this.errors.inWindow + this.errors.outside;
  }

  result(extra: Partial<LoadResult> = {}): { result: LoadResult; transfer: ArrayBuffer[] } {
    const calls: Record<string, Float64Array> = {};
    for (const [k, s] of this.calls) calls[k] = s.take();
    const flows = this.flows.take();
    const result: LoadResult = { calls, flows, errors: this.errors, endedAt: hrNow(), exhausted: false, requestIds: [], ...extra };
    return { result, transfer: [flows.buffer as ArrayBuffer, ...Object.values(calls).map((c) => c.buffer as ArrayBuffer)] };
  }
}

/** One timed call; a status other than `expect` or a failed check is a StepError. */
async function step(
  http: HttpClient,
  rec: Recorder,
  endpoint: string,
  method: string,
  path: string,
  body: string | undefined,
  expect: number,
): Promise<any> {
  const t0 = performance.now();
  let res: HttpResult;
  try {
    res = await http.request(method, path, body);
  } catch (e) {
    throw new StepError(endpoint, (e as Error).message);
  }
  const ms = performance.now() - t0;
  if (res.status !== expect) throw new StepError(endpoint, `HTTP ${res.status} (expected ${expect}): ${res.text.slice(0, 200)}`);
  let json: unknown;
  try {
    json = res.text === "" ? undefined : JSON.parse(res.text);
  } catch {
    throw new StepError(endpoint, `not JSON: ${res.text.slice(0, 100)}`);
  }
  rec.call(endpoint, ms, hrNow());
  return json;
}

function check(ok: unknown, endpoint: string, what: string): void {
  if (!ok) throw new StepError(endpoint, `unexpected answer: ${what}`);
}

const lastSegment = (uri: unknown): string => (typeof uri === "string" ? uri.split("/").pop()! : "");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Endpoint names: walkthrough step number, method, path shape.
export const ENROLL_STEPS = [
  "1 GET /profiletemplates",
  "3 GET /profiletemplates/{t}/policies/enroll",
  "5 POST /requests",
  "7 GET /requests/{r}",
  "12 GET /profiletemplates/{t}/configuration/smartcards",
  "14 POST /smartcards",
  "16 GET /smartcards/{s}",
  "18 GET /requests/{r}/smartcards/{s}/diversifiedkey",
  "19 GET …/authenticationresponse diversified=false",
  "22 GET …/authenticationresponse diversified=true",
  "24 GET /requests/{r}/certificaterequestgenerationoptions",
  "26 POST /requests/{r}/certificatedata",
  "28 PUT /requests/{r} Completed",
] as const;
const S = ENROLL_STEPS;

/** All API calls of the 28-step seed walkthrough, as alice, for the VPN virtual smart card. */
async function enrollOnce(http: HttpClient, rec: Recorder, csrB64: string): Promise<void> {
  // 1–2. templates the user may enroll for; pick the VPN virtual smart card
  const templates = await step(http, rec, S[0], "GET", "/profiletemplates", undefined, 200);
  check(Array.isArray(templates) && templates.some((t: any) => t.Uuid === VPN && t.IsVirtualSmartcardProfileTemplate), S[0], "no VPN template");
  // 3–4. the enrollment policy: one data item, no comments
  const policy = await step(http, rec, S[1], "GET", `/profiletemplates/${VPN}/policies/enroll`, undefined, 200);
  check(policy?.DataCollection?.[0]?.Name === "Request Reason" && policy.CollectComments === false, S[1], "policy");
  // 5–6. create the request
  const created = await step(
    http,
    rec,
    S[2],
    "POST",
    "/requests",
    JSON.stringify({ datacollection: [{ "Request Reason": "bench" }], type: "Enroll", profiletemplateuuid: VPN, comment: "" }),
    201,
  );
  const requestId = lastSegment(created);
  check(requestId.length === 36, S[2], "request URI");
  // 7–11. the request is approved and has no card yet
  const request = await step(http, rec, S[3], "GET", `/requests/${requestId}`, undefined, 200);
  check(request?.Status === 3 && request.NewSmartcardUuid === EMPTY_GUID, S[3], `status ${request?.Status}`);
  // 12–13. the smart card policy: default admin key, diversification, user PIN
  const config = await step(http, rec, S[4], "GET", `/profiletemplates/${VPN}/configuration/smartcards`, undefined, 200);
  check(typeof config?.DefaultAdminKeyHex === "string" && config.DiversifyAdminKey === true, S[4], "smart card configuration");
  const card = new FastCard(config.DefaultAdminKeyHex);
  // 14–15. bind the new virtual card to the request
  const bound = await step(http, rec, S[5], "POST", "/smartcards", JSON.stringify({ requestid: requestId, cardid: card.cardId }), 201);
  const scid = lastSegment(bound);
  check(scid.length === 36, S[5], "smart card URI");
  // 16. read the card
  const sc = await step(http, rec, S[6], "GET", `/smartcards/${scid}`, undefined, 200);
  check(sc?.Uuid === scid, S[6], "smart card");
  // 17–18. the diversified admin key
  const base = `/requests/${requestId}/smartcards/${scid}`;
  const key = await step(http, rec, S[7], "GET", `${base}/diversifiedkey?cardid=${card.cardId}`, undefined, 200);
  const diversified = Buffer.from(String(key), "base64");
  check(diversified.length === 24, S[7], "24-byte key");
  // 19–20. admin authentication with the default key, then the key is diversified
  const ch1 = card.getChallenge();
  const r1 = await step(http, rec, S[8], "GET", `${base}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch1.toString("base64"))}&diversified=false`, undefined, 200);
  check(card.authenticate(Buffer.from(String(r1), "base64")), S[8], "challenge response does not authenticate");
  card.setAdminKey(diversified);
  // 21–23. the user's PIN is set under the diversified key
  const ch2 = card.getChallenge();
  const r2 = await step(http, rec, S[9], "GET", `${base}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch2.toString("base64"))}&diversified=true`, undefined, 200);
  check(card.authenticate(Buffer.from(String(r2), "base64")), S[9], "challenge response does not authenticate");
  card.setPin("12345678");
  // 24–25. generation options
  const options = await step(http, rec, S[10], "GET", `/requests/${requestId}/certificaterequestgenerationoptions`, undefined, 200);
  check(Array.isArray(options) && options.length === 1 && options[0].KeyAlgorithmName === "RSA" && options[0].KeySize === 2048, S[10], "generation options");
  // 26–27. submit the (pre-made) CSR, receive a certs-only PKCS#7
  const issued = await step(http, rec, S[11], "POST", `/requests/${requestId}/certificatedata`, JSON.stringify({ pfxpassword: "", certificaterequests: [csrB64] }), 200);
  check(Array.isArray(issued) && issued.length === 1 && issued[0].isPkcs7 === true && typeof issued[0].Pkcs7 === "string" && issued[0].Pkcs7.length > 100, S[11], "certificate");
  // 28. complete the request
  const done = await step(http, rec, S[12], "PUT", `/requests/${requestId}`, JSON.stringify({ status: "Completed" }), 200);
  check(done?.Status === 8, S[12], `status ${done?.Status}`);
}

async function runEnroll(job: EnrollJob) {
  const rec = new Recorder(job.measureAt, job.stopAt);
  const http = new HttpClient(job.url, job.clients, basicAuth(job.user, job.password));
  let n = 0;
  await Promise.all(
    Array.from({ length: job.clients }, async (_, c) => {
      while (hrNow() < job.stopAt && rec.totalErrors < MAX_ERRORS) {
        const csr = job.csrs[(job.clientBase + c + n++) % job.csrs.length]!;
        const t0 = performance.now();
        try {
          await enrollOnce(http, rec, csr);
          rec.flow(performance.now() - t0, hrNow());
        } catch (e) {
          rec.error(e instanceof StepError ? e.endpoint : "client", (e as Error).message);
          await sleep(10);
        }
      }
    }),
  );
  http.close();
  return rec.result();
}

/** Requests that are approved and have a card bound: ready for `certificatedata`. */
async function runPrep(job: PrepJob) {
  const rec = new Recorder(0, 0);
  const http = new HttpClient(job.url, job.clients, basicAuth(job.user, job.password));
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      while (next < job.count && hrNow() < job.stopAt && rec.totalErrors < MAX_ERRORS) {
        next++;
        try {
          const created = await step(
            http,
            rec,
            "POST /requests",
            "POST",
            "/requests",
            JSON.stringify({ datacollection: [{ "Request Reason": "bench" }], type: "Enroll", profiletemplateuuid: job.template, comment: "" }),
            201,
          );
          const requestId = lastSegment(created);
          await step(http, rec, "POST /smartcards", "POST", "/smartcards", JSON.stringify({ requestid: requestId, cardid: randomUUID() }), 201);
          ids.push(requestId);
        } catch (e) {
          rec.error(e instanceof StepError ? e.endpoint : "client", (e as Error).message);
          await sleep(10);
        }
      }
    }),
  );
  http.close();
  return rec.result({ requestIds: ids });
}

export const ISSUE_ENDPOINT = "POST /requests/{r}/certificatedata";

async function runIssue(job: IssueJob) {
  const rec = new Recorder(job.measureAt, job.stopAt);
  const http = new HttpClient(job.url, job.clients, basicAuth(job.user, job.password));
  let next = 0;
  let exhausted = false;
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      while (hrNow() < job.stopAt && rec.totalErrors < MAX_ERRORS) {
        if (next >= job.requestIds.length) {
          exhausted = true;
          break;
        }
        const i = next++;
        const body = JSON.stringify({ pfxpassword: "", certificaterequests: [job.csrs[i % job.csrs.length]!] });
        try {
          const issued = await step(http, rec, ISSUE_ENDPOINT, "POST", `/requests/${job.requestIds[i]}/certificatedata`, body, 200);
          check(Array.isArray(issued) && issued.length === 1 && issued[0].isPkcs7 === true && typeof issued[0].Pkcs7 === "string", ISSUE_ENDPOINT, "certificate");
        } catch (e) {
          rec.error(e instanceof StepError ? e.endpoint : "client", (e as Error).message);
          await sleep(10);
        }
      }
    }),
  );
  http.close();
  return rec.result({ exhausted });
}

export const CFSSL_ENDPOINT = "POST /api/v1/cfssl/sign";

async function runCfssl(job: CfsslJob) {
  const rec = new Recorder(job.measureAt, job.stopAt);
  const http = new HttpClient(job.url, job.clients);
  const bodies = job.csrPems.map((pem) => JSON.stringify({ certificate_request: pem }));
  let n = 0;
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      while (hrNow() < job.stopAt && rec.totalErrors < MAX_ERRORS) {
        try {
          const answer = await step(http, rec, CFSSL_ENDPOINT, "POST", "/api/v1/cfssl/sign", bodies[n++ % bodies.length], 200);
          check(answer?.success === true && typeof answer.result?.certificate === "string", CFSSL_ENDPOINT, JSON.stringify(answer?.errors ?? answer).slice(0, 200));
        } catch (e) {
          rec.error(e instanceof StepError ? e.endpoint : "client", (e as Error).message);
          await sleep(10);
        }
      }
    }),
  );
  http.close();
  return rec.result();
}

/** The raw signing rate of one key on this thread, between two agreed instants. */
async function runSign(job: SignJob): Promise<SignResult> {
  const key = createPrivateKey({ key: Buffer.from(job.keyPkcs8Der), format: "der", type: "pkcs8" });
  const data = randomBytes(1024); // about the size of a to-be-signed certificate
  sign(job.hash, data, key); // warm
  const wait = job.startAt - hrNow();
  if (wait > 0) await sleep(wait);
  while (hrNow() < job.startAt) {
    /* spin to the agreed start */
  }
  const t0 = hrNow();
  let count = 0;
  let t = t0;
  while (t < job.stopAt) {
    sign(job.hash, data, key);
    count++;
    t = hrNow();
  }
  return { count, elapsedMs: t - t0 };
}

export async function runJob(job: Job): Promise<{ result: LoadResult | SignResult; transfer: ArrayBuffer[] }> {
  switch (job.kind) {
    case "enroll":
      return runEnroll(job);
    case "prep":
      return runPrep(job);
    case "issue":
      return runIssue(job);
    case "cfssl":
      return runCfssl(job);
    case "sign":
      return { result: await runSign(job), transfer: [] };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on("message", (msg: JobMessage) => {
    runJob(msg.job).then(
      ({ result, transfer }) => port.postMessage({ id: msg.id, ok: true, result } satisfies ResultMessage, transfer),
      (e: unknown) => port.postMessage({ id: msg.id, ok: false, error: (e as Error)?.stack ?? String(e) } satisfies ResultMessage),
    );
  });
}
