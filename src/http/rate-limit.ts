// Failed logins are counted per user name and per source address in a sliding window; once
// either reaches the limit, further attempts are refused with 429 before any password is
// checked, until the oldest counted failure leaves the window. Every failure is audited.
//
// Each failure is recorded in the database (login_failures, with its audit record) as well as in
// this process's memory. Every request is checked against the memory, which costs nothing; a
// password about to be verified — the step a guesser needs, and the only one that costs scrypt —
// is checked against the database too, so guesses spread over several server processes (or
// before a restart) count together. A caller whose credentials this process verified a moment
// ago is not held up by a lock-out another process saw, until its cache entry expires.
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

const SWEEP_EVERY_MS = 60_000;

export class LoginGuard {
  private readonly window: FailureWindow;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private lastSweep = 0;

  constructor(
    private readonly store: Store,
    limits: { maxFailures: number; windowSeconds: number },
  ) {
    this.maxFailures = limits.maxFailures;
    this.windowMs = limits.windowSeconds * 1000;
    this.window = new FailureWindow(limits.maxFailures, this.windowMs);
  }

  /**
   * The database's count, before a password is verified: throws 429 when the address or the
   * user has reached the limit across all server processes.
   */
  async checkShared(req: FastifyRequest, user: string): Promise<void> {
    const now = Date.now();
    const since = new Date(now - this.windowMs).toISOString();
    let ms = 0;
    for (const key of [addressKey(req), userKey(user)]) {
      const times = await this.store.loginFailuresSince(key, since, this.maxFailures);
      if (times.length >= this.maxFailures) ms = Math.max(ms, Date.parse(times[times.length - 1]!) + this.windowMs - now);
    }
    if (ms > 0) {
      req.log.info({ address: req.ip }, "login refused: too many failures");
      throw new RateLimitedError(Math.max(1, Math.ceil(ms / 1000)));
    }
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
    const keys = [addressKey(req), ...(f.user !== undefined ? [userKey(f.user)] : [])];
    let locked = false;
    for (const key of keys) locked = this.window.fail(key) || locked;
    const now = Date.now();
    await this.store.tx(async (tx) => {
      await tx.insertLoginFailures(keys, new Date(now).toISOString());
      await recordAudit(tx, {
        actorUuid: null,
        actorName: f.user === undefined ? "anonymous" : printable(f.user),
        action: "auth.failure",
        targetType: "user",
        targetUuid: f.userUuid ?? null,
        correlationId: req.id,
        outcome: "failure",
        details: { method: f.method, address: req.ip, reason: f.reason, ...(locked ? { locked: true } : {}) },
      });
    });
    if (now - this.lastSweep > SWEEP_EVERY_MS) {
      this.lastSweep = now;
      await this.store.sweepLoginFailures(new Date(now - this.windowMs).toISOString());
    }
  }

  async succeeded(user: string): Promise<void> {
    this.window.clear(userKey(user));
    await this.store.clearLoginFailures(userKey(user));
  }
}

const addressKey = (req: FastifyRequest) => `addr:${req.ip}`;
const userKey = (user: string) => `user:${user.slice(0, 256)}`;

/** A claimed name as the audit trail shows it: no control characters, bounded. */
function printable(name: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}
