// Typed client for the CM REST API v1.0 (SPEC §4), over the global fetch with Basic auth.
// Every call returns normalised objects (wire.ts) or throws ApiError / NetworkError.
import { ApiError, InterruptedError, NetworkError } from "./errors.js";
import {
  idFromCreatedUri,
  parseBase64String,
  parseCertificateAnswers,
  parseClmCertificates,
  parseGenerationOptions,
  parseProfile,
  parseProfiles,
  parseProfileTemplates,
  parseRequest,
  parseRequests,
  parseSmartcard,
  parseSmartcardConfig,
  parseSmartcards,
  parseWorkflowPolicy,
  ProtocolError,
  type CertificateAnswer,
  type ClmCertificateView,
  type GenerationOption,
  type ProfileView,
  type ProfileTemplateView,
  type RequestView,
  type SmartcardConfig,
  type SmartcardView,
  type WorkflowPolicy,
} from "./wire.js";

export const API_BASE_PATH = "/CertificateManagement/api/v1.0";
const DEFAULT_TIMEOUT_MS = 120_000;

export interface ApiClientOptions {
  server: string;
  user: string;
  password: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The API root for a server given as `https://host[:port]` (the base path may be included). */
export function apiBaseUrl(server: string): string {
  let url: URL;
  try {
    url = new URL(server.trim());
  } catch {
    throw new NetworkError(`"${server}" is not a server URL (expected http://host:port or https://host)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new NetworkError(`"${server}" is not an http(s) URL`);
  }
  let path = url.pathname.replace(/\/+$/, "");
  if (!path.toLowerCase().endsWith(API_BASE_PATH.toLowerCase())) path += API_BASE_PATH;
  return `${url.origin}${path}`;
}

/**
 * POST /requests (SPEC §7.1): `profiletemplateuuid` for the creating types (Enroll, Duplicate,
 * TemporaryEnroll), `smartcard` or `profile` for the types acting on an existing credential.
 */
export interface CreateRequestBody {
  type: string;
  profiletemplateuuid?: string;
  smartcard?: string;
  profile?: string;
  target?: string;
  datacollection: Record<string, string>[];
  comment: string;
  /** Revoke only: an RFC 5280 reason name, e.g. keyCompromise. */
  revocationreason?: string;
}

export type ApprovalDecision = "Approve" | "Deny";

type Query = Record<string, string | undefined>;

export class ApiClient {
  readonly baseUrl: string;
  readonly user: string;
  readonly #opts: ApiClientOptions;
  readonly #authorization: string;
  readonly #timeoutMs: number;

  constructor(opts: ApiClientOptions) {
    this.#opts = opts;
    this.baseUrl = apiBaseUrl(opts.server);
    this.user = opts.user;
    this.#authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password}`, "utf8").toString("base64")}`;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * The same client under another abort signal: clean-up after Ctrl-C must still be able to
   * reach the server, with a short timeout of its own.
   */
  withSignal(signal: AbortSignal | undefined, timeoutMs = this.#timeoutMs): ApiClient {
    return new ApiClient({ ...this.#opts, signal, timeoutMs });
  }

  async #call(method: string, path: string, opts: { query?: Query; body?: unknown; accept?: string } = {}): Promise<Response> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const caller = this.#opts.signal;
    const signal = caller ? AbortSignal.any([caller, timeout]) : timeout;
    const headers: Record<string, string> = { authorization: this.#authorization, accept: opts.accept ?? "application/json" };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal,
        // A redirect would resend the Basic credentials somewhere the user did not name.
        redirect: "error",
      });
    } catch (err) {
      if (caller?.aborted) throw new InterruptedError();
      if (timeout.aborted) throw new NetworkError(`${method} ${path}: no answer from ${url.origin} within ${Math.round(this.#timeoutMs / 1000)} s`);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new NetworkError(`cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    if (!res.ok) throw await apiErrorFrom(res, method, path);
    return res;
  }

  async #json(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<unknown> {
    const res = await this.#call(method, path, opts);
    const text = await res.text();
    if (text === "") return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ProtocolError(`${method} ${path}: the server's answer is not JSON`);
    }
  }

