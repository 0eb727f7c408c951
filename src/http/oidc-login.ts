// Portal single sign-on: the OpenID Connect authorization-code flow with PKCE (RFC 7636, S256).
//
// Every value of one sign-on (state, nonce, PKCE verifier) is derived with HKDF from one random
// secret that only the browser holds, in a short-lived HttpOnly cookie scoped to the callback,
// together with the time the sign-on started. So /start writes nothing anywhere (an anonymous
// request cannot make the server write), and the start and the callback may reach different server
// processes. The callback accepts a state only when it is the one derived from the cookie the
// browser sends (a callback arriving in another browser — login CSRF, an intercepted code — has no
// such cookie), only within ten minutes of the start, and only once: using a state records its
// hash in the database, and a second use of it, in any process, finds the record. The database
// never holds anything that could finish a sign-on. The cookie is SameSite=Lax: the callback is a
// top-level navigation from the provider's site, which Strict would not send it on.
//
// Every failure is an SsoFailure naming what the portal may tell the user (`code`) and what the
// audit trail records (`reason`); neither ever contains a code, token, state or verifier.
import { createHash, hkdfSync, randomBytes } from "node:crypto";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { OidcPortalConfig } from "../config/types.js";
import { isSecureOrLoopback } from "../config/urls.js";
import type { AppContext } from "../domain/services/context.js";
import type { OidcIdentities } from "./oidc.js";

export const FLOW_COOKIE = "openclm_oidc";
export const CALLBACK_PATH = "/portal/api/oidc/callback";
export const FLOW_TTL_MS = 10 * 60_000;
/** Clocks of the server processes a sign-on may cross differ by less than this. */
const START_SKEW_MS = 60_000;
/** `<start, seconds since 1970>.<32 random bytes, base64url>` */
const COOKIE_SHAPE = /^(\d{1,12})\.[A-Za-z0-9_-]{43}$/;
const TOKEN_TIMEOUT_MS = 10_000;
const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024;

/** What went wrong, in the words the portal shows (see portal/src/pages/Login.tsx). */
export type SsoErrorCode = "state" | "denied" | "invalid" | "rejected" | "token" | "account" | "provider" | "limited" | "internal";

export class SsoFailure extends Error {
  constructor(
    readonly code: SsoErrorCode,
    /** For the audit trail: never a secret. */
    readonly reason: string,
    /** Counted against the address by the login guard (provider outages are not the caller's doing). */
    readonly counted = true,
  ) {
    super(reason);
  }
}

export interface FlowValues {
  state: string;
  nonce: string;
  verifier: string;
}

