// Reads that do not depend on one another (a request and a card) are issued together on one
// PostgreSQL connection and leave in one write: one round trip instead of one each
// (Store.readTogether, and the per-tick write coalescing in open.ts). Their answers must be exactly
// those of the reads made one by one.
import net from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { newGuid } from "../../src/domain/guid.js";
import type { SmartcardRow, Store } from "../../src/store/store.js";
import { requestRow, T0 } from "../helpers/store.js";
import { PG_AVAILABLE, scratchDatabase, SKIP_REASON } from "./support.js";

const db = scratchDatabase("read-together");
let store: Store;
beforeAll(async () => {
  // Two connections at most: one left holding anything would show in the reads after it.
  if (PG_AVAILABLE) store = await db.open("?pool_max=2");
});

function cardRow(requestUuid: string, over: Partial<SmartcardRow> = {}): SmartcardRow {
  return {
    uuid: newGuid(),
    card_id: newGuid(),
    status: 2,
    flags: 1,
    parent_uuid: null,
    primary_uuid: null,
    permanent_uuid: null,
    assigned_user_uuid: "00000000-0000-4000-8000-000000000001",
    template_uuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
    template_version: 1,
    key_version: 1,
    comment: "",
    atr: "",
    middleware: "MSBaseCSP",
    request_uuid: requestUuid,
    created_at: T0,
    updated_at: T0,
    ...over,
  };
}

/** Counts the socket writes (what reaches a socket, not what is queued) made while fn runs: here only the store's connections write. */
async function writesDuring<T>(fn: () => Promise<T>): Promise<{ result: T; writes: number }> {
  const proto = net.Socket.prototype as unknown as Record<"_writev" | "_write", (this: net.Socket, ...a: unknown[]) => unknown>;
  const saved = { _writev: proto._writev, _write: proto._write };
  let writes = 0;
  for (const name of ["_writev", "_write"] as const) {
    proto[name] = function (this: net.Socket, ...a: unknown[]) {
      writes++;
      return saved[name].apply(this, a);
    };
  }
  try {
    const result = await fn();
    return { result, writes };
  } finally {
    Object.assign(proto, saved);
  }
}

describe.skipIf(!PG_AVAILABLE)(`reads issued together on PostgreSQL${SKIP_REASON}`, () => {
  afterEach(async () => {
    // The connection is fit afterwards: a plain read on it still answers.
    expect(await store.counterValue("no-such-counter")).toBe(0);
  });

  it("answer a request and a card as the reads one by one do, in one write", async () => {
    const request = requestRow(newGuid());
    const card = cardRow(request.uuid);
    await store.insertRequest(request);
    await store.insertSmartcard(card);
    const apart = await writesDuring(async () => [await store.requestByUuid(request.uuid), await store.smartcardByUuid(card.uuid)]);
    const together = await writesDuring(() => store.requestAndCard(request.uuid, card.uuid));
    expect(together.result).toEqual(apart.result);
    expect(together.result[0]?.uuid).toBe(request.uuid);
    expect(together.result[1]?.uuid).toBe(card.uuid);
    expect(apart.writes).toBe(2);
    expect(together.writes).toBe(1);
  });

  it("answer what binding looks at, present or absent, in one write", async () => {
    const request = requestRow(newGuid());
    const card = cardRow(request.uuid);
    const retired = cardRow(newGuid(), { card_id: card.card_id, status: 6, created_at: "2025-01-01T00:00:00.000Z" });
    await store.insertRequest(request);
    await store.insertSmartcard(retired);
    await store.insertSmartcard(card);
    const together = await writesDuring(() => store.bindingFacts(request.uuid, card.card_id));
    expect(together.writes).toBe(1);
    const [r, bound, byCardId] = together.result;
    expect(r).toEqual(await store.requestByUuid(request.uuid));
    expect(bound).toEqual(await store.smartcardByRequest(request.uuid));
    expect(byCardId).toEqual(await store.smartcardsByCardId(card.card_id));
    expect(byCardId.map((c) => c.uuid)).toEqual([card.uuid, retired.uuid]);

    const none = await store.bindingFacts(newGuid(), newGuid());
    expect(none).toEqual([undefined, undefined, []]);
    expect(await store.requestAndCard(newGuid(), newGuid())).toEqual([undefined, undefined]);
  });

  it("run one after another inside a transaction, on the transaction's connection", async () => {
    const request = requestRow(newGuid());
    const card = cardRow(request.uuid);
    const result = await store.tx(async (tx) => {
      await tx.insertRequest(request);
      await tx.insertSmartcard(card);
      // Uncommitted: only the transaction's own connection can see these rows.
      return tx.requestAndCard(request.uuid, card.uuid);
    });
    expect(result[0]?.uuid).toBe(request.uuid);
    expect(result[1]?.uuid).toBe(card.uuid);
  });
});
