// Required changes (Store's …Required methods): kept with the rest of their transaction when they
// hold, failing all of it with RequiredChangeMissing when not. On PostgreSQL they are held back
// and fail by themselves (openclm_require); test/pg/held-back.test.ts shows they wait for nothing.
// Runs on the engine of the pass (test/run-engines.mjs): SQLite, then PostgreSQL.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RequiredChangeMissing, type SmartcardRow } from "../../src/store/store.js";
import { SmartcardStatus } from "../../src/domain/enums.js";
import { requestRow, storeOfThisPass, T0 } from "../helpers/store.js";

const pass = storeOfThisPass("required");

function cardRow(requestUuid: string): SmartcardRow {
  return {
    uuid: randomUUID(), card_id: randomUUID(), status: SmartcardStatus.Assigned, flags: 1, parent_uuid: null, primary_uuid: null,
    permanent_uuid: null, assigned_user_uuid: randomUUID(), template_uuid: randomUUID(), template_version: 1, key_version: null,
    comment: "", atr: "", middleware: "MSBaseCSP", request_uuid: requestUuid, created_at: T0, updated_at: T0,
  };
}

/** Runs fn in a transaction that also moves a counter first, so a kept counter shows the transaction was kept. */
const withCounter = (name: string, fn: (tx: typeof pass.store) => Promise<void>) =>
  pass.store.tx(async (tx) => {
    await tx.nextCounter(name);
    await fn(tx);
  });

describe("required changes", () => {
  it("a request's certificate count: at least what it has holds, more fails the transaction", async () => {
    const uuid = randomUUID();
    await pass.store.insertRequest(requestRow(uuid));
    await withCounter("required_count", (tx) => tx.certificateCountAtLeastRequired(uuid, 0));
    await expect(withCounter("required_count", (tx) => tx.certificateCountAtLeastRequired(uuid, 1))).rejects.toBeInstanceOf(RequiredChangeMissing);
    expect(await pass.store.counterValue("required_count")).toBe(1);
  });

  it("a card's update and insert: kept when they change a row, failing the transaction when not", async () => {
    const request = randomUUID();
    const card = cardRow(request);
    await withCounter("required_card", (tx) => tx.insertSmartcardRequired(card));
    // The same request again: the unique index refuses it.
    await expect(withCounter("required_card", (tx) => tx.insertSmartcardRequired({ ...cardRow(request) }))).rejects.toBeInstanceOf(RequiredChangeMissing);
    await expect(
      withCounter("required_card", (tx) => tx.updateSmartcardRequired(card.uuid, { comment: "not kept" }, [SmartcardStatus.Active])),
    ).rejects.toBeInstanceOf(RequiredChangeMissing);
    await withCounter("required_card", (tx) => tx.updateSmartcardRequired(card.uuid, { status: SmartcardStatus.Active, comment: "kept" }, [SmartcardStatus.Assigned]));
    const row = (await pass.store.smartcardByUuid(card.uuid))!;
    expect([row.status, row.comment]).toEqual([SmartcardStatus.Active, "kept"]);
    expect(await pass.store.counterValue("required_card")).toBe(2);
    // Outside a transaction: the same answer, at once.
    await expect(pass.store.updateSmartcardRequired(randomUUID(), { comment: "nobody" })).rejects.toBeInstanceOf(RequiredChangeMissing);
  });
});
