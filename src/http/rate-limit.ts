// Failed logins are counted per user name and per source address in a sliding window; once
// either reaches the limit, further attempts are refused with 429 before any password is
// checked, until the oldest counted failure leaves the window. Every failure is audited.
//
// The counts live in this process's memory: several server processes each count on their own
// (so the effective limit is up to N times higher) and a restart forgets them. A later issue may
// move them to the database; nothing else in the server relies on them.
import type { FastifyRequest } from "fastify";
import type { Store } from "../store/store.js";
import { recordAudit } from "../domain/audit.js";
import { DomainError } from "../domain/errors.js";

export class RateLimitedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super("rateLimited", "TooManyFailures", "too many failed logins; try again later");
  }
}

/** Sliding window of failure times per key, bounded in keys and in entries per key. */
export class FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly maxKeys = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the key may try again; 0 when it may now. */
  lockedFor(key: string): number {
    const times = this.recent(key);
    if (times.length < this.maxFailures) return 0;
    return times[times.length - this.maxFailures]! + this.windowMs - this.now();
  }

  /** Counts a failure; true when the key is now locked. */
  fail(key: string): boolean {
    const times = this.recent(key);
    times.push(this.now());
    if (times.length > this.maxFailures) times.splice(0, times.length - this.maxFailures);
    // Re-inserted so the map's order is least recently failed first, which eviction relies on.
    this.failures.delete(key);
    if (this.failures.size >= this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(key, times);
    return times.length >= this.maxFailures;
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const since = this.now() - this.windowMs;
    while (times.length && times[0]! <= since) times.shift();
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}

export interface LoginFailure {
  /** "basic", "bearer", "session". */
  method: string;
  /** The user name the attempt claimed, when it named one. */
  user?: string;
  /** The account it matched, when there is one. */
  userUuid?: string;
  /** For the audit trail only; the client is told nothing more than 401. */
  reason: string;
}

export class LoginGuard {
  private readonly window: FailureWindow;

  constructor(
    private readonly store: Store,
    limits: { maxFailures: number; windowSeconds: number },
  ) {
    this.window = new FailureWindow(limits.maxFailures, limits.windowSeconds * 1000);
  }

  /** Throws 429 when the address, or the user the attempt names, is locked out. */
  check(req: FastifyRequest, user?: string): void {
    const ms = Math.max(this.window.lockedFor(addressKey(req)), user === undefined ? 0 : this.window.lockedFor(userKey(user)));
    if (ms > 0) {
      req.log.info({ address: req.ip }, "login refused: too many failures");
      throw new RateLimitedError(Math.max(1, Math.ceil(ms / 1000)));
    }
  }

  async failed(req: FastifyRequest, f: LoginFailure): Promise<void> {
    let locked = this.window.fail(addressKey(req));
    if (f.user !== undefined) locked = this.window.fail(userKey(f.user)) || locked;
    await recordAudit(this.store, {
      actorUuid: null,
      actorName: f.user === undefined ? "anonymous" : printable(f.user),
      action: "auth.failure",
      targetType: "user",
      targetUuid: f.userUuid ?? null,
      correlationId: req.id,
      outcome: "failure",
      details: { method: f.method, address: req.ip, reason: f.reason, ...(locked ? { locked: true } : {}) },
    });
  }

  succeeded(user: string): void {
    this.window.clear(userKey(user));
  }
}

const addressKey = (req: FastifyRequest) => `addr:${req.ip}`;
const userKey = (user: string) => `user:${user.slice(0, 256)}`;

/** A claimed name as the audit trail shows it: no control characters, bounded. */
function printable(name: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
