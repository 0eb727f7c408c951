// On PostgreSQL a transaction's BEGIN, and a statement inside it whose answer is not needed (the
// audit record), are written together with the transaction's next statement rather than as round
// trips of their own (store/pg-held-back.ts). The transaction must be exactly as before: nothing
// visible to others before the commit, everything undone on a rollback, a failed statement (held
// back or not) failing the transaction and leaving the connection fit for the next one.
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { RequiredChangeMissing, type RequestRow, type Store } from "../../src/store/store.js";
import type { AuditRecordColumns } from "../../src/store/schema.js";
import { PG_AVAILABLE, query, scratchDatabase, SKIP_REASON } from "./support.js";

const db = scratchDatabase("held-back");
let store: Store;
beforeAll(async () => {
  // pool_max=2: the same two connections serve every transaction below, so a connection left in a
  // transaction (or with a BEGIN still held back) would show in the next one.
  if (PG_AVAILABLE) store = await db.open("?pool_max=2");
});

const record = (correlationId: string, action: string | null = "test.held-back"): AuditRecordColumns => ({
  at: new Date().toISOString(),
  actor_uuid: null,
  actor_name: "test",
  action: action as string,
  target_type: "test",
  target_uuid: null,
  request_uuid: null,
  correlation_id: correlationId,
  outcome: "success",
  details: "{}",
});
const pendingRecords = async (correlationId: string) =>
  (await query(db.url, "select count(*)::int as n from audit_pending where correlation_id = $1", [correlationId]))[0]?.n;

const counter = async (name: string) => (await query(db.url, "select value from counters where name = $1", [name]))[0]?.value;

function requestRow(): RequestRow {
  const at = new Date().toISOString();
  return {
    uuid: randomUUID(), type: 1, workflow: "Enroll", status: 1, flags: 0, data_collection: "[]",
    originator_uuid: randomUUID(), target_uuid: randomUUID(), submitted_at: at, completed_at: null,
    new_profile_uuid: null, old_profile_uuid: null, new_smartcard_uuid: null, old_smartcard_uuid: null,
    priority: 0, comment: "", template_uuid: randomUUID(), template_version: 1, approvals_needed: 0,
    responses_released: 0, new_key_version: null, csr_fingerprints: null, revocation_reason: null, updated_at: at,
  };
}

