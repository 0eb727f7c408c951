// Rows of the server's SQLite statements are built from better-sqlite3's raw arrays
// (sqlite-group-commit.ts, rowsOf): they must be exactly the objects better-sqlite3 makes itself.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-sqlite-rows-"));
let store: Store;
/** Another connection: better-sqlite3's own objects, to compare with. */
let plain: Database.Database;

beforeAll(async () => {
  store = await openStore({ url: "sqlite:rows.sqlite", dataDir: dir });
  await sql`create table rows_a (id integer primary key, name text, blob blob, n real, big integer)`.execute(store.db);
  await sql`create table rows_b (id integer primary key, a_id integer, name text)`.execute(store.db);
  await sql`insert into rows_a values (1, 'one', x'0102', 1.5, 9007199254740991), (2, null, null, null, null), (3, 'three', x'', -2, 0)`.execute(store.db);
  await sql`insert into rows_b values (10, 1, 'b-one'), (11, 3, 'b-three')`.execute(store.db);
  plain = new Database(join(dir, "rows.sqlite"), { readonly: true });
});
afterAll(async () => {
  plain?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The same statement through the store and straight through better-sqlite3. */
async function both(text: string): Promise<{ ours: unknown[]; theirs: unknown[] }> {
  return { ours: (await sql.raw(text).execute(store.db)).rows, theirs: plain.prepare(text).all() };
}

describe("SQLite rows built from raw arrays", () => {
  it("equal better-sqlite3's objects: several rows, nulls, blobs, reals, large integers, key order", async () => {
    for (let round = 0; round < 2; round++) {
      // The second round runs the statement as prepared and cached by the first.
      const { ours, theirs } = await both("select * from rows_a order by id");
      expect(ours).toEqual(theirs);
      expect(ours.map((r) => Object.keys(r as object))).toEqual(theirs.map((r) => Object.keys(r as object)));
      expect(Buffer.isBuffer((ours[0] as { blob: unknown }).blob)).toBe(true);
    }
  });

  it("answer no rows as an empty list, and a RETURNING statement's rows as objects", async () => {
    expect((await sql`select * from rows_a where id = ${99}`.execute(store.db)).rows).toEqual([]);
    const inserted = await sql<{ id: number; name: string }>`insert into rows_a (id, name) values (${4}, ${"four"}) returning id, name`.execute(store.db);
    expect(inserted.rows).toEqual([{ id: 4, name: "four" }]);
  });

  it("let a later column of the same name win, and keep a column named __proto__ an own property", async () => {
    const joined = "select rows_a.*, rows_b.* from rows_a join rows_b on rows_b.a_id = rows_a.id order by rows_a.id";
    const { ours, theirs } = await both(joined);
    expect(ours).toEqual(theirs);
    expect((ours[0] as { id: number; name: string }).id).toBe(10);
    const odd = (await sql.raw(`select 1 as "__proto__", 2 as "a b", 3 as "'" from rows_a where id = 1`).execute(store.db)).rows[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(odd)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(odd, "__proto__")?.value).toBe(1);
    expect(odd["a b"]).toBe(2);
    expect(odd["'"]).toBe(3);
  });

  it("follow a column added after the statement was first run", async () => {
    const read = async () => (await sql`select * from rows_b where id = ${10}`.execute(store.db)).rows[0];
    expect(await read()).toEqual({ id: 10, a_id: 1, name: "b-one" });
    await sql`alter table rows_b add column extra text default 'x'`.execute(store.db);
    expect(await read()).toEqual({ id: 10, a_id: 1, name: "b-one", extra: "x" });
  });
});
