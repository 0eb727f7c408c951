// The tamper-evident audit trail: each record's hash covers its fields and the previous hash,
// so changing or deleting any record breaks the chain from there on. Deleting the newest
// records leaves an intact but shorter chain, so the head (last seq and hash) is also kept in
// the counters table, written in the same commit as the record: the chain must end there.
import { hash } from "node:crypto";
import type { AuditRow, Store } from "../store/store.js";
import type { AuditRecordColumns } from "../store/schema.js";

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

export function auditHash(prevHash: string, r: AuditRecordColumns): string {
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
  return hash("sha256", `${prevHash}\n${canonical}`, "hex");
}

export function headHashValue(hash: string): number {
  return parseInt(hash.slice(0, HEAD_HASH_HEX_DIGITS), 16);
}


/**
 * Records one event; call inside the transaction that makes the change it records, so the record
 * exists exactly when the change does.
 *
 * SQLite has one writer at a time, so the chain is extended right there. On PostgreSQL, linking
 * in the transaction meant holding the chain's lock until the commit's fsync, and every write
 * of every server process took turns on it. There the record is written unlinked (audit_pending)
 * with the change, durable with it, and linked into the chain a moment after the commit, in the
 * background: the records of all writers of the next LINK_DELAY_MS go into one linking pass,
 * under the lock for a few statements only. Nobody waits for it: whoever reads or verifies the
 * trail links what is pending first, and closing the store links what is left. Records a crashed
 * process left unlinked are linked by any process's next pass and by its periodic sweep.
 */
export async function recordAudit(store: Store, e: AuditEvent): Promise<void> {
  const row: AuditRecordColumns = {
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
  await store.tx(async (tx) => {
    if (tx.engine === "sqlite") return appendOne(tx, row);
    await tx.insertPendingAudit(row);
    const chainer = chainerOf(tx.root);
    await tx.afterCommit("audit-chain", async () => chainer.soon());
  });
}

/** Links every record written so far; a no-op on SQLite, where records are linked as written. */
export async function linkPendingAudit(store: Store): Promise<void> {
  if (store.engine === "postgres") await chainerOf(store.root).run();
}

/**
 * The chain head this process last appended (SQLite). Reading the head before every record was
 * a statement per audited change; instead the record is linked to the remembered head, and its
 * new sequence number proves nobody appended in between (sequence numbers are never reused).
 * When another connection did (the admin CLI), the record is linked again to its real predecessor.
 * The head is remembered once its transaction is released (the next transactions see it, in the
 * same batch) and forgotten if a batch fails to commit, which takes its records away again.
 */
const appendedHeads = new WeakMap<Store, { seq: number; hash: string; failures: number }>();

async function appendOne(tx: Store, row: AuditRecordColumns): Promise<void> {
  const last = appendedHeads.get(tx.root);
  const remembered = last && last.failures === tx.commitFailures() ? last : undefined;
  let prev = remembered?.hash ?? (await tx.lastAuditHash()) ?? GENESIS_HASH;
  let hash = auditHash(prev, row);
  const seq = await tx.insertAuditEvent({ ...row, prev_hash: prev, hash });
  if (remembered && seq !== remembered.seq + 1) {
    prev = (await tx.auditHashBefore(seq)) ?? GENESIS_HASH;
    hash = auditHash(prev, row);
    await tx.relinkAuditEvent(seq, prev, hash);
  }
  const head = { seqCounter: HEAD_SEQ, seq, hashCounter: HEAD_HASH, hashValue: headHashValue(hash) };
  // The trail and its head change together in every commit (with SQLite's group commit, the head
  // once per batch, as the last transaction released into it left it).
  await tx.setAuditHeadAtCommit(head);
  // Only once released: a rolled-back record's sequence number is handed out again.
  const failures = tx.commitFailures();
  tx.afterRelease("audit-head", () => appendedHeads.set(tx.root, { seq, hash, failures }));
}

async function appendToChain(tx: Store, rows: AuditRecordColumns[]): Promise<void> {
  let prev = (await tx.lastAuditHash()) ?? GENESIS_HASH;
  const linked = rows.map((row) => {
    const hash = auditHash(prev, row);
    const out = { ...row, prev_hash: prev, hash };
    prev = hash;
    return out;
  });
  await tx.appendAudit(linked, { seqCounter: HEAD_SEQ, hashCounter: HEAD_HASH, hashValue: headHashValue(prev) });
}

const BATCH = 500;
/**
 * How long a committed record may wait to be linked. Each linking pass is six round trips
 * whatever its size; linked per answer, passes were a quarter of all statements under load.
 * At 10 ms a process under enrollment load made 74–83 passes a second; at 50 ms it makes 20.
 * Nothing waits for the link: readers link what is pending first, and the record is durable,
 * unlinked, from its change's commit.
 */
export const LINK_DELAY_MS = 50;
const chainers = new WeakMap<Store, AuditChainer>();

function chainerOf(root: Store): AuditChainer {
  let c = chainers.get(root);
  if (!c) {
    chainers.set(root, (c = new AuditChainer(root)));
    root.beforeClose("audit-chain", () => c!.flush());
  }
  return c;
}

/**
 * One linking pass at a time per process. A caller arriving during a pass waits for the next
 * one, which starts after the current and so sees the caller's committed record: the records
 * of all writers that arrive meanwhile go into that one batch (group commit).
 */
class AuditChainer {
  private current?: Promise<void>;
  private queued?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(private readonly store: Store) {}

  /**
   * Links what is pending a moment from now. The change and its record are committed: a failed
   * pass must not report the change as failed, and its records stay pending for the next pass,
   * the sweep (which logs why) or a reader.
   */
  soon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run().catch(() => {});
    }, LINK_DELAY_MS);
    // A process about to exit need not stay for it: its store's close links, or the next sweep does.
    this.timer.unref();
  }

  /** Links everything pending now (the store is closing). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.run().catch(() => {});
  }

  run(): Promise<void> {
    if (!this.current) {
      this.current = this.pass().finally(() => (this.current = undefined));
      return this.current;
    }
    this.queued ??= this.current
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.run();
      });
    return this.queued;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const linked = await this.store.tx(async (tx) => {
        // The records were made durable with their changes; this transaction only moves them. If
        // its commit were lost in a crash it would be lost whole, and the records linked again;
        // so it need not wait for its own flush, and the lock is held for a few statements only.
        await tx.lockTransaction("auditChain", { asyncCommit: true });
        const pending = await tx.takePendingAudit(BATCH);
        if (pending.length === 0) return 0;
        await appendToChain(
          tx,
          pending.map(({ id: _id, ...row }) => row),
        );
        return pending.length;
      });
      if (linked < BATCH) return;
    }
  }
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
