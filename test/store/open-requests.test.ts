// Runs on the engine of the pass (test/run-engines.mjs): SQLite, then PostgreSQL.
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import type { RequestRow } from "../../src/store/store.js";
import { ENGINE } from "../helpers/server.js";
import { queryPlan, requestRow, storeOfThisPass } from "../helpers/store.js";

const pass = storeOfThisPass("open-requests");
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const CARD = id(900);
const PROFILE = id(901);
const request = (n: number, status: number, credentials: Partial<RequestRow>): RequestRow =>
  requestRow(id(n), { status, submitted_at: `2026-01-01T00:00:${String(n % 60).padStart(2, "0")}.000Z`, ...credentials });

describe("open requests of a credential", () => {
  it("are the Pending, Approved and Executing requests naming it in any of its four columns", async () => {
    await pass.store.insertRequest(request(10, 3, { new_smartcard_uuid: CARD }));
    await pass.store.insertRequest(request(11, 18, { old_smartcard_uuid: CARD }));
    await pass.store.insertRequest(request(12, 16, { old_smartcard_uuid: CARD, new_smartcard_uuid: id(902) }));
    await pass.store.insertRequest(request(13, 4, { new_smartcard_uuid: CARD })); // Completed
    await pass.store.insertRequest(request(14, 3, { new_smartcard_uuid: id(903) })); // another card
    await pass.store.insertRequest(request(15, 3, {})); // no credential yet
    await pass.store.insertRequest(request(20, 18, { new_profile_uuid: PROFILE }));
    await pass.store.insertRequest(request(21, 3, { old_profile_uuid: PROFILE }));
    await pass.store.insertRequest(request(22, 6, { old_profile_uuid: PROFILE })); // Canceled
    const uuids = async (credential: string) => (await pass.store.openRequestsForCredential(credential)).map((r) => r.uuid).sort();
    expect(await uuids(CARD)).toEqual([id(10), id(11), id(12)]);
    expect(await uuids(PROFILE)).toEqual([id(20), id(21)]);
    expect(await uuids(id(904))).toEqual([]);
    // A request that closes leaves, one that opens on the card joins.
    expect(await pass.store.updateRequest(id(10), { status: 4 }, [3])).toBe(true);
    expect(await pass.store.updateRequest(id(14), { new_smartcard_uuid: CARD })).toBe(true);
    expect(await uuids(CARD)).toEqual([id(11), id(12), id(14)]);
  });

  it("are found through the partial indexes, one per column, not by scanning all open requests", async () => {
    const query = pass.store.openRequestsQuery(CARD).compile();
    expect(query.parameters).toEqual([CARD, CARD, CARD, CARD]);
    let details: string;
    if (ENGINE === "sqlite") {
      details = await queryPlan(pass.store, query);
      expect(details).not.toMatch(/SCAN requests|requests_status/);
    } else {
      // With many open requests on other cards, finding one card's must not read them all.
      await sql.raw(`insert into requests select (md5(g::text))::uuid::text, type, workflow, status, flags, data_collection, originator_uuid,
        target_uuid, submitted_at, completed_at, new_profile_uuid, old_profile_uuid, (md5('card' || g))::uuid::text, old_smartcard_uuid,
        priority, comment, template_uuid, template_version, approvals_needed, responses_released, new_key_version, csr_fingerprints,
        revocation_reason, updated_at from requests, generate_series(1, 5000) g where uuid = '${id(15)}'`).execute(pass.store.db);
      await sql.raw("analyze requests").execute(pass.store.db);
      details = await queryPlan(pass.store, query);
      expect(details).not.toMatch(/Seq Scan|requests_status/);
    }
    for (const index of ["requests_open_old_card", "requests_open_new_card", "requests_open_old_profile", "requests_open_new_profile"]) expect(details).toContain(index);
  });
});
