// Basic authentication against the local directory, and the list of authentication methods the
// server offers. scrypt is slow on purpose, so successful verifications are cached under a keyed hash
// of the credentials (never the password itself) for a short time. A cached entry holds the
// caller as it was at a version of the directory (a counter every change to users and groups
// moves, in the same transaction); while that version is current the entry answers with one
// small read, and when anything changed the user is read again and the entry only honoured while
// the stored hash is unchanged and the user enabled — so a password change, a disable or a group
// change takes effect on the next request, whichever server process made it. Failures are counted
// and audited by the LoginGuard, which refuses further attempts (429) before any password is checked.
// Concurrent requests with the same credentials share one verification, and an entry in use is
// verified again shortly before it ends: when entries ran out, every request in flight for that
// user ran its own scrypt, and a client's whole load stalled for half a second once a minute.
import { hash, randomBytes } from "node:crypto";
import type { Store, UserRow } from "../store/store.js";
import type { FastifyRequest } from "fastify";
import type { Caller } from "../domain/caller.js";
import type { AppContext } from "../domain/services/context.js";
import { DomainError } from "../domain/errors.js";
import type { Authenticator } from "./authn.js";
import { callerOf } from "../domain/services/users.js";
import { verifyPassword } from "../crypto/password.js";
import { LoginGuard } from "./rate-limit.js";
import { BearerAuthenticator } from "./oidc.js";

interface CacheEntry {
  userUuid: string;
  passwordHash: string;
  expiresAt: number;
  caller: Caller;
  /** The directory version the caller was read at. */
  version: number;
}

const MAX_ENTRIES = 10_000;

/** `verified`: the password was checked now (not answered from the cache). */
export type Verification = { caller: Caller; verified?: boolean } | { caller?: undefined; reason: string; user?: UserRow };

/** The methods `auth` enables, sharing one LoginGuard so failures of either count together. */
export function authenticatorsFor(ctx: AppContext, guard = new LoginGuard(ctx.store, ctx.config.auth.rateLimit)): Authenticator[] {
  const list: Authenticator[] = [];
  if (ctx.config.auth.oidc) list.push(new BearerAuthenticator(ctx.store, ctx.config.auth.oidc, guard));
  if (ctx.config.auth.basic.enabled) list.push(new BasicAuthenticator(ctx.store, ctx.config.auth.basic.cacheTtlSeconds * 1000, guard));
  return list;
}

/** The `WWW-Authenticate` challenges of the enabled methods. */
export function challengesFor(ctx: AppContext): string[] {
  const list: string[] = [];
  if (ctx.config.auth.oidc) list.push('Bearer realm="OpenCLM"');
  if (ctx.config.auth.basic.enabled) list.push('Basic realm="OpenCLM", charset="UTF-8"');
  return list;
}

/** The last part of an entry's time to live in which using it starts its verification again. */
const REFRESH_AHEAD_SHARE = 0.25;

