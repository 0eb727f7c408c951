// SQLite commits are durable before anything that depends on them is answered: the WAL is synced
// (src/store/sqlite-wal-flush.ts) after each group commit (src/store/sqlite-group-commit.ts).
import Database from "better-sqlite3";
import { fdatasync, fstatSync, mkdtempSync, readlinkSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompiledQuery, sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { SqliteGroupCommit } from "../../src/store/sqlite-group-commit.js";
import { WalFlusher, type SyncFn } from "../../src/store/sqlite-wal-flush.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-wal-flush-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sync that finishes when the test says so, recording which file each call synced. */
function gatedSync() {
  const calls: { path: string; ino: number; finish: (err?: NodeJS.ErrnoException) => void }[] = [];
  const sync: SyncFn = (fd, done) => {
    calls.push({
      path: readlinkSync(`/proc/self/fd/${fd}`),
      ino: fstatSync(fd).ino,
      // The real sync, then the answer: what the code under test waits for is a real fdatasync.
      finish: (err) => (err ? done(err) : fdatasync(fd, done)),
    });
  };
  return { sync, calls };
}

/** A WalFlusher with a gated sync, on a new file standing in for a WAL. */
function flusherOnNewFile(name: string) {
  const file = join(dir, name);
  writeFileSync(file, "frames");
  const { sync, calls } = gatedSync();
  return { file, calls, wal: new WalFlusher(file, sync) };
}

const settled = async (p: Promise<unknown>) => {
  let state = "pending";
  p.then(
    () => (state = "resolved"),
    () => (state = "rejected"),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return state;
};

describe("WalFlusher", () => {
  it("runs one sync at a time; flushes asked for while one runs share the next, which starts after it", async () => {
    const { file, calls, wal } = flusherOnNewFile("one-at-a-time-wal");

    const first = wal.flush();
    expect(wal.flush()).not.toBe(first); // asked while the first runs: it may not cover this write
    const second = wal.flush();
    expect(wal.flush()).toBe(second);
    expect(wal.pending).toBe(second);
    expect(calls).toHaveLength(1);

    calls[0]!.finish();
    await first;
    expect(await settled(second)).toBe("pending");
    expect(calls).toHaveLength(2); // the queued one started once the first was done
    const third = wal.flush();
    expect(third).not.toBe(second); // asked while the second runs: a third
    calls[1]!.finish();
    await second;
    expect(await settled(third)).toBe("pending");
    calls[2]!.finish();
    await third;
    await wal.close();
    expect(wal.pending).toBeUndefined();
    expect(wal.syncs).toBe(3);
    expect(calls.map((c) => c.path)).toEqual([file, file, file]);
  });

  it("fails the flush whose sync failed and every later one, as the disk's state is then unknown", async () => {
    const { calls, wal } = flusherOnNewFile("failing-wal");
    const first = wal.flush();
    calls[0]!.finish(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await expect(first).rejects.toThrow(/could not be written to disk \(EIO\); no change is kept as durable until the server is restarted/);
    await expect(wal.flush()).rejects.toThrow(/EIO/);
    expect(calls).toHaveLength(1);
    await wal.close();
  });

  it("syncs the file now at the path, if it was replaced", async () => {
    const { file, calls, wal } = flusherOnNewFile("replaced-wal");
    const first = wal.flush();
    calls[0]!.finish();
    await first;
    unlinkSync(file);
    writeFileSync(file, "new frames");
    const second = wal.flush();
    calls[1]!.finish();
    await second;
    expect(calls[1]!.ino).not.toBe(calls[0]!.ino);
    await wal.close();
  });
});

describe("SQLite group commit with the WAL's sync", () => {
  const file = join(dir, "gated.sqlite");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("create table t (name text)");
  const { sync, calls } = gatedSync();
  const group = new SqliteGroupCommit(db, new WalFlusher(`${file}-wal`, sync));
  const insert = (name: string) => CompiledQuery.raw("insert into t (name) values (?)", [name]);
  const count = CompiledQuery.raw("select count(*) as n from t", []);
  afterAll(async () => {
    for (const c of calls) c.finish();
    await group.close();
    db.close();
  });

  it("answers a committed transaction only once the WAL file is synced after its commit", async () => {
    group.begin();
    group.runInside(insert("a"));
    const batch = group.release();
    await new Promise((r) => setImmediate(r)); // the batch commits at the end of the turn
    expect(db.inTransaction).toBe(false);
    expect(group.stats.commits).toBe(1);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.path).toBe(`${file}-wal`);
    expect(await settled(batch.durable)).toBe("pending");

    // A read outside any batch may have seen that commit: it waits for the same sync.
    const read = Promise.resolve(group.runOutside(count));
    expect(await settled(read)).toBe("pending");

    calls[0]!.finish();
    await batch.durable;
    expect(await read).toEqual({ rows: [{ n: 1 }] });
    expect(group.wal.syncs).toBe(1);
  });

  it("syncs after a write outside any batch, which SQLite commits by itself, before answering it", async () => {
    const write = Promise.resolve(group.runOutside(insert("alone")));
    expect(calls).toHaveLength(2);
    expect(await settled(write)).toBe("pending");
    calls[1]!.finish();
    await expect(write).resolves.toMatchObject({ numAffectedRows: 1n });
    // Nothing unsynced left: a read answers at once.
    expect(group.runOutside(count)).toEqual({ rows: [{ n: 2 }] });
  });

  it("keeps a batch open while a sync runs, and commits what it gathered when that sync ends", async () => {
    const commits = group.stats.commits;
    group.begin();
    group.runInside(insert("first"));
    const first = group.release();
    await new Promise((r) => setImmediate(r));
    expect(group.stats.commits).toBe(commits + 1);
    expect(calls).toHaveLength(3);
    // Three more transactions in later turns, while that commit's sync runs: one batch, still open.
    const later: ReturnType<typeof group.release>[] = [];
    for (const name of ["second", "third", "fourth"]) {
      group.begin();
      group.runInside(insert(name));
      later.push(group.release());
      await new Promise((r) => setImmediate(r));
    }
    expect(new Set(later).size).toBe(1);
    expect(group.stats.commits).toBe(commits + 1);
    expect(db.inTransaction).toBe(true);

    calls[2]!.finish();
    await first.durable;
    await new Promise((r) => setImmediate(r));
    expect(group.stats.commits).toBe(commits + 2);
    expect(later[0]!.transactions).toBe(3);
    expect(calls).toHaveLength(4);
    expect(await settled(later[0]!.durable)).toBe("pending");
    calls[3]!.finish();
    await later[0]!.durable;
  });

  it("fails the transactions of a batch whose sync failed", async () => {
    group.begin();
    group.runInside(insert("b"));
    const batch = group.release();
    await new Promise((r) => setImmediate(r));
    calls[4]!.finish(Object.assign(new Error("EIO"), { code: "EIO" }));
    await expect(batch.durable).rejects.toThrow(/could not be written to disk/);
    expect(group.stats.failures).toBe(1);
  });
});

describe("the server's SQLite store", () => {
  it("syncs its WAL file after the commits it answers", async () => {
    const store = await openStore({ url: "sqlite:store.sqlite", dataDir: dir });
    try {
      const wal = store.direct!.group.wal;
      await sql`create table s (name text)`.execute(store.db);
      const before = wal.syncs;
      await Promise.all(["x", "y", "z"].map((name) => store.tx((tx) => sql`insert into s (name) values (${name})`.execute(tx.db))));
      // One batch, one commit, one sync (more if the machine is slow enough to split them).
      expect(wal.syncs - before).toBeGreaterThanOrEqual(1);
      expect(wal.syncs - before).toBeLessThanOrEqual(3);
      expect(wal.pending).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
