// OpenID Connect identities: `Authorization: Bearer <JWT>` on the API, and the ID token the portal's
// sign-in obtains (oidc-login.ts); both pass through OidcIdentities, so the two paths cannot drift.
// A token must be signed by a key of the provider's JWKS with an asymmetric algorithm (so
// `alg: none` and HMAC tokens made with a public key never pass), carry `exp`, and match issuer,
// audience, `nbf` and `exp` within the configured clock skew. The JWKS is cached and fetched again
// when a token names a key it does not hold (key rotation), at most every few seconds so random
// key ids cannot make the server hammer the provider. A configured claim names the user, another
// carries groups; users seen for the first time are provisioned, and a disabled user's valid
// token is refused.
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import type { FastifyRequest } from "fastify";
import type { OidcConfig } from "../config/types.js";
import { isSecureOrLoopback } from "../config/urls.js";
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
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Failures of the provider, not of the token: they say nothing about the caller. */
const PROVIDER_FAILURES = new Set(["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"]);

/** A token refused for what it is (counted and audited); `reason` is for the audit trail only. */
export class OidcRefused extends DomainError {
  constructor(readonly reason: string) {
    super("auth", "NotAuthenticated", "invalid or expired token");
  }
}

/** The provider's keys could not be fetched: nobody's fault on the client side, so not counted. */
export class OidcUnavailable extends DomainError {
  constructor() {
    super("auth", "NotAuthenticated", "the token could not be verified now; try again later");
  }
}

export interface TokenExpectations {
  /** "bearer" or "oidc" (portal sign-in), for the audit trail. */
  method: string;
  audience: string;
  /** ID tokens: the nonce the sign-in sent, and the client the token must be for. */
  nonce?: string;
  clientId?: string;
}

export interface OidcIdentity {
  caller: Caller;
  /** Groups the provider asserted, beyond the directory's (already included in caller.groups). */
  assertedGroups: string[];
}

export class OidcIdentities {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    private readonly store: Store,
    readonly config: OidcConfig,
    private readonly guard?: LoginGuard,
  ) {
    const url = new URL(config.jwksUrl);
    if (!isSecureOrLoopback(url)) throw new Error(`auth.oidc.jwksUrl: must be an https URL (got ${url.protocol}//${url.host})`);
    this.jwks = createRemoteJWKSet(url, { cooldownDuration: JWKS_REFETCH_COOLDOWN_MS, cacheMaxAge: JWKS_MAX_AGE_MS, timeoutDuration: 5_000 });
  }

  /** Throws 429 while the address is locked out by earlier failures. */
  check(req: FastifyRequest): void {
    this.guard?.check(req);
  }

  /**
   * The caller a token proves, provisioning the user on first sight. Throws OidcRefused (after
   * counting and auditing the failure) or OidcUnavailable.
   */
  async identify(req: FastifyRequest, token: string, expect: TokenExpectations): Promise<OidcIdentity> {
    if (token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) return this.refuse(req, expect.method, "malformed token");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.config.issuer,
        audience: expect.audience,
        clockTolerance: this.config.clockSkewSeconds,
        algorithms: ALGORITHMS,
        requiredClaims: expect.nonce === undefined ? ["exp"] : ["exp", "iat", "sub", "nonce"],
      }));
    } catch (e) {
      if (!(e instanceof errors.JOSEError) || PROVIDER_FAILURES.has(e.code)) {
        req.log.warn({ err: { message: (e as Error).message, code: (e as errors.JOSEError).code } }, "OIDC key set unavailable");
        throw new OidcUnavailable();
      }
      const claim = e instanceof errors.JWTClaimValidationFailed || e instanceof errors.JWTExpired ? ` (${e.claim})` : "";
      return this.refuse(req, expect.method, `${e.code}${claim}`);
    }
    const idTokenProblem = checkIdTokenClaims(payload, expect);
    if (idTokenProblem) return this.refuse(req, expect.method, idTokenProblem);
    const name = claimAt(payload, this.config.userClaim);
    if (typeof name !== "string" || name === "") return this.refuse(req, expect.method, `no ${this.config.userClaim} claim`);
    const user = await provisionExternalUser(
      this.store,
      { name, displayName: str(payload.name), email: str(payload.email), upn: str(payload.upn) },
      req.id,
    );
    if (!user) return this.refuse(req, expect.method, "user disabled or unusable name", name);
    const caller = await callerOf(this.store, user);
    const assertedGroups = groupsOf(claimAt(payload, this.config.groupsClaim));
    caller.groups = mergeGroups(caller.groups, assertedGroups);
    return { caller, assertedGroups };
  }

  /** Counts and audits a failed sign-in; the reason must never contain a token or code. */
  async failed(req: FastifyRequest, method: string, reason: string, user?: string): Promise<void> {
    await this.guard?.failed(req, { method, reason, user });
  }

  private async refuse(req: FastifyRequest, method: string, reason: string, user?: string): Promise<never> {
    await this.failed(req, method, reason, user);
    throw new OidcRefused(reason);
  }
}

export class BearerAuthenticator implements Authenticator {
  readonly name = "bearer";
  readonly identities: OidcIdentities;

  constructor(store: Store, config: OidcConfig, guard?: LoginGuard) {
    this.identities = new OidcIdentities(store, config, guard);
  }

  async authenticate(req: FastifyRequest): Promise<Caller | undefined> {
    const header = req.headers.authorization;
    if (!header || !/^Bearer\s/i.test(header)) return undefined;
    this.identities.check(req);
    const token = header.replace(/^Bearer\s+/i, "").trim();
    // Groups the provider asserts count for this request only; memberships set locally stay.
    return (await this.identities.identify(req, token, { method: this.name, audience: this.identities.config.audience })).caller;
  }
}

/** Groups of the directory and of the provider together, each once, sorted. */
export function mergeGroups(local: readonly string[], asserted: readonly string[]): string[] {
  return [...new Set([...local, ...asserted])].sort();
}

/**
 * What OpenID Connect Core §3.1.3.7 adds for ID tokens: the nonce of this sign-in (a token
 * replayed from another sign-in fails), and the authorized party when several audiences are named.
 */
function checkIdTokenClaims(payload: JWTPayload, expect: TokenExpectations): string | undefined {
  if (expect.nonce === undefined) return undefined;
  if (payload.nonce !== expect.nonce) return "nonce mismatch";
  const azp = payload.azp;
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && azp === undefined) return "several audiences and no azp";
  if (azp !== undefined && azp !== expect.clientId) return "azp is another client";
  return undefined;
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
  return [...new Set(out)].sort();
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
