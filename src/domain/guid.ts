import { randomUUID } from "node:crypto";

export const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";
export const UNSET_DATE = "0001-01-01T00:00:00";

const GUID_RE = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;

/**
 * Canonical form of a GUID from the wire: any case, optional braces, surrounding white space
 * trimmed (clients in the field send `" C6BAD97C-…"`). Returns undefined when it is not a GUID.
 */
export function parseGuid(input: unknown): string | undefined {
  if (typeof input !== "string") return undefined;
  const m = GUID_RE.exec(input.trim());
  return m ? m[1]!.toLowerCase() : undefined;
}

export function newGuid(): string {
  return randomUUID();
}

/** Date on the wire: UTC ISO-8601 without fractional seconds, or the unset date. */
export function wireDate(d: Date | string | null | undefined): string {
  if (!d) return UNSET_DATE;
  const date = typeof d === "string" ? new Date(d) : d;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