const TokenResponse = Type.Object({
  id_token: Type.String({ minLength: 1, maxLength: 16_384 }),
  token_type: Type.Optional(Type.String({ maxLength: 64 })),
});
const TokenError = Type.Object({ error: Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$" }) });

export class OidcLogin {
  private readonly clientSecret?: string;

  constructor(
    private readonly ctx: AppContext,
    readonly config: OidcPortalConfig,
    readonly identities: OidcIdentities,
  ) {
    for (const field of ["authorizationEndpoint", "tokenEndpoint"] as const) {
      const url = new URL(config[field]);
      if (!isSecureOrLoopback(url)) throw new Error(`auth.oidc.portal.${field}: must be an https URL (got ${url.protocol}//${url.host})`);
    }
    if (config.clientSecretEnv !== undefined) {
      const secret = process.env[config.clientSecretEnv];
      if (!secret) throw new Error(`auth.oidc.portal.clientSecretEnv: the environment variable ${config.clientSecretEnv} is not set`);
      this.clientSecret = secret;
    }
  }

  /** Where the provider sends the browser back; must be registered there exactly so. */
  redirectUri(): string {
    return this.config.redirectUri ?? `${this.ctx.publicBaseUrl}${CALLBACK_PATH}`;
  }

  /** Starts a sign-on: the value of the browser's cookie and the provider URL to send it to. */
  begin(): { cookie: string; location: string } {
    const cookie = `${Math.floor(Date.now() / 1000)}.${randomBytes(32).toString("base64url")}`;
    const v = flowValues(cookie);
    const url = new URL(this.config.authorizationEndpoint);
    const params: Record<string, string> = {
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: this.redirectUri(),
      scope: this.config.scopes,
      state: v.state,
      nonce: v.nonce,
      code_challenge: createHash("sha256").update(v.verifier).digest("base64url"),
      code_challenge_method: "S256",
    };
    for (const [k, value] of Object.entries(params)) url.searchParams.set(k, value);
    return { cookie, location: url.toString() };
  }

  /**
   * The sign-on a callback continues: its state must be the one derived from this browser's
   * cookie, within ten minutes of the start, and not used before (it is used up here).
   */
  async resume(cookie: string | undefined, state: string | undefined): Promise<FlowValues> {
    if (!cookie) throw new SsoFailure("state", "no sign-on cookie (expired, or another browser)");
    const m = COOKIE_SHAPE.exec(cookie);
    if (!m) throw new SsoFailure("state", "malformed sign-on cookie");
    if (!state) throw new SsoFailure("invalid", "no state parameter");
    const v = flowValues(cookie);
    if (v.state !== state) throw new SsoFailure("state", "state does not match this browser's sign-on");
    // The start time is part of what the values are derived from, so it cannot be moved; a client
    // that makes up its own cookie still cannot make a sign-on last longer.
    const startedMs = Number(m[1]) * 1000;
    const now = Date.now();
    if (startedMs > now + START_SKEW_MS || now > startedMs + FLOW_TTL_MS) throw new SsoFailure("state", "sign-on expired");
    if (!(await this.ctx.store.sessions.useLoginState(sha256(state), new Date(now).toISOString(), new Date(startedMs + FLOW_TTL_MS).toISOString())))
      throw new SsoFailure("state", "state already used");
    return v;
  }

  /** Exchanges the authorization code (with the PKCE verifier) for the ID token. */
  async exchange(code: string, v: FlowValues): Promise<string> {
    const body = new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: this.redirectUri(), code_verifier: v.verifier });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    if (this.clientSecret !== undefined && this.config.clientAuthMethod === "client_secret_basic") {
      headers.authorization = `Basic ${Buffer.from(`${formEncode(this.config.clientId)}:${formEncode(this.clientSecret)}`).toString("base64")}`;
    } else {
      body.set("client_id", this.config.clientId);
      if (this.clientSecret !== undefined) body.set("client_secret", this.clientSecret);
    }
    let status: number;
    let text: string;
    try {
      // No redirects: a token endpoint that moves would carry the code and secret elsewhere.
      const res = await fetch(this.config.tokenEndpoint, { method: "POST", headers, body, redirect: "error", signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
      status = res.status;
      text = await readLimited(res, MAX_TOKEN_RESPONSE_BYTES);
    } catch (e) {
      throw new SsoFailure("provider", `token endpoint unreachable (${(e as Error).name})`, false);
    }
    const json = parseJson(text);
    if (status >= 400 && status < 500) {
      const error = Value.Check(TokenError, json) ? json.error : "unknown error";
      throw new SsoFailure("rejected", `token endpoint refused the code: ${error}`);
    }
    if (status !== 200) throw new SsoFailure("provider", `token endpoint answered HTTP ${status}`, false);
    if (!Value.Check(TokenResponse, json)) throw new SsoFailure("provider", "token endpoint answer has no usable id_token", false);
    return json.id_token;
  }
}

/** The sign-on's values from the browser's cookie: one-way, and independent of each other. */
export function flowValues(cookie: string): FlowValues {
  const derive = (label: string) => Buffer.from(hkdfSync("sha256", cookie, "", `openclm oidc ${label}`, 32)).toString("base64url");
  // 32 bytes in base64url are 43 characters of the unreserved set RFC 7636 asks of a verifier.
  return { state: derive("state"), nonce: derive("nonce"), verifier: derive("pkce verifier") };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for Basic client credentials. */
function formEncode(text: string): string {
  return new URLSearchParams([["v", text]]).toString().slice(2);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new Error("token endpoint answer too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
