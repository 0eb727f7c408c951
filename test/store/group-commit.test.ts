// SQLite's group commit (src/store/sqlite-group-commit.ts): transactions share commits, and
// nothing resolves before the commit that makes it durable.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompiledQuery, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { SqliteGroupCommit } from "../../src/store/sqlite-group-commit.js";
import { WalFlusher } from "../../src/store/sqlite-wal-flush.js";
import type { Store } from "../../src/store/store.js";
import { recordAudit } from "../../src/domain/audit.js";
import { auditEvent } from "../helpers/store.js";
import { verifyAuditTrail } from "../../src/domain/services/audit-verify.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-group-commit-"));
const file = join(dir, "group.sqlite");
let store: Store;
/** Another connection to the same file: it sees only what is committed. */
let other: Database.Database;

beforeAll(async () => {
  store = await openStore({ url: "sqlite:group.sqlite", dataDir: dir });
  await sql`create table gc_parent (id integer primary key)`.execute(store.db);
  // Checked at COMMIT, not at the statement: a way to make a batch's commit fail.
  await sql`create table gc_child (id integer primary key, parent integer references gc_parent (id) deferrable initially deferred)`.execute(store.db);
  await sql`create table gc_rows (name text primary key)`.execute(store.db);
  other = new Database(file, { readonly: true });
});
afterAll(async () => {
  other?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const stats = () => ({ ...store.direct!.group.stats });
const committed = (name: string) => other.prepare("select count(*) as n from gc_rows where name = ?").get(name) as { n: number };
const insertRow = (s: Store, name: string) => sql`insert into gc_rows (name) values (${name})`.execute(s.db);

describe("SQLite group commit", () => {
  it("keeps SQLite's temporary data (the batch's savepoint journal) in memory, not in files", async () => {
    const { rows } = await sql<{ temp_store: number }>`pragma temp_store`.execute(store.db);
    expect(rows[0]?.temp_store).toBe(2);
  });

  it("commits transactions started together once, and each resolves only when another connection sees it", async () => {
    const before = stats();
    const names = Array.from({ length: 20 }, (_, i) => `together ${i}`);
    const seen = await Promise.all(
      names.map((name) => store.tx((tx) => insertRow(tx, name)).then(() => committed(name).n)),
    );
    expect(seen).toEqual(names.map(() => 1));
    const after = stats();
    expect(after.transactions - before.transactions).toBe(20);
    expect(after.commits - before.commits).toBe(1);
  });

  it("undoes a failing transaction alone, leaving the others of its batch to commit", async () => {
    const before = stats();
    const results = await Promise.allSettled([
      store.tx((tx) => insertRow(tx, "kept a")),
      store.tx(async (tx) => {
        await insertRow(tx, "undone");
        throw new Error("changed its mind");
      }),
      store.tx((tx) => insertRow(tx, "kept b")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect([committed("kept a").n, committed("undone").n, committed("kept b").n]).toEqual([1, 0, 1]);
    expect(stats().commits - before.commits).toBe(1);
  });

  it("resolves a write outside any transaction, made while a batch is open, once that batch commits", async () => {
    let seenWhenResolved = -1;
    await Promise.all([
      store.tx((tx) => insertRow(tx, "batch opener")),
      insertRow(store, "outside").then(() => (seenWhenResolved = committed("outside").n)),
    ]);
    expect(seenWhenResolved).toBe(1);
  });

  it("fails every transaction of a batch whose commit fails, and keeps none of their writes", async () => {
    const before = stats();
    const failuresBefore = store.commitFailures();
    const results = await Promise.allSettled([
      store.tx((tx) => insertRow(tx, "innocent")),
      store.tx((tx) => sql`insert into gc_child (id, parent) values (1, 999)`.execute(tx.db)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(committed("innocent").n).toBe(0);
    expect(store.commitFailures()).toBe(failuresBefore + 1);
    expect(stats().commits).toBe(before.commits);
    // The connection is usable again: the next transaction opens a new batch.
    await store.tx((tx) => insertRow(tx, "afterwards"));
    expect(committed("afterwards").n).toBe(1);
  });

  it("keeps the audit chain whole when a batch with audit records fails and another connection appends next", async () => {
    await recordAudit(store, auditEvent("before"));
    // The server's next record is remembered as the head when its transaction leaves the batch…
    const results = await Promise.allSettled([
      recordAudit(store, auditEvent("lost with its batch")),
      store.tx((tx) => sql`insert into gc_child (id, parent) values (2, 999)`.execute(tx.db)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    // …then the batch fails, and the admin CLI appends with the sequence number it had taken.
    const cli = await openStore({ url: "sqlite:group.sqlite", dataDir: dir });
    try {
      await recordAudit(cli, auditEvent("cli"));
    } finally {
      await cli.close();
    }
    await recordAudit(store, auditEvent("after"));
    const report = await verifyAuditTrail(store);
    expect(report).toMatchObject({ ok: true });
    const actions = (await store.listAudit({ page: { top: 10, skip: 0 } })).map((r) => r.action);
    expect(actions).toEqual(["before", "cli", "after"]);
  });

  it("reads other connections' commits (PRAGMA data_version) once per batch, which holds the write lock, and afresh in the next", async () => {
    const db = new Database(join(dir, "versions.sqlite"));
    db.pragma("journal_mode = WAL");
    db.exec("create table t (name text)");
    const group = new SqliteGroupCommit(db, new WalFlusher(join(dir, "versions.sqlite-wal")));
    const writer = new Database(join(dir, "versions.sqlite"), { timeout: 0 });
    const fresh = db.prepare("PRAGMA data_version").pluck();
    const writeElsewhere = () => writer.prepare("insert into t (name) values ('elsewhere')").run();
    try {
      const outside = group.dataVersion();
      writeElsewhere();
      const moved = group.dataVersion();
      expect(moved).not.toBe(outside);

      group.begin();
      const first = group.current!;
      expect(group.dataVersion()).toBe(moved);
      // Nobody else can commit while the batch is open: what it read stays true.
      expect(writeElsewhere).toThrow(/locked|busy/i);
      expect(group.dataVersion()).toBe(moved);
      expect(fresh.get()).toBe(moved);
      group.release();
      await group.close();
      await first.durable;

      writeElsewhere();
      group.begin();
      expect(group.dataVersion()).not.toBe(moved);
      expect(group.dataVersion()).toBe(fresh.get());
      group.release();
      await group.close();
    } finally {
      writer.close();
      db.close();
    }
  });

  it("commits the open batch when the database closes, and fails it if a transaction is still running", async () => {
    const db = new Database(join(dir, "closing.sqlite"));
    db.pragma("journal_mode = WAL");
    db.exec("create table t (name text)");
    const group = new SqliteGroupCommit(db, new WalFlusher(join(dir, "closing.sqlite-wal")));
    const insert = (name: string) => CompiledQuery.raw("insert into t (name) values (?)", [name]);

    group.begin();
    group.runInside(insert("released"));
    const released = group.release();
    await group.close();
    await expect(released.durable).resolves.toBeUndefined();
    expect(released.transactions).toBe(1);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare("select name from t").pluck().all()).toEqual(["released"]);

    group.begin();
    group.runInside(insert("running"));
    const running = group.current!;
    await group.close();
    db.close();
    await expect(running.durable).rejects.toThrow(/closed before this transaction committed/);
  });
});
