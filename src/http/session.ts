// Portal sessions: the web portal signs in once (POST /portal/api/session with a password, or
// single sign-on through /portal/api/oidc/…) and then calls the CM API with an opaque, HttpOnly,
// SameSite=Strict cookie instead of sending credentials each time.
//
// Sessions live in the database (portal_sessions), so any server process serves any browser, no
// load balancer needs sticky sessions, and a restart signs nobody out. A row is keyed by the
// SHA-256 of the cookie value, never the value itself: whoever reads the table (a backup, a
// replica) cannot present a cookie.
//
// CSRF: a state-changing request (anything but GET/HEAD/OPTIONS) authenticated by the cookie must
// carry `X-CSRF-Token` equal to its session's token, else 403. The token is derived from the cookie
// value with HKDF rather than stored: every process recomputes the same token from the cookie the
// request carries, the database holds nothing that would complete a forged request, and the token
// (which the page can read) reveals nothing about the HttpOnly cookie.
//
// Idle timeout: last_seen_at is written only when it is older than TOUCH (a minute, less for very
// short idle timeouts), not on every request. A write per API call would add a database write to
// every read a busy portal makes, for a value that only needs minute precision; the price is that
// a session may end up to one TOUCH interval earlier than `idleMs` after its last use.
import { createHash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Caller } from "../domain/caller.js";
import { DomainError } from "../domain/errors.js";
import type { Store } from "../store/store.js";
import { callerOf } from "../domain/services/users.js";
import type { Authenticator } from "./authn.js";
import { mergeGroups } from "./oidc.js";
import { recordAudit } from "../domain/audit.js";

export const SESSION_COOKIE = "openclm_session";
export const CSRF_HEADER = "x-csrf-token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const MAX_TOUCH_INTERVAL_MS = 60_000;
/** Expired rows are deleted on sign-in, at most this often per process (they are refused on sight anyway). */
const SWEEP_INTERVAL_MS = 60_000;

export interface SessionOptions {
  /** A session unused for this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, used or not. */
  absoluteMs: number;
  /** Sessions one user may hold; the oldest end beyond. */
  maxPerUser: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  idleMs: 30 * 60_000,
  absoluteMs: 8 * 60 * 60_000,
  maxPerUser: 20,
};

export interface NewSession {
  /** The cookie value: only the browser holds it; the database keeps its hash. */
  id: string;
  csrfToken: string;
}

export interface LiveSession {
  caller: Caller;
  csrfToken: string;
  /** How the user signed in ("password", "oidc"). */
  method: string;
}

export class SessionAuthenticator implements Authenticator {
  readonly name = "session";
  private readonly touchMs: number;
  private lastSweep = 0;

  constructor(
    private readonly store: Store,
    private readonly opts: SessionOptions = DEFAULT_SESSION_OPTIONS,
  ) {
    this.touchMs = Math.min(MAX_TOUCH_INTERVAL_MS, Math.floor(opts.idleMs / 4));
  }

  async authenticate(req: FastifyRequest): Promise<Caller | undefined> {
    const id = sessionIdOf(req);
    if (id === undefined) return undefined;
    const found = await this.resolve(id);
    if (!found) throw new DomainError("auth", "SessionExpired", "your session has ended; sign in again");
    if (!SAFE_METHODS.has(req.method.toUpperCase()) && !this.csrfValid(id, req))
      throw new DomainError("forbidden", "CsrfTokenInvalid", "missing or wrong X-CSRF-Token header for this session; reload the page");
    return found.caller;
  }

  /**
   * Signs in a user who has just proved who they are (password or single sign-on): ends the
   * session the browser had, starts a new one, audits it and sets its cookie.
   */
  async signIn(req: FastifyRequest, reply: FastifyReply, caller: Caller, method: "password" | "oidc", idpGroups: readonly string[] = []): Promise<NewSession> {
    const old = sessionIdOf(req);
    if (old) await this.destroy(old);
    const session = await this.create(caller.uuid, method, idpGroups);
    await recordAudit(this.store, {
      actorUuid: caller.uuid,
      actorName: caller.name,
      action: "portal.login",
      targetType: "user",
      targetUuid: caller.uuid,
      correlationId: req.id,
      outcome: "success",
      details: method === "oidc" ? { method, groups: idpGroups } : { method },
    });
    setSessionCookie(req, reply, session.id);
    return session;
  }

