// The newest master-secret version is read once on SQLite while no other connection writes
// (PRAGMA data_version), and every time on PostgreSQL; a version added elsewhere is seen at once.
import { randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { seal } from "../../src/crypto/envelope.js";
import { MasterSecrets } from "../../src/domain/services/master-secrets.js";
import { openStore } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
import { storeOfThisPass } from "../helpers/store.js";

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
});