describe.skipIf(!PG_AVAILABLE)(`transactions on PostgreSQL with BEGIN sent along with the first statement${SKIP_REASON}`, () => {
  it("keep their writes from other connections until the commit", async () => {
    await store.tx(async (tx) => {
      await tx.nextCounter("deferred_a");
      await tx.nextCounter("deferred_a");
      expect(await tx.counterValue("deferred_a")).toBe(2);
      expect(await counter("deferred_a")).toBeUndefined();
    });
    expect(await counter("deferred_a")).toBe("2");
  });

  it("undo everything on a rollback, whether the error is the caller's or a statement's", async () => {
    await expect(
      store.tx(async (tx) => {
        await tx.nextCounter("deferred_b");
        throw new Error("the caller gives up");
      }),
    ).rejects.toThrow("the caller gives up");
    await expect(
      store.tx(async (tx) => {
        await tx.nextCounter("deferred_b");
        await sql`select 1 / 0`.execute(tx.db);
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await counter("deferred_b")).toBeUndefined();
    // Both connections are fit for work, outside a transaction and inside one.
    for (let i = 0; i < 4; i++) await store.nextCounter("deferred_c");
    expect(await counter("deferred_c")).toBe("4");
    await Promise.all([1, 2, 3, 4].map(() => store.tx((tx) => tx.nextCounter("deferred_d"))));
    expect(await counter("deferred_d")).toBe("4");
  });

  it("leave no BEGIN behind after a transaction that made no statement", async () => {
    // A statement of no transaction right after each: a BEGIN left held back would go out with it
    // and keep it uncommitted. (Each on its own: an empty transaction rolled back in between would
    // clear a BEGIN the committed one left.)
    await store.tx(async () => {});
    await store.nextCounter("deferred_g");
    expect(await counter("deferred_g")).toBe("1");
    await expect(store.tx(async () => Promise.reject(new Error("before any statement")))).rejects.toThrow("before any statement");
    await store.nextCounter("deferred_f");
    expect(await counter("deferred_f")).toBe("1");
    await store.tx((tx) => tx.nextCounter("deferred_e"));
    expect(await counter("deferred_e")).toBe("1");
    const open = await query(db.url, "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'openclm' and state like 'idle in transaction%'");
    expect(open).toEqual([{ n: 0 }]);
  });

  it("commit a statement whose answer is not needed with what comes after it, or with the COMMIT", async () => {
    await store.tx(async (tx) => {
      await tx.nextCounter("held_a");
      await tx.insertPendingAudit(record("held-1"));
      await tx.insertPendingAudit(record("held-1"));
      await tx.nextCounter("held_a");
    });
    expect(await pendingRecords("held-1")).toBe(2);
    expect(await counter("held_a")).toBe("2");
    // As the transaction's first and only statement: BEGIN, the record and COMMIT go out together.
    await store.tx((tx) => tx.insertPendingAudit(record("held-2")));
    expect(await pendingRecords("held-2")).toBe(1);
    // Outside a transaction there is nothing to wait for: it is written at once.
    await store.insertPendingAudit(record("held-3"));
    expect(await pendingRecords("held-3")).toBe(1);
  });

  it("write a new request's row with what comes after it, and fail the transaction at the COMMIT if the row fails", async () => {
    const row = requestRow();
    let answered = 0;
    await store.tx(async (tx) => {
      await tx.insertRequest(row);
      answered++;
      await tx.insertPendingAudit(record("held-7"));
    });
    expect((await store.requestByUuid(row.uuid))?.workflow).toBe("Enroll");
    expect(await pendingRecords("held-7")).toBe(1);
    // The same uuid again: answered as done, then the COMMIT written with it fails with its error
    // and takes the counter and the record with it.
    await expect(
      store.tx(async (tx) => {
        await tx.nextCounter("held_e");
        await tx.insertRequest({ ...row, workflow: "Renew" });
        answered++;
        await tx.insertPendingAudit(record("held-8"));
      }),
    ).rejects.toThrow(/duplicate key value violates unique constraint/);
    expect(answered).toBe(2);
    expect((await store.requestByUuid(row.uuid))?.workflow).toBe("Enroll");
    expect(await counter("held_e")).toBeUndefined();
    expect(await pendingRecords("held-8")).toBe(0);
  });

  it("send a required change with what comes after it, and fail the whole transaction with RequiredChangeMissing when it changed nothing", async () => {
    const row = { ...requestRow(), status: 3 };
    await store.insertRequest(row);
    const move = { from: [3, 18] as [number, number], to: 18, at: new Date().toISOString(), keyVersion: null };
    let answered = 0;
    const release = (correlationId: string) =>
      store.tx(async (tx) => {
        await tx.nextCounter("required_a");
        await tx.takeResponseReleaseRequired(row.uuid, 1, move, 3);
        answered++;
        await tx.insertPendingAudit(record(correlationId));
      });
    await release("required-1");
    expect(answered).toBe(1);
    // Past the bound: answered as done without waiting (so written with the record and COMMIT),
    // then the COMMIT fails with openclm_require's error, and takes the counter and the record with it.
    await expect(release("required-2")).rejects.toBeInstanceOf(RequiredChangeMissing);
    expect(answered).toBe(2);
    expect(await counter("required_a")).toBe("1");
    expect([await pendingRecords("required-1"), await pendingRecords("required-2")]).toEqual([1, 0]);
    expect((await store.requestByUuid(row.uuid))?.responses_released).toBe(1);
    // Both connections are fit for the next transactions.
    await Promise.all([1, 2, 3, 4].map(() => store.tx((tx) => tx.nextCounter("required_b"))));
    expect(await counter("required_b")).toBe("4");
  });

  it("fail the transaction at its next statement or its COMMIT when the held-back statement fails", async () => {
    // The bad record is answered as done (it has not been sent); the COMMIT written with it fails
    // with its error, and the counter written before it is undone.
    let answered = 0;
    await expect(
      store.tx(async (tx) => {
        await tx.nextCounter("held_b");
        await tx.insertPendingAudit(record("held-4", null));
        answered++;
      }),
    ).rejects.toThrow(/null value in column "action"/);
    await expect(
      store.tx(async (tx) => {
        await tx.insertPendingAudit(record("held-4", null));
        answered++;
        await tx.nextCounter("held_b");
      }),
    ).rejects.toThrow(/null value in column "action"/);
    // Both times held back: sent at once, the statement itself would have failed.
    expect(answered).toBe(2);
    expect(await counter("held_b")).toBeUndefined();
    expect(await pendingRecords("held-4")).toBe(0);
    // A rollback drops what is held back.
    await expect(
      store.tx(async (tx) => {
        await tx.nextCounter("held_c");
        await tx.insertPendingAudit(record("held-5"));
        throw new Error("the caller gives up");
      }),
    ).rejects.toThrow("the caller gives up");
    expect(await counter("held_c")).toBeUndefined();
    expect(await pendingRecords("held-5")).toBe(0);
    // Both connections are fit for work.
    await Promise.all([1, 2, 3, 4].map(() => store.tx(async (tx) => (await tx.nextCounter("held_d"), tx.insertPendingAudit(record("held-6"))))));
    expect(await counter("held_d")).toBe("4");
    expect(await pendingRecords("held-6")).toBe(4);
    const open = await query(db.url, "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'openclm' and state like 'idle in transaction%'");
    expect(open).toEqual([{ n: 0 }]);
  });
});
