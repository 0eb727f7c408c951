// On PostgreSQL an audit record is written unlinked with its change and linked into the chain in
// the background a moment after the commit (domain/audit.ts): nobody waits for the linking, many
// records share one pass, and closing the store links what is still pending.
import { describe, expect, it, vi } from "vitest";
import { Store } from "../../src/store/store.js";
import { LINK_DELAY_MS, recordAudit } from "../../src/domain/audit.js";
import { verifyAuditTrail } from "../../src/domain/services/audit-verify.js";
import { auditEvent } from "../helpers/store.js";
import { PG_AVAILABLE, scratchDatabase, SKIP_REASON, until } from "./support.js";

const db = scratchDatabase("audit-background");
const open = () => db.open();

/** Actions of the records still waiting to be linked, read without linking them. */
async function pending(store: Store): Promise<string[]> {
  return (await store.db.selectFrom("audit_pending").select("action").orderBy("id").execute()).map((r) => r.action);
}

async function linked(store: Store): Promise<string[]> {
  return (await store.db.selectFrom("audit_events").select("action").orderBy("seq").execute()).map((r) => r.action);
}


describe.skipIf(!PG_AVAILABLE)(`audit linking in the background on PostgreSQL${SKIP_REASON}`, () => {
  it("answers without waiting for linking, and links in the background, many records per pass", async () => {
    const store = await open();
    // Another session holds the chain's lock, so no pass can finish until it lets go.
    const passes = vi.spyOn(Store.prototype, "takePendingAudit");
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const lockTaken = new Promise<void>((r) => (locked = r));
    const other = await open();
    const holding = other.tx(async (tx) => {
      await tx.lockTransaction("auditChain");
      locked();
      await held;
    });
    try {
      await lockTaken;
      // Twenty changes committed together are all answered while the chain is locked.
      await Promise.all(Array.from({ length: 20 }, (_, i) => recordAudit(store, auditEvent(`batch-${i}`))));
      expect((await pending(store)).filter((a) => a.startsWith("batch-"))).toHaveLength(20);
      // Every commit's linking timer has fired while the lock is still held; one firing after
      // the release would rightly start a pass of its own.
      await new Promise((r) => setTimeout(r, LINK_DELAY_MS + 40));
      release();
      await holding;
      await until(async () => (await pending(store)).length === 0, 5_000);
      expect(await pending(store)).toEqual([]);
      expect((await linked(store)).filter((a) => a.startsWith("batch-")).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `batch-${i}`).sort());
      // The pass waiting on the lock and at most one queued behind it: not a pass per record.
      expect(passes.mock.calls.length).toBeLessThanOrEqual(2);
      expect((await verifyAuditTrail(store)).ok).toBe(true);
    } finally {
      release();
      passes.mockRestore();
    }
  });

  it("links what is still pending when the store closes", async () => {
    const writer = await open();
    await recordAudit(writer, auditEvent("just-before-close"));
    await db.close(writer);
    const reader = await open();
    expect(await pending(reader)).toEqual([]);
    expect((await linked(reader)).at(-1)).toBe("just-before-close");
    expect((await verifyAuditTrail(reader)).ok).toBe(true);
  });
});
