// `Authorization: Bearer <JWT>` from an OpenID Connect provider. The token must be signed by a
// key of the provider's JWKS with an asymmetric algorithm (so `alg: none` and HMAC tokens made
// with a public key never pass), carry `exp`, and match issuer, audience, `nbf` and `exp` within
// the configured clock skew. The JWKS is cached and fetched again when a token names a key it
// does not hold (key rotation), at most every few seconds so random key ids cannot make the
// server hammer the provider. A configured claim names the user, another carries groups; users
// seen for the first time are provisioned, and a disabled user's valid token is refused.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import type { FastifyRequest } from "fastify";
import type { OidcConfig } from "../config/types.js";
import type { Caller } from "../domain/caller.js";
import { DomainError } from "../domain/errors.js";
import type { Store } from "../store/store.js";
import { callerOf, checkGroupName, provisionExternalUser } from "../domain/services/users.js";
import type { Authenticator } from "./authn.js";
import type { LoginGuard } from "./rate-limit.js";

const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const JWKS_REFETCH_COOLDOWN_MS = 5_000;
const JWKS_MAX_AGE_MS = 10 * 60_000;
const MAX_TOKEN_LENGTH = 16_384;
const MAX_GROUPS = 256;
/** Failures of the provider, not of the token: they say nothing about the caller. */
const PROVIDER_FAILURES = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"]);

export class BearerAuthenticator implements Authenticator {
  readonly name = "bearer";
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    private readonly store: Store,
    private readonly config: OidcConfig,
    private readonly guard?: LoginGuard,
  ) {
    const url = new URL(config.jwksUrl);
    // Keys fetched in the clear could be replaced by anyone on the path; loopback is for tests.
    if (url.protocol !== "https:" && !isLoopbackHost(url.hostname))
      throw new Error(`auth.oidc.jwksUrl: must be an https URL (got ${url.protocol}//${url.host})`);
    this.jwks = createRemoteJWKSet(url, { cooldownDuration: JWKS_REFETCH_COOLDOWN_MS, cacheMaxAge: JWKS_MAX_AGE_MS, timeoutDuration: 5_000 });
  }

  async authenticate(req: FastifyRequest): Promise<Caller | undefined> {
    const header = req.headers.authorization;
    if (!header || !/^Bearer\s/i.test(header)) return undefined;
    this.guard?.check(req);
    const token = header.replace(/^Bearer\s+/i, "").trim();
    if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token))
      return this.refuse(req, "malformed token");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        clockTolerance: this.config.clockSkewSeconds,
        algorithms: ALGORITHMS,
        requiredClaims: ["exp"],
      }));
    } catch (e) {
      if (!(e instanceof errors.JOSEError) || PROVIDER_FAILURES.has(e.code)) {
        req.log.warn({ err: { message: (e as Error).message, code: (e as errors.JOSEError).code } }, "OIDC key set unavailable");
        throw new DomainError("auth", "NotAuthenticated", "the token could not be verified now; try again later");
      }
      const claim = e instanceof errors.JWTClaimValidationFailed || e instanceof errors.JWTExpired ? ` (${e.claim})` : "";
      return this.refuse(req, `${e.code}${claim}`);
    }
    const name = claimAt(payload, this.config.userClaim);
    if (typeof name !== "string" || name === "") return this.refuse(req, `no ${this.config.userClaim} claim`);
    const user = await provisionExternalUser(
      this.store,
      { name, displayName: str(payload.name), email: str(payload.email), upn: str(payload.upn) },
      req.id,
    );
    if (!user) return this.refuse(req, "user disabled or unusable name", name);
    const caller = await callerOf(this.store, user);
    // Groups the provider asserts count for this request only; memberships set locally stay.
    caller.groups = [...new Set([...caller.groups, ...groupsOf(claimAt(payload, this.config.groupsClaim))])].sort();
    return caller;
  }

  private async refuse(req: FastifyRequest, reason: string, user?: string): Promise<never> {
    await this.guard?.failed(req, { method: this.name, reason, user });
    throw new DomainError("auth", "NotAuthenticated", "invalid or expired token");
  }
}

/** A claim by name, or by dotted path into nested objects (`realm_access.roles`). */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let v: unknown = payload;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function groupsOf(value: unknown): string[] {
  const list = typeof value === "string" ? [value] : Array.isArray(value) ? value : [];
  const out: string[] = [];
  for (const g of list.slice(0, MAX_GROUPS)) {
    if (typeof g !== "string") continue;
    try {
      out.push(checkGroupName(g));
    } catch {
      // A group name the directory could not hold names no permission either.
    }
  }
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127\./.test(host);
}
