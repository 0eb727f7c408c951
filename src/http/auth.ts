// Basic authentication against the local directory. scrypt is slow on purpose, so successful
// verifications are cached under an HMAC of the credentials (never the password itself) for a
// short time, and the cached entry is only honoured while the stored hash is unchanged and the
// user enabled — a password change or a disable takes effect on the next request.
import { createHmac, randomBytes } from "node:crypto";
import type { Store } from "../store/store.js";
import type { FastifyRequest } from "fastify";
import type { Caller } from "../domain/caller.js";
import { DomainError } from "../domain/errors.js";
import type { Authenticator } from "./authn.js";
import { callerOf } from "../domain/services/users.js";
import { verifyPassword } from "../crypto/password.js";

interface CacheEntry {
  userUuid: string;
  passwordHash: string;
  expiresAt: number;
}

const MAX_ENTRIES = 10_000;

export class BasicAuthenticator implements Authenticator {
  readonly name = "basic";
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
  ) {}

  async authenticate(req: FastifyRequest): Promise<Caller | undefined> {
    const header = req.headers.authorization;
    if (!header || !/^Basic\s/i.test(header)) return undefined;
    const creds = parseBasic(header);
    if (!creds) throw new DomainError("auth", "NotAuthenticated", "malformed Basic credentials");
    const caller = await this.verify(creds.username, creds.password);
    if (!caller) throw new DomainError("auth", "NotAuthenticated", "invalid user name or password");
    return caller;
  }

  /** The caller for valid credentials, or undefined. */
  async verify(username: string, password: string): Promise<Caller | undefined> {
    const key = createHmac("sha256", this.cacheKey).update(username).update("\0").update(password).digest("base64");
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > Date.now()) {
      const user = await this.store.userByUuid(hit.userUuid);
      if (user && !user.disabled && user.password_hash === hit.passwordHash) return callerOf(this.store, user);
      this.cache.delete(key);
    }
    const user = await this.store.userByName(username);
    if (!user || user.disabled || !user.password_hash) {
      // Same work whether or not the user exists, so timing does not reveal user names.
      await verifyPassword(password, DUMMY_HASH);
      return undefined;
    }
    if (!(await verifyPassword(password, user.password_hash))) return undefined;
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { userUuid: user.uuid, passwordHash: user.password_hash, expiresAt: Date.now() + this.ttlMs });
    return callerOf(this.store, user);
  }
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
