// On PostgreSQL a transaction's BEGIN is written together with its first statement rather than as
// a round trip of its own (store/open.ts). The transaction must be exactly as before: nothing
// visible to others before the commit, everything undone on a rollback, a failed statement leaving
// the connection fit for the next transaction.
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/store.js";
import { PG_AVAILABLE, query, scratchDatabase, SKIP_REASON } from "./support.js";

const db = scratchDatabase("deferred-begin");
let store: Store;
beforeAll(async () => {
  // pool_max=2: the same two connections serve every transaction below, so a connection left in a
  // transaction (or with a BEGIN still held back) would show in the next one.
  if (PG_AVAILABLE) store = await db.open("?pool_max=2");
});

const counter = async (name: string) => (await query(db.url, "select value from counters where name = $1", [name]))[0]?.value;

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
    await store.tx(async () => {});
    await expect(store.tx(async () => Promise.reject(new Error("before any statement")))).rejects.toThrow("before any statement");
    // A statement of no transaction right after: a BEGIN left held back would go out with it and
    // keep it uncommitted.
    await store.nextCounter("deferred_f");
    expect(await counter("deferred_f")).toBe("1");
    await store.tx((tx) => tx.nextCounter("deferred_e"));
    expect(await counter("deferred_e")).toBe("1");
    const open = await query(db.url, "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'openclm' and state like 'idle in transaction%'");
    expect(open).toEqual([{ n: 0 }]);
  });
});
