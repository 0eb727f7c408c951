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

/**
 * A new GUID, time-ordered (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random
 * bits. Requests, cards and profiles made moments apart get neighbouring keys, so inserting them
 * (and every index row that names them: certificates and audit records by request, certificates by
 * card) touches the same few index pages at the end of each index instead of a random page each:
 * fewer pages written per commit on both engines, and on PostgreSQL fewer full-page images after a
 * checkpoint. The random bits come from randomUUID's (a version 4 GUID's) own, past its version digit.
 */
export function newGuid(): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx
  const ms = Date.now().toString(16).padStart(12, "0");
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${random.slice(15)}`;
}

/** Date on the wire: UTC ISO-8601 without fractional seconds, or the unset date. */
export function wireDate(d: Date | string | null | undefined): string {
  if (!d) return UNSET_DATE;
  const date = typeof d === "string" ? new Date(d) : d;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