  /**
   * Starts a session for a user who has just proved who they are. `idpGroups` are the groups an
   * identity provider asserted: like a bearer token's, they count for this session only.
   */
  async create(userUuid: string, method: string, idpGroups: readonly string[] = []): Promise<NewSession> {
    await this.sweep();
    const id = randomBytes(32).toString("base64url");
    const now = Date.now();
    await this.store.sessions.insert({
      id: hashId(id),
      user_uuid: userUuid,
      method,
      idp_groups: JSON.stringify(idpGroups),
      created_at: iso(now),
      last_seen_at: iso(now),
      expires_at: iso(now + this.opts.absoluteMs),
    });
    await this.store.sessions.trimUser(userUuid, this.opts.maxPerUser);
    return { id, csrfToken: csrfTokenFor(id) };
  }

  /**
   * The session's user for a cookie value; undefined when unknown, expired, or the user is
   * disabled (the user and groups are read on every request, so a disable or a group change takes
   * effect at once, in every process).
   */
  async resolve(id: string): Promise<LiveSession | undefined> {
    const key = hashId(id);
    const found = await this.store.sessions.withUser(key);
    if (!found) return undefined;
    const { session, user } = found;
    const now = Date.now();
    const lastSeen = Date.parse(session.last_seen_at);
    if (now - lastSeen > this.opts.idleMs || now > Date.parse(session.expires_at) || user.disabled) {
      await this.store.sessions.delete(key);
      return undefined;
    }
    if (now - lastSeen >= this.touchMs) await this.store.sessions.touch(key, iso(now));
    const caller = await callerOf(this.store, user);
    caller.groups = mergeGroups(caller.groups, parseGroups(session.idp_groups));
    return { caller, csrfToken: csrfTokenFor(id), method: session.method };
  }

  /** Ends a session, whichever process it was created on; true when there was one. */
  async destroy(id: string): Promise<boolean> {
    return this.store.sessions.delete(hashId(id));
  }

  /** Checks a request's CSRF header against the session its cookie names. */
  csrfValid(id: string, req: FastifyRequest): boolean {
    return tokenMatches(req.headers[CSRF_HEADER], csrfTokenFor(id));
  }

  /** Deletes expired sessions and used sign-on states, at most once a minute per process. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    await this.store.sessions.sweep(iso(now), iso(now - this.opts.idleMs));
  }
}

/** The session cookie's value, when the request carries one. */
export function sessionIdOf(req: FastifyRequest): string | undefined {
  const v = req.cookies?.[SESSION_COOKIE];
  return typeof v === "string" && v !== "" ? v : undefined;
}

export function isTls(req: FastifyRequest): boolean {
  return req.protocol === "https";
}

export function setSessionCookie(req: FastifyRequest, reply: FastifyReply, id: string): void {
  reply.setCookie(SESSION_COOKIE, id, { path: "/", httpOnly: true, sameSite: "strict", secure: isTls(req) });
}

export function clearSessionCookie(req: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "strict", secure: isTls(req) });
}

function hashId(id: string): string {
  return createHash("sha256").update(id).digest("base64url");
}

function csrfTokenFor(id: string): string {
  return Buffer.from(hkdfSync("sha256", id, "", "openclm portal csrf token", 32)).toString("base64url");
}

function parseGroups(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((g): g is string => typeof g === "string") : [];
  } catch {
    return [];
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function tokenMatches(header: string | string[] | undefined, expected: string): boolean {
  if (typeof header !== "string") return false;
  const a = Buffer.from(header);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