  /** POSTs a create call; the new id comes from the body's URI string or the Location header. */
  async #create(path: string, body: unknown, what: string): Promise<string> {
    const res = await this.#call("POST", path, { body });
    const text = await res.text();
    let uri: unknown = null;
    try {
      uri = text === "" ? null : JSON.parse(text);
    } catch {
      // fall back to the Location header
    }
    const location = res.headers.get("location");
    return idFromCreatedUri(typeof uri === "string" ? uri : (location ?? ""), what);
  }

  /** Templates the caller may enroll for; with `targetUser`, on that user's behalf (agents). */
  async listProfileTemplates(targetUser?: string): Promise<ProfileTemplateView[]> {
    return parseProfileTemplates(await this.#json("GET", "/profiletemplates", { query: { targetuser: targetUser } }));
  }

  async getPolicy(templateUuid: string, type: string): Promise<WorkflowPolicy> {
    return parseWorkflowPolicy(await this.#json("GET", `/profiletemplates/${enc(templateUuid)}/policies/${enc(type)}`));
  }

  async getSmartcardConfig(templateUuid: string): Promise<SmartcardConfig> {
    return parseSmartcardConfig(await this.#json("GET", `/profiletemplates/${enc(templateUuid)}/configuration/smartcards`));
  }

  async createRequest(body: CreateRequestBody): Promise<string> {
    return this.#create("/requests", body, "a request");
  }

  async getRequest(requestId: string): Promise<RequestView> {
    return parseRequest(await this.#json("GET", `/requests/${enc(requestId)}`));
  }

  /** `status`: a request status name (Pending, Approved, …) or none for every visible request. */
  async listRequests(status?: string): Promise<RequestView[]> {
    return parseRequests(await this.#json("GET", "/requests", { query: { status } }));
  }

  async setRequestStatus(requestId: string, status: "Completed" | "Canceled" | "Abandoned"): Promise<RequestView> {
    return parseRequest(await this.#json("PUT", `/requests/${enc(requestId)}`, { body: { status } }));
  }

  /** An approver's decision (ext endpoint); answers the request as it stands afterwards. */
  async decideRequest(requestId: string, decision: ApprovalDecision, comment: string): Promise<RequestView> {
    return parseRequest(await this.#json("POST", `/requests/${enc(requestId)}/approvals`, { body: { decision, comment } }));
  }

  async bindSmartcard(requestId: string, cardId: string, atr: string): Promise<string> {
    return this.#create("/smartcards", { requestid: requestId, cardid: cardId, atr }, "a smart card");
  }

  async getSmartcard(smartcardUuid: string): Promise<SmartcardView> {
    return parseSmartcard(await this.#json("GET", `/smartcards/${enc(smartcardUuid)}`));
  }

  /** The caller's cards, or every visible server record of one card id (`?cardid=`). */
  async listSmartcards(cardId?: string): Promise<SmartcardView[]> {
    return parseSmartcards(await this.#json("GET", "/smartcards", { query: { cardid: cardId } }));
  }

  async getSmartcardCertificates(smartcardUuid: string): Promise<ClmCertificateView[]> {
    return parseClmCertificates(await this.#json("GET", `/smartcards/${enc(smartcardUuid)}/certificates`));
  }

  async listProfiles(status?: string): Promise<ProfileView[]> {
    return parseProfiles(await this.#json("GET", "/profiles", { query: { status } }));
  }

  async getProfile(profileUuid: string): Promise<ProfileView> {
    return parseProfile(await this.#json("GET", `/profiles/${enc(profileUuid)}`));
  }

  async getProfileCertificates(profileUuid: string): Promise<ClmCertificateView[]> {
    return parseClmCertificates(await this.#json("GET", `/profiles/${enc(profileUuid)}/certificates`));
  }

  /** The caller's certificates, long form (status, validity), retired ones left out. */
  async listCertificates(): Promise<ClmCertificateView[]> {
    return parseClmCertificates(await this.#json("GET", "/certificates"));
  }

  async getDiversifiedKey(requestId: string, smartcardUuid: string, cardId: string, atr: string): Promise<Buffer> {
    const body = await this.#json("GET", `/requests/${enc(requestId)}/smartcards/${enc(smartcardUuid)}/diversifiedkey`, {
      query: { cardid: cardId, atr },
    });
    return parseBase64String(body, "a diversified admin key", 24);
  }

  async getAuthenticationResponse(
    requestId: string,
    smartcardUuid: string,
    cardId: string,
    atr: string,
    challenge: Uint8Array,
    diversified: boolean,
  ): Promise<Buffer> {
    const body = await this.#json("GET", `/requests/${enc(requestId)}/smartcards/${enc(smartcardUuid)}/authenticationresponse`, {
      query: { cardid: cardId, atr, challenge: Buffer.from(challenge).toString("base64"), diversified: String(diversified) },
    });
    return parseBase64String(body, "an admin challenge response", 8);
  }

  async getServerProposedPin(smartcardUuid: string): Promise<string> {
    const body = await this.#json("GET", `/smartcards/${enc(smartcardUuid)}/serverproposedpin`);
    if (typeof body !== "string" || body === "") throw new ProtocolError("the server proposed no PIN");
    return body;
  }

  async getGenerationOptions(requestId: string): Promise<GenerationOption[]> {
    return parseGenerationOptions(await this.#json("GET", `/requests/${enc(requestId)}/certificaterequestgenerationoptions`));
  }

  /** `pfxPassword` protects server-generated keys (software profiles, Recover); "" when there are none. */
  async submitCertificateRequests(requestId: string, csrs: Uint8Array[], pfxPassword = ""): Promise<CertificateAnswer[]> {
    const body = { pfxpassword: pfxPassword, certificaterequests: csrs.map((c) => Buffer.from(c).toString("base64")) };
    return parseCertificateAnswers(await this.#json("POST", `/requests/${enc(requestId)}/certificatedata`, { body }));
  }

  /** The CA chain as PEM, issuing CA first (ext endpoint). */
  async getCaChainPem(): Promise<string> {
    const res = await this.#call("GET", "/ca/certificates", { accept: "application/pem-certificate-chain, */*" });
    return res.text();
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

async function apiErrorFrom(res: Response, method: string, path: string): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`.trim();
  let errorCode: string | null = null;
  let correlationId: string | null = res.headers.get("x-correlation-id") ?? res.headers.get("request-id");
  try {
    const body = (await res.json()) as Record<string, unknown>;
    const pick = (k: string) => {
      const hit = Object.entries(body).find(([key]) => key.toLowerCase() === k.toLowerCase());
      return typeof hit?.[1] === "string" && hit[1] !== "" ? hit[1] : null;
    };
    message = pick("Message") ?? message;
    errorCode = pick("ErrorCode");
    correlationId = pick("CorrelationId") ?? correlationId;
  } catch {
    // not a JSON error body; the status line is all there is
  }
  return new ApiError(res.status, message, errorCode, correlationId, method, path);
}
