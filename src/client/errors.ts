// Errors the client reports, and the exit code each kind maps to. Scripts branch on the exit
// code, so the mapping is part of the CLI's contract (shown in --help).
import { CardError, InvalidPinError, WrongPinError } from "./card/errors.js";
import { CertificateMismatchError } from "./install.js";
import { ProtocolError } from "./wire.js";

/** A server answer other than 2xx, with the server's error body (SPEC §2). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly errorCode: string | null,
    readonly correlationId: string | null,
    readonly method: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** The server could not be reached or did not answer in time. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

/** Something the user gave is wrong, found before asking the server. */
export class InputError extends Error {
  override name = "InputError";
}

/** Ctrl-C, or the abort signal of the caller. */
export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor() {
    super("interrupted");
  }
}

export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Input: 2,
  Auth: 3,
  Permission: 4,
  Server: 5,
  PendingApproval: 6,
  Card: 7,
  Interrupted: 130,
} as const;

export type ErrorKind = "input" | "auth" | "permission" | "server" | "card" | "interrupted" | "internal";

export const EXIT_CODES_HELP = `Exit codes:
  0   success
  1   unexpected internal error
  2   input error: bad option or value, PIN not allowed by the policy, server said 400/409/413/415
  3   authentication failed (server said 401)
  4   not allowed or not visible to you (server said 403 or 404)
  5   server or network problem (5xx, 429, unreachable, timeout, unexpected answer)
  6   request created but awaiting approval (the message says how to continue once approved)
  7   card problem: PIN blocked, admin authentication failed, card busy or unreadable
  130 interrupted (Ctrl-C)`;

export function errorKind(err: unknown): ErrorKind {
  if (err instanceof InterruptedError) return "interrupted";
  if (err instanceof InputError || err instanceof WrongPinError || err instanceof InvalidPinError) return "input";
  if (err instanceof ApiError) {
    if (err.status === 401) return "auth";
    if (err.status === 403 || err.status === 404) return "permission";
    if (err.status >= 400 && err.status < 500 && err.status !== 429) return "input";
    return "server";
  }
  if (err instanceof NetworkError || err instanceof ProtocolError || err instanceof CertificateMismatchError) return "server";
  if (err instanceof CardError) return "card";
  return "internal";
}

const CODES: Record<ErrorKind, number> = {
  input: ExitCode.Input,
  auth: ExitCode.Auth,
  permission: ExitCode.Permission,
  server: ExitCode.Server,
  card: ExitCode.Card,
  interrupted: ExitCode.Interrupted,
  internal: ExitCode.Failure,
};

export function exitCodeFor(err: unknown): number {
  return CODES[errorKind(err)];
}

export interface ErrorReport {
  kind: ErrorKind;
  message: string;
  status?: number;
  errorCode?: string;
  correlationId?: string;
}

export function errorReport(err: unknown): ErrorReport {
  const kind = errorKind(err);
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError) {
    return {
      kind,
      message,
      status: err.status,
      ...(err.errorCode ? { errorCode: err.errorCode } : {}),
      ...(err.correlationId ? { correlationId: err.correlationId } : {}),
    };
  }
  return { kind, message };
}
