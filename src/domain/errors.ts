// Domain failures carry the HTTP-independent kind; the HTTP layer maps kinds to status codes.
export type ErrorKind = "input" | "auth" | "forbidden" | "notFound" | "conflict" | "tooLarge" | "rateLimited" | "unsupportedMedia";

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badInput = (code: string, message: string) => new DomainError("input", code, message);
export const forbidden = (code: string, message: string) => new DomainError("forbidden", code, message);
export const conflict = (code: string, message: string) => new DomainError("conflict", code, message);
/** One message for every invisible object, so a 404 never tells whether it exists. */
export const notFound = (what: string) => new DomainError("notFound", "NotFound", `${what} not found`);
