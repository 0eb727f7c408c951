// Portal sessions: the web portal signs in once (POST /portal/api/session) and then calls the CM
// API with an opaque, HttpOnly, SameSite=Strict cookie instead of sending the password each time.
//
// First version: sessions live in this process's memory. A restart signs everyone out, and with
// several server processes behind a load balancer the balancer must keep a browser on one process
// (sticky sessions) until sessions move into the database.
//
// CSRF: a state-changing request (anything but GET/HEAD/OPTIONS) authenticated by the cookie must
// carry `X-CSRF-Token` equal to the token held for its session, else 403. The token is held
// server-side, so it is compared with the session's copy (no double-submit cookie).
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Caller } from "../domain/caller.js";
import { DomainError } from "../domain/errors.js";
import type { Store } from "../store/store.js";
import { callerOf } from "../domain/services/users.js";
import type { Authenticator } from "./authn.js";

export const SESSION_COOKIE = "openclm_session";
export const CSRF_HEADER = "x-csrf-token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface SessionOptions {
  /** A session unused for this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, used or not. */
  absoluteMs: number;
  /** Sessions kept at most; the oldest is dropped beyond. */
  maxSessions: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  idleMs: 30 * 60_000,
  absoluteMs: 8 * 60 * 60_000,
  maxSessions: 50_000,
};

interface Session {
  userUuid: string;
  csrfToken: string;
  /** How the user signed in ("password", "oidc"), for the audit trail. */
  method: string;
  createdAt: number;
  lastSeenAt: number;
}

export interface NewSession {
  /** The cookie value: only the browser holds it; the map is keyed by its hash. */
  id: string;
  csrfToken: string;
}

export class SessionAuthenticator implements Authenticator {
  readonly name = "session";
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly store: Store,
    private readonly opts: SessionOptions = DEFAULT_SESSION_OPTIONS,
  ) {}

  async authenticate(req: FastifyRequest): Promise<Caller | undefined> {
    const id = sessionIdOf(req);
    if (id === undefined) return undefined;
    const found = await this.resolve(id);
    if (!found) throw new DomainError("auth", "SessionExpired", "your session has ended; sign in again");
    if (!SAFE_METHODS.has(req.method.toUpperCase()) && !tokenMatches(req.headers[CSRF_HEADER], found.session.csrfToken))
      throw new DomainError("forbidden", "CsrfTokenInvalid", "missing or wrong X-CSRF-Token header for this session; reload the page");
    return found.caller;
  }

  /** Starts a session for a user who has just proved who they are. */
  create(userUuid: string, method: string): NewSession {
    this.sweep();
    while (this.sessions.size >= this.opts.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString("base64url");
    const csrfToken = randomBytes(32).toString("base64url");
    const now = Date.now();
    this.sessions.set(hashId(id), { userUuid, csrfToken, method, createdAt: now, lastSeenAt: now });
    return { id, csrfToken };
  }

  /**
   * The session and its user for a cookie value, refreshing its idle timer; undefined when
   * unknown, expired, or the user is gone or disabled (the user is read again on every request,
   * so a disable or a group change takes effect at once).
   */
  async resolve(id: string): Promise<{ session: Session; caller: Caller } | undefined> {
    const key = hashId(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const now = Date.now();
    if (now - s.lastSeenAt > this.opts.idleMs || now - s.createdAt > this.opts.absoluteMs) {
      this.sessions.delete(key);
      return undefined;
    }
    const user = await this.store.userByUuid(s.userUuid);
    if (!user || user.disabled) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeenAt = now;
    return { session: s, caller: await callerOf(this.store, user) };
  }

  /** Ends a session; true when there was one. */
  destroy(id: string): boolean {
    return this.sessions.delete(hashId(id));
  }

  /** Checks the CSRF token of a request against its session (for routes outside the API). */
  csrfValid(session: Session, req: FastifyRequest): boolean {
    return tokenMatches(req.headers[CSRF_HEADER], session.csrfToken);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, s] of this.sessions)
      if (now - s.lastSeenAt > this.opts.idleMs || now - s.createdAt > this.opts.absoluteMs) this.sessions.delete(k);
  }
}

/** The session cookie's value, when the request carries one. */
export function sessionIdOf(req: FastifyRequest): string | undefined {
  const v = req.cookies?.[SESSION_COOKIE];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function isTls(req: FastifyRequest): boolean {
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

function tokenMatches(header: string | string[] | undefined, expected: string): boolean {
  if (typeof header !== "string") return false;
  const a = Buffer.from(header);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