export class BasicAuthenticator implements Authenticator {
  readonly name = "basic";
  /** Secret to this process: the cache's keys say nothing about a password without it (keyOf). */
  private readonly cacheSalt = randomBytes(32).toString("hex");
  private readonly cache = new Map<string, CacheEntry>();
  /** Verifications under way, by cache key: requests with the same credentials wait for the same one. */
  private readonly verifying = new Map<string, Promise<Verification>>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly guard?: LoginGuard,
    /** How a password is checked against its stored hash; tests count the calls. */
    private readonly verify: (password: string, hash: string) => Promise<boolean> = verifyPassword,
  ) {}

  async authenticate(req: FastifyRequest): Promise<Caller | undefined> {
    const header = req.headers.authorization;
    if (!header || !/^Basic\s/i.test(header)) return undefined;
    const creds = parseBasic(header);
    if (!creds) {
      this.guard?.check(req);
      await this.guard?.failed(req, { method: this.name, reason: "malformed Basic credentials" });
      throw new DomainError("auth", "NotAuthenticated", "malformed Basic credentials");
    }
    const caller = await this.login(req, creds.username, creds.password, this.name);
    if (!caller) throw new DomainError("auth", "NotAuthenticated", "invalid user name or password");
    return caller;
  }

  /**
   * A password login however it arrives (Basic header, the portal's sign-in form): refused with
   * 429 while the user or address is locked out, and counted and audited when it fails.
   */
  async login(req: FastifyRequest, username: string, password: string, method = "password"): Promise<Caller | undefined> {
    this.guard?.check(req, username);
    const key = this.keyOf(username, password);
    // Credentials verified a moment ago need no look at the shared count; a password to verify does.
    if (this.guard && !this.fresh(key)) await this.guard.checkShared(req, username);
    const result = await this.check(username, password, key);
    if (!result.caller) {
      await this.guard?.failed(req, { method, user: username, userUuid: result.user?.uuid, reason: result.reason });
      return undefined;
    }
    if ("verified" in result && result.verified) await this.guard?.succeeded(username);
    return result.caller;
  }

  /** The caller, or why not (for the audit trail, never for the client). */
  async check(username: string, password: string, key = this.keyOf(username, password)): Promise<Verification> {
    const hit = this.fresh(key);
    if (hit) {
      const version = await this.store.directoryVersion();
      if (version === hit.version) {
        this.refreshAhead(hit, username, password, key);
        return { caller: copyOf(hit.caller) };
      }
      const user = await this.store.userByUuid(hit.userUuid);
      if (user && !user.disabled && user.password_hash === hit.passwordHash) {
        hit.caller = await callerOf(this.store, user);
        hit.version = version;
        return { caller: copyOf(hit.caller) };
      }
      this.cache.delete(key);
    }
    const result = await (this.verifying.get(key) ?? this.startVerification(username, password, key));
    // Each request gets a caller of its own (see copyOf).
    return result.caller ? { ...result, caller: copyOf(result.caller) } : result;
  }

  /**
   * An entry in its last quarter is verified again in the background, and replaced when that
   * succeeds: credentials in steady use are never answered after a wait for scrypt. The entry
   * still ends on time if the verification fails or is slow.
   */
  private refreshAhead(hit: CacheEntry, username: string, password: string, key: string): void {
    if (hit.expiresAt - Date.now() > this.ttlMs * REFRESH_AHEAD_SHARE || this.verifying.has(key)) return;
    // A refused password ends the entry (verifyNow); an error leaves it to end on time.
    this.startVerification(username, password, key).catch(() => {});
  }

  private startVerification(username: string, password: string, key: string): Promise<Verification> {
    const verification = this.verifyNow(username, password, key).finally(() => this.verifying.delete(key));
    this.verifying.set(key, verification);
    return verification;
  }

  /** Checks the password against the directory and, when it verifies, caches the caller under `key`. */
  private async verifyNow(username: string, password: string, key: string): Promise<Verification> {
    // Read before the user: a change landing in between makes the entry stale, never wrongly current.
    const version = await this.store.directoryVersion();
    const user = await this.store.userByName(username);
    const hash = user && !user.disabled ? user.password_hash : null;
    // Same work whether or not the user exists, so timing does not reveal user names.
    const verified = (await this.verify(password, hash ?? DUMMY_HASH)) && hash !== null;
    // A refused password ends the entry (a refresh's); an accepted one replaces it, as the newest.
    this.cache.delete(key);
    if (!user || !hash || !verified) {
      return { reason: !user ? "unknown user" : user.disabled ? "user disabled" : !hash ? "no password set" : "wrong password", user };
    }
    const caller = await callerOf(this.store, user);
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { userUuid: user.uuid, passwordHash: hash, expiresAt: Date.now() + this.ttlMs, caller: copyOf(caller), version });
    return { caller, verified: true };
  }

  /** The cache entry of credentials verified a moment ago, if any. */
  private fresh(key: string): CacheEntry | undefined {
    const hit = this.cache.get(key);
    return hit && hit.expiresAt > Date.now() ? hit : undefined;
  }

  /**
   * The cache key of a user name and password: SHA-256 of the process's secret salt and the
   * credentials, never the password itself. One call of crypto.hash: with an HMAC object per
   * request instead, a trivial authenticated GET took about a tenth more of the event loop (A/B of
   * two servers on this machine). Only compared for equality inside this process, so a keyed
   * hash is all it needs to be.
   */
  private keyOf(username: string, password: string): string {
    // The name's length first: no other name and password give the same text.
    return hash("sha256", `${this.cacheSalt}${username.length}:${username}${password}`, "base64");
  }
}

/** Callers are handed on to code that may add groups to them; the cached one stays as read. */
function copyOf(caller: Caller): Caller {
  return { ...caller, groups: [...caller.groups] };
}

// scrypt of a random password, with the production parameters.
const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/** Splits an `Authorization: Basic` header; undefined when it is not one. */
export function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) return undefined;
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}
