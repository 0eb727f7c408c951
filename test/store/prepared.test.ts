import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openStore } from "../../src/store/open.js";
import { DIRECTORY_VERSION, type Store } from "../../src/store/store.js";
import { requestRow, userRow } from "../helpers/store.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-prepared-"));
const stores: Store[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function open(file: string): Promise<Store> {
  const store = await openStore({ url: `sqlite:${file}`, dataDir: dir });
  stores.push(store);
  return store;
}

const user = (name: string) => userRow(name);

describe("statements compiled once", () => {
  it("answer what kysely's built query answers, for each argument, and run inside the caller's transaction", async () => {
    const store = await open("prepared.sqlite");
    await store.insertUser(user("ann"));
    await store.insertUser(user("ben"));
    for (const name of ["ann", "ben"]) {
      const built = await store.db.selectFrom("users").selectAll().where("uuid", "=", user(name).uuid).executeTakeFirst();
      expect(built?.name).toBe(name);
      expect(await store.userByUuid(user(name).uuid)).toEqual(built);
    }
    expect(await store.userByUuid("no-such-user")).toBeUndefined();
    await store.tx(async (tx) => {
      await tx.updateUser(user("ann").uuid, { display_name: "Ann in a transaction" });
      expect((await tx.userByUuid(user("ann").uuid))?.display_name).toBe("Ann in a transaction");
    });
  });
});

describe("the directory version on SQLite", () => {
  it("is read once while nothing changes, and changes at once for this process's and another connection's writes", async () => {
    const store = await open("directory.sqlite");
    const other = await open("directory.sqlite"); // as the admin CLI does, beside the server
    const reads = vi.spyOn(store, "counterValue");
    const v0 = await store.directoryVersion();
    expect(await store.directoryVersion()).toBe(v0);
    expect(reads).toHaveBeenCalledTimes(1);

    await store.insertUser(user("cat"));
    const v1 = await store.directoryVersion();
    expect(v1).toBe(v0 + 1);

    await other.setGroups(user("cat").uuid, ["cm-users"]);
    const v2 = await store.directoryVersion();
    expect(v2).toBe(v1 + 1);
    expect(v2).toBe(await other.counterValue(DIRECTORY_VERSION));
    expect(await store.directoryVersion()).toBe(v2);
    expect(reads).toHaveBeenCalledTimes(3);
  });
});

describe("users by uuid on SQLite", () => {
  it("are read once while the directory version stays, and again after this process's or another connection's change", async () => {
    const store = await open("users-cached.sqlite");
    const other = await open("users-cached.sqlite");
    const uuid = user("eve").uuid;
    await store.insertUser(user("eve"));
    expect((await store.userByUuid(uuid))?.name).toBe("eve");
    const statements = vi.spyOn(store, "runCompiled");
    const cached = (await store.userByUuid(uuid))!;
    expect(statements).not.toHaveBeenCalled();
    // What a caller does with its copy stays with it.
    cached.display_name = "changed by a caller";
    expect((await store.userByUuid(uuid))?.display_name).toBe("EVE");

    await store.updateUser(uuid, { display_name: "Eve" });
    expect((await store.userByUuid(uuid))?.display_name).toBe("Eve");
    await other.updateUser(uuid, { disabled: 1 });
    expect(await store.userByUuid(uuid)).toMatchObject({ display_name: "Eve", disabled: 1 });
    statements.mockClear();
    await store.userByUuid(uuid);
    expect(statements).not.toHaveBeenCalled();

    // Inside a transaction it is read: the transaction sees its own change at once.
    await store.tx(async (tx) => {
      await tx.db.updateTable("users").set({ email: "eve@tx.test" }).where("uuid", "=", uuid).execute();
      expect((await tx.userByUuid(uuid))?.email).toBe("eve@tx.test");
    });
    expect(await store.userByUuid("no-such-user")).toBeUndefined();
  });
});

describe("inserts and updates compiled once per shape", () => {
  const request = (uuid: string) => requestRow(uuid, { originator_uuid: user("ann").uuid, target_uuid: user("ann").uuid });

  it("change only what each call names, honour the expected states, and leave out undefined values", async () => {
    const store = await open("shapes.sqlite");
    const [a, b] = ["00000000-0000-4000-8000-0000000000b1", "00000000-0000-4000-8000-0000000000b2"];
    await store.insertRequest(request(a));
    await store.insertRequest(request(b));
    await expect(store.insertRequest(request(a))).rejects.toThrow(/UNIQUE/);

    expect(await store.updateRequest(a, { status: 18, updated_at: "t1" }, [3])).toBe(true);
    expect(await store.updateRequest(b, { status: 18, updated_at: "t2" }, [3])).toBe(true);
    expect(await store.updateRequest(a, { status: 4, updated_at: "t3" }, [3])).toBe(false); // a is Executing now
    expect(await store.updateRequest(a, { status: 4, updated_at: "t3", comment: undefined }, [3, 18])).toBe(true);
    expect(await store.updateRequest(b, { comment: "edited" })).toBe(true);
    expect(await store.updateRequest(b, { csr_fingerprints: "[]" }, [18], { unsubmitted: true })).toBe(true);
    expect(await store.updateRequest(b, { csr_fingerprints: "[\"x\"]" }, [18], { unsubmitted: true })).toBe(false);

    const row = async (uuid: string) => {
      const r = (await store.requestByUuid(uuid))!;
      return [r.status, r.updated_at, r.comment, r.csr_fingerprints];
    };
    expect(await row(a)).toEqual([4, "t3", "", null]);
    expect(await row(b)).toEqual([18, "t2", "edited", "[]"]);
  });
});

describe("statements that skip kysely's connection queue (SQLite)", () => {
  it("never run inside another request's open transaction: they wait for it, and a rollback takes none of theirs", async () => {
    const store = await open("direct.sqlite");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    const rolledBack = store
      .tx(async (tx) => {
        await tx.insertUser(user("dan"));
        inside();
        await gate; // another request's turn comes while this transaction is open
        throw new Error("changed my mind");
      })
      .catch((e: Error) => e.message);
    await opened;
    // Outside the open transaction: a read must not see its uncommitted row, a write must not join it.
    const read = store.userByUuid(user("dan").uuid);
    const written = store.insertUser(user("eve"));
    const inTx = store.tx(async (tx) => tx.userByUuid(user("dan").uuid));
    release();
    expect(await rolledBack).toBe("changed my mind");
    expect(await read).toBeUndefined();
    await written;
    expect(await inTx).toBeUndefined();
    expect((await store.userByUuid(user("eve").uuid))?.name).toBe("eve");
    expect(await store.userByUuid(user("dan").uuid)).toBeUndefined();
  });

  it("run without the queue when no transaction is open and inside the caller's own transaction", async () => {
    const store = await open("direct-used.sqlite");
    await store.insertUser(user("fay"));
    const queued = vi.spyOn(store.db, "executeQuery");
    expect((await store.userByUuid(user("fay").uuid))?.name).toBe("fay");
    await store.tx(async (tx) => {
      const inTx = vi.spyOn(tx.db, "executeQuery");
      expect((await tx.userByUuid(user("fay").uuid))?.name).toBe("fay");
      expect(inTx).not.toHaveBeenCalled();
    });
    expect(queued).not.toHaveBeenCalled();
  });
});
