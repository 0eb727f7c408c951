// Runs on the engine of the pass (test/run-engines.mjs): SQLite, then PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import type { RequestRow, Store } from "../../src/store/store.js";
import { RequestStatus } from "../../src/domain/enums.js";
import { ENGINE, ensureTestDatabase, testDatabaseName } from "../helpers/server.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-release-"));
let store: Store;
beforeAll(async () => {
  const url = ENGINE === "postgres" ? await ensureTestDatabase(testDatabaseName(dir)) : "sqlite:release.sqlite";
  store = await openStore({ url, dataDir: dir });
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = "2026-01-01T00:00:00.000Z";
const request = (uuid: string): RequestRow => ({
  uuid,
  type: 1,
  workflow: "Enroll",
  status: RequestStatus.Approved,
  flags: 0,
  data_collection: "[]",
  originator_uuid: "00000000-0000-4000-8000-000000000001",
  target_uuid: "00000000-0000-4000-8000-000000000001",
  submitted_at: T0,
  completed_at: null,
  new_profile_uuid: null,
  old_profile_uuid: null,
  new_smartcard_uuid: null,
  old_smartcard_uuid: null,
  priority: 0,
  comment: "",
  template_uuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
  template_version: 1,
  approvals_needed: 0,
  responses_released: 0,
  new_key_version: null,
  csr_fingerprints: null,
  revocation_reason: null,
  updated_at: T0,
});
const move = (at: string, keyVersion: number | null) => ({
  from: [RequestStatus.Approved, RequestStatus.Executing] as [number, number],
  to: RequestStatus.Executing,
  at,
  keyVersion,
});

describe("counting a response release and moving the request in one statement", () => {
  it("moves an Approved request to Executing, stamps it only when it changed or a key version is recorded, and stops at the bound", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a1";
    await store.insertRequest(request(uuid));
    const row = async () => {
      const r = (await store.requestByUuid(uuid))!;
      return { status: r.status, released: r.responses_released, updated: r.updated_at, keyVersion: r.new_key_version };
    };
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:01.000Z", null))).toBe(true);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 1, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    // Executing already and no key: counted, but the request itself did not change.
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:02.000Z", null))).toBe(true);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 2, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:03.000Z", 7))).toBe(true);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:04.000Z", 8))).toBe(false);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
  });

  it("answers the same when told the request is Executing already (status then not written), and falls back when that is stale", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a3";
    await store.insertRequest(request(uuid));
    const row = async () => {
      const r = (await store.requestByUuid(uuid))!;
      return { status: r.status, released: r.responses_released, updated: r.updated_at, keyVersion: r.new_key_version };
    };
    // Told Executing while it is still Approved: the release still counts and moves it.
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:01.000Z", null), RequestStatus.Executing)).toBe(true);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 1, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:02.000Z", null), RequestStatus.Executing)).toBe(true);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 2, updated: "2026-01-01T00:00:01.000Z", keyVersion: null });
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:03.000Z", 7), RequestStatus.Executing)).toBe(true);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
    expect(await store.takeResponseReleaseAndMove(uuid, 3, move("2026-01-01T00:00:04.000Z", 8), RequestStatus.Executing)).toBe(false);
    expect(await row()).toEqual({ status: RequestStatus.Executing, released: 3, updated: "2026-01-01T00:00:03.000Z", keyVersion: 7 });
    // Told Executing after it was completed: refused, untouched.
    const done = "00000000-0000-4000-8000-0000000000a4";
    await store.insertRequest({ ...request(done), status: RequestStatus.Completed });
    expect(await store.takeResponseReleaseAndMove(done, 16, move("2026-01-01T00:00:05.000Z", 1), RequestStatus.Executing)).toBe(false);
    const r = (await store.requestByUuid(done))!;
    expect([r.status, r.responses_released, r.updated_at, r.new_key_version]).toEqual([RequestStatus.Completed, 0, T0, null]);
  });

  it("leaves a request in another state alone", async () => {
    const uuid = "00000000-0000-4000-8000-0000000000a2";
    await store.insertRequest({ ...request(uuid), status: RequestStatus.Completed });
    expect(await store.takeResponseReleaseAndMove(uuid, 16, move("2026-01-01T00:00:01.000Z", 1))).toBe(false);
    const r = (await store.requestByUuid(uuid))!;
    expect([r.status, r.responses_released, r.updated_at, r.new_key_version]).toEqual([RequestStatus.Completed, 0, T0, null]);
  });
});
