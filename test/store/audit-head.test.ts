import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openStore } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
import { chainHead, headHashValue, recordAudit } from "../../src/domain/audit.js";
import { auditEvent } from "../helpers/store.js";
import { verifyAuditTrail } from "../../src/domain/services/audit-verify.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-audit-head-"));
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


describe("the audit chain head on SQLite", () => {
  it("is remembered once its transaction is released, so a record costs no read of the head", async () => {
    const store = await open("remembered.sqlite");
    await recordAudit(store, auditEvent("first"));
    const heads = vi.spyOn(Store.prototype, "lastAuditHash");
    const before = vi.spyOn(Store.prototype, "auditHashBefore");
    for (let i = 0; i < 5; i++) await recordAudit(store, auditEvent(`next ${i}`));
    expect(heads).not.toHaveBeenCalled();
    expect(before).not.toHaveBeenCalled();
    heads.mockRestore();
    before.mockRestore();
    expect(await verifyAuditTrail(store)).toMatchObject({ ok: true, records: 6 });
  });

  it("links to the real predecessor when another connection appended meanwhile (the admin CLI beside the server)", async () => {
    const server = await open("two-writers.sqlite");
    const cli = await open("two-writers.sqlite");
    await recordAudit(server, auditEvent("server 1"));
    await recordAudit(cli, auditEvent("cli 1"));
    await recordAudit(cli, auditEvent("cli 2"));
    await recordAudit(server, auditEvent("server 2"));
    await recordAudit(cli, auditEvent("cli 3"));
    await recordAudit(server, auditEvent("server 3"));
    expect(await verifyAuditTrail(server)).toMatchObject({ ok: true, records: 6 });
    const rows = await server.listAudit({ page: { top: 10, skip: 0 } });
    expect(rows.map((r) => r.action)).toEqual(["server 1", "cli 1", "cli 2", "server 2", "cli 3", "server 3"]);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
  });

  it("is not taken from a transaction that rolled back", async () => {
    const store = await open("rollback.sqlite");
    await recordAudit(store, auditEvent("kept 1"));
    await expect(
      store.tx(async (tx) => {
        await recordAudit(tx, auditEvent("rolled back"));
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    await recordAudit(store, auditEvent("kept 2"));
    // Concurrent records: each waits for the connection, none links to an uncommitted head.
    await Promise.all([1, 2, 3, 4].map((i) => recordAudit(store, auditEvent(`concurrent ${i}`))));
    expect(await verifyAuditTrail(store)).toMatchObject({ ok: true, records: 6 });
    expect((await store.listAudit({ page: { top: 10, skip: 0 } })).map((r) => r.action)).not.toContain("rolled back");
  });

  it("is passed on between the transactions of one commit batch, so none of them links its record again", async () => {
    const store = await open("batch.sqlite");
    await recordAudit(store, auditEvent("first"));
    const before = vi.spyOn(Store.prototype, "auditHashBefore");
    const relinks = vi.spyOn(Store.prototype, "relinkAuditEvent");
    const commits = store.direct!.group.stats.commits;
    await Promise.all(Array.from({ length: 12 }, (_, i) => recordAudit(store, auditEvent(`batched ${i}`))));
    expect(store.direct!.group.stats.commits - commits).toBe(1);
    expect(before).not.toHaveBeenCalled();
    expect(relinks).not.toHaveBeenCalled();
    before.mockRestore();
    relinks.mockRestore();
    expect(await verifyAuditTrail(store)).toMatchObject({ ok: true, records: 13 });
  });

  it("is written once per commit batch, in its COMMIT, as the batch's last released transaction left it", async () => {
    const store = await open("head-at-commit.sqlite");
    const reader = await open("head-at-commit.sqlite");
    await recordAudit(store, auditEvent("first"));
    const inTransaction = vi.spyOn(Store.prototype, "setAuditHead");
    const commits = store.direct!.group.stats.commits;
    const results = await Promise.allSettled(
      Array.from({ length: 9 }, (_, i) =>
        store.tx(async (tx) => {
          await recordAudit(tx, auditEvent(`batched ${i}`));
          // The last transaction of the batch rolls back: the head must not name its record.
          if (i === 8) throw new Error("rolled back");
        }),
      ),
    );
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    expect(store.direct!.group.stats.commits - commits).toBe(1);
    expect(inTransaction).not.toHaveBeenCalled();
    inTransaction.mockRestore();
    // Another connection sees only committed state: the head it reads is the newest kept record.
    const rows = await reader.listAudit({ page: { top: 20, skip: 0 } });
    const last = rows[rows.length - 1]!;
    expect(last.action).toBe("batched 7");
    expect(await chainHead(reader)).toEqual({ seq: Number(last.seq), hashValue: headHashValue(last.hash) });
    expect(await verifyAuditTrail(reader)).toMatchObject({ ok: true, records: 9 });
  });
});
