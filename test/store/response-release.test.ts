// Runs on the engine of the pass (test/run-engines.mjs): SQLite, then PostgreSQL.
import { describe, expect, it } from "vitest";
import { RequestStatus } from "../../src/domain/enums.js";
import { requestRow as request, storeOfThisPass, T0, auditEvent } from "../helpers/store.js";
import { RequiredChangeMissing } from "../../src/store/store.js";
import { linkPendingAudit, recordAudit } from "../../src/domain/audit.js";

const pass = storeOfThisPass("release");

/** The columns a release changes. */
async function row(uuid: string) {
  const r = (await pass.store.requestByUuid(uuid))!;
  return { status: r.status, released: r.responses_released, updated: r.updated_at, keyVersion: r.new_key_version };
}
const move = (at: string, keyVersion: number | null) => ({
  from: [RequestStatus.Approved, RequestStatus.Executing] as [number, number],
  to: RequestStatus.Executing,
  at,
  keyVersion,
});

describe("counting a response release and moving the request in one statement", () => {
  it("moves an Approved request to Executing, stamps it only when it changed or a key version is recorded, and stops at the bound", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a1";
    await pass.store.insertRequest(request(uuid));
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:01.000Z", null))).toBe(true);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 1, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    // Executing already and no key: counted, but the request itself did not change.
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:02.000Z", null))).toBe(true);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 2, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:03.000Z", 7))).toBe(true);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:04.000Z", 8))).toBe(false);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
  });

  it("answers the same when told the request is Executing already (status then not written), and falls back when that is stale", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a3";
    await pass.store.insertRequest(request(uuid));
    // Told Executing while it is still Approved: the release still counts and moves it.
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:01.000Z", null), RequestStatus.Executing)).toBe(true);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 1, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:02.000Z", null), RequestStatus.Executing)).toBe(true);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 2, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:03.000Z", 7), RequestStatus.Executing)).toBe(true);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:04.000Z", 8), RequestStatus.Executing)).toBe(false);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
    // Told Executing after it was completed: refused, untouched.
    const done = "00000000-0000-4000-8000-0000000000a4";
    await pass.store.insertRequest({ ...request(done), status: RequestStatus.Completed });
    expect(await pass.store.takeResponseReleaseAndMove(done, 16, move("2026-01-01T00:00:05.000Z", 1), RequestStatus.Executing)).toBe(false);
    const r = (await pass.store.requestByUuid(done))!;
    expect([r.status, r.responses_released, r.updated_at, r.new_key_version]).toEqual([RequestStatus.Completed, 0, T0, null]);
  });

  it("leaves a request in another state alone", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a2";
    await pass.store.insertRequest({ ...request(uuid), status: RequestStatus.Completed });
    expect(await pass.store.takeResponseReleaseAndMove(uuid, 16, move("2026-01-01T00:00:01.000Z", 1))).toBe(false);
    const r = (await pass.store.requestByUuid(uuid))!;
    expect([r.status, r.responses_released, r.updated_at, r.new_key_version]).toEqual([RequestStatus.Completed, 0, T0, null]);
  });

  it("as a required change: kept with the rest of its transaction, or failing all of it with RequiredChangeMissing", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a5";
    await pass.store.insertRequest(request(uuid));
    const action = "test.required-release";
    const release = (bound: number, at: string, keyVersion: number | null, current: number) =>
      pass.store.tx(async (tx) => {
        await tx.nextCounter("required_release");
        await tx.takeResponseReleaseRequired(uuid, bound, move(at, keyVersion), current);
        await recordAudit(tx, auditEvent(action));
      });
    const kept = async () => {
      await linkPendingAudit(pass.store);
      const audited = (await pass.store.listAudit({ action, page: { top: 100, skip: 0 } })).length;
      return { counter: await pass.store.counterValue("required_release"), audited };
    };
    await release(3, "2026-01-01T00:00:01.000Z", null, RequestStatus.Approved);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 1, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    // Executing already: the status is not written.
    await release(3, "2026-01-01T00:00:02.000Z", 7, RequestStatus.Executing);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 2, updated: "2026-01-01T00:00:02.000Z", keyVersion: 7 });
    expect(await kept()).toEqual({ counter: 2, audited: 2 });
    // The bound reached: nothing of the transaction is kept, neither before the release nor after it.
    await expect(release(2, "2026-01-01T00:00:03.000Z", 8, RequestStatus.Executing)).rejects.toBeInstanceOf(RequiredChangeMissing);
    expect(await row(uuid)).toEqual({ status: RequestStatus.Executing, released: 2, updated: "2026-01-01T00:00:02.000Z", keyVersion: 7 });
    expect(await kept()).toEqual({ counter: 2, audited: 2 });
    // Told Executing after it was completed: the same.
    const done = "00000000-0000-4000-8000-0000000000a6";
    await pass.store.insertRequest({ ...request(done), status: RequestStatus.Completed });
    await expect(
      pass.store.tx((tx) => tx.takeResponseReleaseRequired(done, 16, move("2026-01-01T00:00:05.000Z", 1), RequestStatus.Executing)),
    ).rejects.toBeInstanceOf(RequiredChangeMissing);
    const r = (await pass.store.requestByUuid(done))!;
    expect([r.status, r.responses_released, r.updated_at, r.new_key_version]).toEqual([RequestStatus.Completed, 0, T0, null]);
    // The store carries on.
    await release(4, "2026-01-01T00:00:06.000Z", null, RequestStatus.Executing);
    expect(await kept()).toEqual({ counter: 3, audited: 3 });
  });
});
