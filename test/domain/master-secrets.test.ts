// The newest master-secret version is read once while no other connection can have added one:
// on SQLite while PRAGMA data_version stays, on PostgreSQL while no directory-change notification
// arrives (a new version sends one). Where that cannot be known it is read every time; a version
// added elsewhere is seen at once (SQLite) or as soon as its notification arrives (PostgreSQL).
import { randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { seal } from "../../src/crypto/envelope.js";
import { MasterSecrets } from "../../src/domain/services/master-secrets.js";
import { openStore } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
import { storeOfThisPass } from "../helpers/store.js";
import { ENGINE, ensureTestDatabase, testDatabaseName } from "../helpers/server.js";
import { until } from "../pg/support.js";

const pass = storeOfThisPass("master-secrets");
const kek = randomBytes(32);
const TEMPLATE = "6f1c7d52-0000-4000-8000-000000000001";

describe("MasterSecrets.current", () => {
  it("creates version 1, then answers it again, reading the versions only where nothing else can tell it is still the newest", async () => {
    const secrets = new MasterSecrets(pass.store, kek);
    const first = await secrets.current(TEMPLATE);
    expect(first.version).toBe(1);
    await secrets.current(TEMPLATE); // read once after it was made
    const reads = vi.spyOn(Store.prototype, "masterSecrets");
    for (let i = 0; i < 3; i++) {
      const again = await secrets.current(TEMPLATE);
      expect(again.version).toBe(1);
      expect(again.secret.export()).toEqual(first.secret.export());
    }
    // The pass's PostgreSQL store does not listen for changes (as the admin CLI): it reads.
    expect(reads).toHaveBeenCalledTimes(pass.store.engine === "sqlite" ? 0 : 3);
    reads.mockRestore();
  });

  it("sees a version another connection added (SQLite: the data version moved)", async () => {
    const secrets = new MasterSecrets(pass.store, kek);
    const template = "6f1c7d52-0000-4000-8000-000000000002";
    expect((await secrets.current(template)).version).toBe(1);
    expect((await secrets.current(template)).version).toBe(1); // now known as the newest
    const other = pass.store.engine === "sqlite" ? await openStore({ url: `sqlite:master-secrets.sqlite`, dataDir: pass.dir }) : pass.store;
    try {
      const secret = randomBytes(32);
      await other.insertMasterSecret(template, 2, seal(kek, secret, `openclm:master-secret:${template}:2`), new Date().toISOString());
      const now = await secrets.current(template);
      expect(now.version).toBe(2);
      expect(now.secret.export()).toEqual(secret);
    } finally {
      if (other !== pass.store) await other.close();
    }
  });

  it.runIf(ENGINE === "postgres")("keeps the newest version on a server process until another process adds one, and hears of it", async () => {
    const url = await ensureTestDatabase(testDatabaseName(pass.dir));
    const open = () => openStore({ url, dataDir: pass.dir, listenForDirectoryChanges: true });
    const [a, b] = [await open(), await open()];
    try {
      const template = "6f1c7d52-0000-4000-8000-000000000003";
      const onA = new MasterSecrets(a, kek);
      expect(await until(async () => a.outsideChanges?.() !== undefined)).toBe(true);
      const heard = a.outsideChanges!();
      expect((await onA.current(template)).version).toBe(1);
      // Version 1's own notification moves the count once; from then on nothing is read.
      expect(await until(async () => a.outsideChanges?.() !== heard)).toBe(true);
      await onA.current(template);
      const reads = vi.spyOn(a, "masterSecrets");
      for (let i = 0; i < 3; i++) expect((await onA.current(template)).version).toBe(1);
      expect(reads).toHaveBeenCalledTimes(0);

      const secret = randomBytes(32);
      expect(await b.insertMasterSecret(template, 2, seal(kek, secret, `openclm:master-secret:${template}:2`), new Date().toISOString())).toBe(true);
      let now = await onA.current(template);
      await until(async () => (now = await onA.current(template)).version === 2);
      expect(now.version).toBe(2);
      expect(now.secret.export()).toEqual(secret);
      expect(reads).toHaveBeenCalled();
      reads.mockRestore();
    } finally {
      await a.close();
      await b.close();
    }
  });
});
