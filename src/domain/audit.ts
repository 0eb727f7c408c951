// The tamper-evident audit trail: each record's hash covers its fields and the previous hash,
// so changing or deleting any record breaks the chain from there on.
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

/** Appends one event; call inside the transaction that makes the change it records. */
export async function recordAudit(store: Store, e: AuditEvent): Promise<void> {
  await store.tx(async (tx) => {
    if (tx.engine === "postgres") await sql`select pg_advisory_xact_lock(7262001)`.execute(tx.db);
    const last = await tx.lastAudit();
    const prev = last?.hash ?? GENESIS_HASH;
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
    await tx.insertAudit({ ...row, prev_hash: prev, hash: auditHash(prev, row) });
  });
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
