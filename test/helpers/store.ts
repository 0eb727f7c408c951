// A Store on the engine of the pass (test/run-engines.mjs: SQLite, then PostgreSQL) in a temporary
// data directory, the rows store tests insert, and the plans of the store's queries.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type CompiledQuery } from "kysely";
import { afterAll, beforeAll } from "vitest";
import { openStore } from "../../src/store/open.js";
import type { RequestRow, Store, UserRow } from "../../src/store/store.js";
import { RequestStatus } from "../../src/domain/enums.js";
import type { AuditEvent } from "../../src/domain/audit.js";
import { ENGINE, ensureTestDatabase, testDatabaseName } from "./server.js";

/** Opens a Store before the file's tests and closes it after; read `.store` inside the tests. */
export function storeOfThisPass(name: string): { store: Store; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), `openclm-${name}-`));
  const holder = { dir } as { store: Store; dir: string };
  beforeAll(async () => {
    const url = ENGINE === "postgres" ? await ensureTestDatabase(testDatabaseName(dir)) : `sqlite:${name}.sqlite`;
    holder.store = await openStore({ url, dataDir: dir });
  });
  afterAll(async () => {
    await holder.store?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return holder;
}

export const T0 = "2026-01-01T00:00:00.000Z";

/** An audit event of the test itself, named by its action. */
export const auditEvent = (action: string): AuditEvent => ({
  actorUuid: null,
  actorName: "test",
  action,
  targetType: "test",
  correlationId: "00000000-0000-4000-8000-000000000000",
  outcome: "success",
});

/** A local user without a password, its uuid made from its name; `over` changes any column. */
export function userRow(name: string, over: Partial<UserRow> = {}): UserRow {
  return {
    uuid: `00000000-0000-4000-8000-${name.padStart(12, "0")}`,
    name,
    display_name: name.toUpperCase(),
    email: `${name}@example.test`,
    upn: `${name}@example.test`,
    password_hash: null,
    disabled: 0,
    source: "local",
    created_at: T0,
    ...over,
  };
}

/** An Approved VPN enrollment of one user for itself; `over` changes any column. */
export function requestRow(uuid: string, over: Partial<RequestRow> = {}): RequestRow {
  return {
    uuid,
    type: 1,
    workflow: "Enroll",
    status: RequestStatus.Approved,
    flags: 0,
    data_collection: "[]",
    originator_uuid: "00000000-0000-4000-8000-000000000001",
    target_uuid: "00000000-0000-4000-8000-000000000001",
    submitted_at: T0,
    completed_at: null,
    new_profile_uuid: null,
    old_profile_uuid: null,
    new_smartcard_uuid: null,
    old_smartcard_uuid: null,
    priority: 0,
    comment: "",
    template_uuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
    template_version: 1,
    approvals_needed: 0,
    responses_released: 0,
    new_key_version: null,
    csr_fingerprints: null,
    revocation_reason: null,
    updated_at: T0,
    ...over,
  };
}

/**
 * The plan the pass's engine makes for one of the store's queries, with its parameters written in
 * as literals (a parameter would hide from the planner whether a partial index applies).
 * `noSeqScan` (PostgreSQL): scans priced out, so the plan shows whether an index applies at all.
 */
export async function queryPlan(store: Store, query: CompiledQuery, opts: { noSeqScan?: boolean } = {}): Promise<string> {
  const literal = (p: unknown) => (typeof p === "number" ? String(p) : `'${String(p).replace(/'/g, "''")}'`);
  if (ENGINE === "sqlite") {
    let i = 0;
    const text = query.sql.replace(/\?/g, () => literal(query.parameters[i++]));
    const rows = await sql.raw<{ detail: string }>(`explain query plan ${text}`).execute(store.db);
    return rows.rows.map((r) => r.detail).join("\n");
  }
  const text = query.sql.replace(/\$(\d+)/g, (_, n: string) => literal(query.parameters[Number(n) - 1]));
  return store.db.transaction().execute(async (trx) => {
    if (opts.noSeqScan) await sql.raw("set local enable_seqscan = off").execute(trx);
    const rows = await sql.raw<{ "QUERY PLAN": string }>(`explain ${text}`).execute(trx);
    return rows.rows.map((r) => r["QUERY PLAN"]).join("\n");
  });
}
