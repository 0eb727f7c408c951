// The tamper-evident audit trail: each record's hash covers its fields and the previous hash,
// so changing or deleting any record breaks the chain from there on. Deleting the newest
// records leaves an intact but shorter chain, so the head (last seq and hash) is also kept in
// the counters table, written in the same transaction as the record: the chain must end there.
import { createHash } from "node:crypto";
import { sql } from "kysely";
import type { AuditRow, Store } from "../store/store.js";

export interface AuditEvent {
  actorUuid: string | null;
  actorName: string;
  action: string;
  targetType: string;
  targetUuid?: string | null;
  requestUuid?: string | null;
  correlationId: string;
  outcome: "success" | "failure" | "denied";
  /** Non-secret facts only: never keys, PINs, passwords or responses. */
  details?: Record<string, unknown>;
}

export const GENESIS_HASH = "0".repeat(64);

/** Counter names of the chain head. The hash is kept as its first 52 bits (counters are numbers). */
export const HEAD_SEQ = "audit_head_seq";
export const HEAD_HASH = "audit_head_hash";
const HEAD_HASH_HEX_DIGITS = 13;

export function auditHash(prevHash: string, r: Omit<AuditRow, "seq" | "hash" | "prev_hash">): string {
  const canonical = JSON.stringify([
    r.at,
    r.actor_uuid,
    r.actor_name,
    r.action,
    r.target_type,
    r.target_uuid,
    r.request_uuid,
    r.correlation_id,
    r.outcome,
    r.details,
  ]);
  return createHash("sha256").update(prevHash).update("\n").update(canonical).digest("hex");
}

export function headHashValue(hash: string): number {
  return parseInt(hash.slice(0, HEAD_HASH_HEX_DIGITS), 16);
}

/** Appends one event; call inside the transaction that makes the change it records. */
export async function recordAudit(store: Store, e: AuditEvent): Promise<void> {
  await store.tx(async (tx) => {
    if (tx.engine === "postgres") await sql`select pg_advisory_xact_lock(7262001)`.execute(tx.db);
    const prev = (await tx.lastAuditHash()) ?? GENESIS_HASH;
    const row = {
      at: new Date().toISOString(),
      actor_uuid: e.actorUuid,
      actor_name: e.actorName,
      action: e.action,
      target_type: e.targetType,
      target_uuid: e.targetUuid ?? null,
      request_uuid: e.requestUuid ?? null,
      correlation_id: e.correlationId,
      outcome: e.outcome,
      details: JSON.stringify(e.details ?? {}),
    };
    const hash = auditHash(prev, row);
    const seq = await tx.insertAudit({ ...row, prev_hash: prev, hash });
    await tx.setCounters({ [HEAD_SEQ]: seq, [HEAD_HASH]: headHashValue(hash) });
  });
}

/** The recorded chain head, or undefined before the first record. */
export async function chainHead(store: Store): Promise<{ seq: number; hashValue: number } | undefined> {
  const rows = await store.db.selectFrom("counters").select(["name", "value"]).where("name", "in", [HEAD_SEQ, HEAD_HASH]).execute();
  const seq = rows.find((r) => r.name === HEAD_SEQ);
  const hash = rows.find((r) => r.name === HEAD_HASH);
  return seq && hash ? { seq: Number(seq.value), hashValue: Number(hash.value) } : undefined;
}

/** Walks the chain; returns the first broken sequence number, or undefined when intact. */
export function verifyChain(rows: AuditRow[], prevHash = GENESIS_HASH): { brokenAt?: number; lastHash: string } {
  let prev = prevHash;
  for (const r of rows) {
    if (r.prev_hash !== prev || auditHash(prev, r) !== r.hash) return { brokenAt: r.seq, lastHash: prev };
    prev = r.hash;
  }
  return { lastHash: prev };
}
