// An approver's GET /requests: their own requests plus other people's pending requests of the
// templates and workflows their policies name them in — one query paged in the database, so the
// queue is complete however long it grows (it used to stop at 500 and be filtered in the process).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";

const LOGON = "5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d"; // approvalsNeeded 1, approvers group:cm-approvers
const VPN = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1"; // auto-approved
const alice = { user: "alice", password: "alice" };
const bob = { user: "bob", password: "bob" };
const carol = { user: "carol", password: "carol" };
const PENDING = 530;

let server: TestServer;
const ids = new Set<string>();

beforeAll(async () => {
  server = await startServer();
  const data: Record<string, Array<Record<string, string>>> = { [LOGON]: [{ "Employee ID": "123456" }], [VPN]: [{ "Request Reason": "queue test" }] };
  const create = (template: string) =>
    call(server, "POST", "/requests", { ...alice, body: { type: "Enroll", profiletemplateuuid: template, datacollection: data[template], comment: "" } });
  for (let i = 0; i < PENDING; i += 10) {
    const made = await Promise.all(Array.from({ length: Math.min(10, PENDING - i) }, () => create(LOGON)));
    for (const r of made) {
      expect(r.status, r.text).toBe(201);
      ids.add((r.body as string).split("/").pop()!);
    }
  }
  // Not pending (approved at once): in alice's list, not in bob's queue.
  expect((await create(VPN)).status).toBe(201);
}, 180_000);
afterAll(async () => {
  await server?.stop();
});

describe("an approver's request list", () => {
  it("pages through every pending request, newest first, past the old 500 limit", async () => {
    const seen: string[] = [];
    const submitted: string[] = [];
    for (let skip = 0; ; skip += 100) {
      const page = await call(server, "GET", `/requests?top=100&skip=${skip}`, bob);
      expect(page.status).toBe(200);
      const rows = page.body as Array<{ Uuid: string; SubmittedDate: string; Status: number }>;
      for (const r of rows) {
        expect(r.Status).toBe(16); // Pending
        seen.push(r.Uuid);
        submitted.push(r.SubmittedDate);
      }
      if (rows.length < 100) break;
    }
    expect(seen).toHaveLength(PENDING);
    expect(new Set(seen)).toEqual(ids);
    expect([...submitted].sort().reverse()).toEqual(submitted);
  });

  it("keeps status and target filters, and shows others nothing they may not see", async () => {
    expect(((await call(server, "GET", "/requests?status=Approved&top=1000", bob)).body as unknown[]).length, "bob, Approved").toBe(0);
    expect(((await call(server, "GET", "/requests?targetuser=alice&top=1000", bob)).body as unknown[]).length).toBe(PENDING);
    // carol is an enrollment agent of the template: she sees its queue too; a plain user sees none of it.
    expect(((await call(server, "GET", "/requests?top=1000", carol)).body as unknown[]).length, "carol").toBe(PENDING);
    const made = await call(server, "POST", "/admin/users", { user: "dave", password: "dave", body: { name: "erin", password: "erin-password-1", groups: ["cm-users"] } });
    expect(made.status, made.text).toBe(201);
    expect(((await call(server, "GET", "/requests?top=1000", { user: "erin", password: "erin-password-1" })).body as unknown[]).length, "erin").toBe(0);
    expect(((await call(server, "GET", "/requests?top=1000", alice)).body as unknown[]).length).toBe(PENDING + 1);
  });
});
