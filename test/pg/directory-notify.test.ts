// On PostgreSQL each server process keeps the directory version it read (cached logins are checked
// against it on every request) until a notification says another connection changed users or
// groups (store/pg-change-listener.ts, migration 0008); while its listening connection is down it
// reads the version on every request again.
import { describe, expect, it, vi } from "vitest";
import { DIRECTORY_VERSION, type Store } from "../../src/store/store.js";
import { userRow } from "../helpers/store.js";
import { PG_AVAILABLE, query, scratchDatabase, SKIP_REASON, until } from "./support.js";

const db = scratchDatabase("directory-notify");
const open = () => db.open();

const user = (name: string) => userRow(name, { display_name: name });

/** True when two reads of the version in a row needed no statement. */
async function quiet(store: Store, reads: { mock: { calls: unknown[] } }): Promise<boolean> {
  const before = reads.mock.calls.length;
  await store.directoryVersion();
  await store.directoryVersion();
  return reads.mock.calls.length === before;
}

describe.skipIf(!PG_AVAILABLE)(`the directory version on PostgreSQL${SKIP_REASON}`, () => {
  it("is read once while nothing changes, and again once another process's change is announced", async () => {
    const server = await open();
    const admin = await open(); // the admin CLI, or another server process
    // The version's first write also creates its row: two announcements; from then on one per change.
    await admin.insertUser(user("seed"));
    const reads = vi.spyOn(server, "counterValue");
    expect(await until(async () => (await server.directoryVersion()) === 1)).toBe(true);
    expect(await until(async () => quiet(server, reads))).toBe(true);
    const v0 = await server.directoryVersion();
    const settled = reads.mock.calls.length;
    expect(await server.directoryVersion()).toBe(v0);
    expect(reads).toHaveBeenCalledTimes(settled);

    await admin.insertUser(user("nora"));
    expect(await until(async () => (await server.directoryVersion()) === v0 + 1)).toBe(true);
    const afterChange = reads.mock.calls.length;
    expect(await server.directoryVersion()).toBe(v0 + 1);
    expect(await server.directoryVersion()).toBe(v0 + 1);
    expect(reads).toHaveBeenCalledTimes(afterChange);

    // A change rolled back is never announced: the cached version stays in use.
    await admin
      .tx(async (tx) => {
        await tx.nextCounter(DIRECTORY_VERSION);
        throw new Error("rolled back on purpose");
      })
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    expect(await server.directoryVersion()).toBe(v0 + 1);
    expect(reads).toHaveBeenCalledTimes(afterChange);
  });

  it("keeps users read by uuid until another process's change to the directory is announced", async () => {
    const server = await open();
    const admin = await open();
    await admin.insertUser(user("olga"));
    const uuid = user("olga").uuid;
    expect(await until(async () => (await server.userByUuid(uuid))?.name === "olga")).toBe(true);
    const statements = vi.spyOn(server, "runCompiled");
    // Once the insert's announcement has arrived, a read needs no statement.
    const cachedRead = async () => {
      statements.mockClear();
      await server.userByUuid(uuid);
      return statements.mock.calls.length === 0;
    };
    expect(await until(cachedRead)).toBe(true);
    expect((await server.userByUuid(uuid))?.display_name).toBe("olga");
    expect(statements).not.toHaveBeenCalled();

    await admin.updateUser(uuid, { display_name: "Olga", disabled: 1 });
    expect(await until(async () => (await server.userByUuid(uuid))?.disabled === 1)).toBe(true);
    expect((await server.userByUuid(uuid))?.display_name).toBe("Olga");
  });

  it("reads the version on every request while it cannot listen, and caches again once it listens again", async () => {
    const server = await open();
    const admin = await open();
    const reads = vi.spyOn(server, "counterValue");
    expect(await until(async () => quiet(server, reads))).toBe(true);
    const v0 = await server.directoryVersion();

    // Cut every listening connection (as a database restart or a network cut would).
    await query(db.url, "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'openclm-listener' and datname = current_database()");
    // Not listening any more: two reads in a row both go to the database.
    expect(await until(async () => !(await quiet(server, reads)))).toBe(true);
    // Unheard meanwhile (it reconnects only after a second), and still seen at once.
    await admin.insertUser(user("otto"));
    expect(await server.directoryVersion()).toBe(v0 + 1);

    // Listening again (it reconnects after a second): the version is read once, then kept.
    expect(await until(async () => quiet(server, reads), 10_000)).toBe(true);
    expect(await server.directoryVersion()).toBe(v0 + 1);
  });
});
