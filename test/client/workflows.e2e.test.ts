// Issue 4 from the client's side: every credential workflow driven with the built CLI
// (`node dist/cli/main.js`) against `openclm serve --demo`, as users, approver and helpdesk run it.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { runCli, type CliResult } from "./support/cli.js";
import { tempDir } from "./support/tmp.js";

const LOGON_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718";
const VPN = "Virtual Smartcard VPN";
const PIN = "first-PIN-42";

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ demo: true });
});
afterAll(async () => {
  await server?.stop();
});

/** The CLI as `user` (password = user name, from the environment as a script would pass it). */
function as(user: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli([...args, "--server", server.url, "--user", user, "--password-env", "P"], { P: user, ...env });
}

function ok(r: CliResult, code = 0): CliResult {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(code);
  return r;
}

const json = (r: CliResult) => JSON.parse(r.stdout);
const card = (cardDir: string, args: string[], env: Record<string, string> = {}) => runCli(["card", ...args, "--card-dir", cardDir], env);
const alice = { user: "alice", password: "alice" };
const bare = (serial: string) => serial.toUpperCase().replace(/^0+/, "");

/** alice enrolls a VPN virtual smart card; returns the enroll command's JSON answer. */
async function enrollVpn(cardDir: string) {
  const r = ok(await as("alice", ["enroll", "--template", VPN, "--data", "Request Reason=workflows", "--pin-env", "PIN", "--card-dir", cardDir, "--yes", "--json"], { PIN }));
  return json(r) as { cardId: string; smartcardUuid: string; requestId: string; certificates: { serialNumber: string }[] };
}

/** Three wrong PINs block a VPN card (the template's MaxAttempts). */
async function block(cardDir: string, cardId: string) {
  for (let i = 0; i < 3; i++) await card(cardDir, ["verify-pin", cardId, "--pin-env", "PIN"], { PIN: `wrong-${i}-pin` });
  const r = ok(await card(cardDir, ["verify-pin", cardId, "--pin-env", "PIN", "--json"], { PIN }), 7);
  expect(json(r).error.message).toMatch(/blocked/);
}

describe("openclm workflows against the demo server", () => {
  it("approval: alice waits (exit 6), bob lists and approves, alice resumes and the card holds the certificate", async () => {
    const cardDir = tempDir();
    const cardId = json(ok(await card(cardDir, ["create", "--admin-key", LOGON_KEY, "--json"]))).cardId as string;
    const enroll = ["enroll", "--template", "Smart Card Logon", "--card", cardId, "--pin-env", "PIN", "--card-dir", cardDir, "--yes", "--json"];
    const pending = json(ok(await as("alice", [...enroll, "--data", "Employee ID=1234"], { PIN }), 6));
    expect(pending).toMatchObject({ status: "Pending", exitCode: 6 });
    expect(pending.message).toContain(`--resume ${pending.requestId} --card ${cardId}`);
    const id = pending.requestId as string;

    const queue = json(ok(await as("bob", ["requests", "list", "--pending", "--json"])));
    expect(queue.find((r: { id: string }) => r.id === id)).toMatchObject({ type: "Enroll", status: "Pending", approvalsNeeded: 1, approvals: 0 });
    const table = ok(await as("bob", ["requests", "list", "--pending"]));
    expect(table.stdout).toMatch(new RegExp(`^ID\\s+TYPE\\s+STATUS\\s+TARGET\\s+TEMPLATE\\s+SUBMITTED`, "m"));
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+Enroll\\s+Pending`));
    expect(ok(await as("bob", ["requests", "show", id])).stdout).toMatch(/Status\s+Pending \(0 of 1 approvals\)[\s\S]*Data\s+Employee ID = 1234/);
    // alice may not approve her own request; bob may
    ok(await as("alice", ["requests", "approve", id]), 4);
    expect(ok(await as("bob", ["requests", "approve", id, "--comment", "ok"])).stdout).toMatch(/approved: now Approved/);

    const done = json(ok(await as("alice", [...enroll.filter((a) => a !== "--card" && a !== cardId), "--card", cardId, "--resume", id], { PIN })));
    expect(done).toMatchObject({ ok: true, status: "Completed", requestId: id, cardId, cardCreated: false });
    expect((await call(server, "GET", `/requests/${id}`, alice)).body.Status).toBe(8);
    const shown = json(ok(await card(cardDir, ["show", cardId, "--json"])));
    expect(shown.keys.map((k: { state: string }) => k.state)).toEqual(["certified"]);
    expect(bare(shown.keys[0].certificate.serialNumber)).toBe(bare(done.certificates[0].serialNumber));
  }, 180_000);

  it("offline unblock: challenge on the card, one response for the helpdesk, new PIN on the card", async () => {
    const cardDir = tempDir();
    const e = await enrollVpn(cardDir);
    await block(cardDir, e.cardId);

    const req = json(ok(await as("alice", ["helpdesk", "offline-unblock", "--for-card", e.smartcardUuid, "--json"])));
    expect(req).toMatchObject({ ok: true, status: "Approved", cardId: e.cardId, smartcardUuid: e.smartcardUuid });
    const first = json(ok(await card(cardDir, ["unblock", e.cardId, "--challenge", "--json"])));
    expect(first.challenge).toMatch(/^[0-9A-F]{16}$/);
    // asked again, the card shows the same outstanding challenge (the helpdesk gets one response)
    const again = ok(await card(cardDir, ["unblock", e.cardId, "--challenge"]));
    expect(again.stdout.trim()).toBe(first.challenge);
    expect(ok(await card(cardDir, ["show", e.cardId])).stdout).toContain(`offline challenge ${first.challenge}`);

    const spaced = first.challenge.replace(/(....)(?=.)/g, "$1 ");
    const answer = ok(await as("carol", ["helpdesk", "unblock-response", req.requestId, "--challenge", spaced]));
    const response = answer.stdout.trim();
    expect(response).toMatch(/^[0-9A-F]{16}$/);
    ok(await as("carol", ["helpdesk", "unblock-response", req.requestId, "--challenge", first.challenge]), 4);
    ok(await as("bob", ["helpdesk", "unblock-response", req.requestId, "--challenge", first.challenge]), 4);

    ok(await card(cardDir, ["unblock", e.cardId, "--response", response, "--pin-env", "PIN"], { PIN: "after-offline-1" }));
    ok(await card(cardDir, ["verify-pin", e.cardId, "--pin-env", "PIN"], { PIN: "after-offline-1" }));
    // the response was one-shot
    ok(await card(cardDir, ["unblock", e.cardId, "--response", response, "--pin-env", "PIN"], { PIN: "after-offline-2" }), 7);
    expect(ok(await as("alice", ["requests", "complete", req.requestId])).stdout).toMatch(/now Completed/);
  }, 180_000);

  it("online unblock: a blocked card takes a new PIN checked against the template's policy", async () => {
    const cardDir = tempDir();
    const e = await enrollVpn(cardDir);
    await block(cardDir, e.cardId);
    const before = (await call(server, "GET", "/requests", alice)).body.length;
    const short = ok(await as("alice", ["unblock", "--card", e.cardId, "--pin-env", "PIN", "--card-dir", cardDir, "--yes", "--json"], { PIN: "12345" }), 2);
    expect(json(short).error.message).toMatch(/at least 6/);
    expect((await call(server, "GET", "/requests", alice)).body.length).toBe(before);

    const out = json(ok(await as("alice", ["unblock", "--card", e.cardId, "--pin-env", "PIN", "--card-dir", cardDir, "--yes", "--json"], { PIN: "after-online-1" })));
    expect(out).toMatchObject({ ok: true, status: "Completed", cardId: e.cardId, smartcardUuid: e.smartcardUuid, pin: { blocked: false, retriesLeft: 3 } });
    expect((await call(server, "GET", `/requests/${out.requestId}`, alice)).body).toMatchObject({ RequestType: 5, Status: 8 });
    ok(await card(cardDir, ["verify-pin", e.cardId, "--pin-env", "PIN"], { PIN: "after-online-1" }));
  }, 180_000);

  it("software profile: PFX written 0600, opened by openssl, recovered with the same key", async () => {
    const dir = tempDir();
    const a = join(dir, "a.pfx");
    const enroll = ["profile", "enroll", "--template", "Software User", "--out", a, "--pfx-password-env", "PFX", "--yes", "--json"];
    const empty = ok(await as("alice", enroll, { PFX: "" }), 2);
    expect(json(empty).error.message).toMatch(/must not be empty/);
    expect(existsSync(a)).toBe(false);

    const issued = json(ok(await as("alice", enroll, { PFX: "s3cret-pfx" })));
    expect(issued).toMatchObject({ ok: true, status: "Completed", files: [a] });
    expect(issued.certificates[0]).toMatchObject({ subject: expect.stringMatching(/CN=Alice Example/), serialNumber: expect.stringMatching(/^[0-9A-F]+$/) });
    expect(statSync(a).mode & 0o777).toBe(0o600);
    expect(execFileSync("openssl", ["pkcs12", "-in", a, "-passin", "pass:s3cret-pfx", "-nodes"]).toString()).toMatch(/BEGIN PRIVATE KEY/);
    expect(ok(await as("alice", enroll, { PFX: "s3cret-pfx" }), 2).stdout).toMatch(/file exists/);

    const list = json(ok(await as("alice", ["profile", "list", "--json"])));
    expect(list.find((p: { id: string }) => p.id === issued.profileUuid)).toMatchObject({ status: "Active", template: { name: "Software User" } });

    const b = join(dir, "b.pfx");
    const recovered = json(ok(await as("alice", ["profile", "recover", issued.profileUuid, "--out", b, "--pfx-password-env", "PFX", "--yes", "--json"], { PFX: "another-pass" })));
    expect(recovered).toMatchObject({ ok: true, profileUuid: issued.profileUuid, files: [b] });
    expect(publicKeyOf(b, "another-pass")).toBe(publicKeyOf(a, "s3cret-pfx"));
    expect((await call(server, "GET", `/requests/${recovered.requestId}`, alice)).body).toMatchObject({ RequestType: 2, Status: 8 });
  }, 180_000);

  it("renew: new certificate on the same card, the old one superseded on the server and removed from the card; then revoke", async () => {
    const cardDir = tempDir();
    const e = await enrollVpn(cardDir);
    const oldSerial = e.certificates[0]!.serialNumber;
    const out = json(ok(await as("alice", ["renew", "--card", e.cardId, "--pin-env", "PIN", "--card-dir", cardDir, "--yes", "--json"], { PIN })));
    expect(out).toMatchObject({ ok: true, status: "Completed", cardId: e.cardId, smartcardUuid: e.smartcardUuid, removedSuperseded: [oldSerial] });
    const newSerial = out.certificates[0].serialNumber as string;
    expect(bare(newSerial)).not.toBe(bare(oldSerial));

    const certs = (await call(server, "GET", "/certificates", alice)).body as { SerialNumber: string; Status: number }[];
    expect(certs.find((c) => bare(c.SerialNumber) === bare(oldSerial))?.Status).toBe(4);
    expect(certs.find((c) => bare(c.SerialNumber) === bare(newSerial))?.Status).toBe(0);
    expect((await call(server, "GET", `/requests/${out.requestId}`, alice)).body).toMatchObject({ RequestType: 3, Status: 8, NewSmartcardUuid: e.smartcardUuid });
    const shown = json(ok(await card(cardDir, ["show", e.cardId, "--json"])));
    expect(shown.keys).toHaveLength(1);
    expect(bare(shown.keys[0].certificate.serialNumber)).toBe(bare(newSerial));
    expect(shown.unfinishedEnrollment).toBeNull();
    ok(await card(cardDir, ["verify-pin", e.cardId, "--pin-env", "PIN"], { PIN }));

    const revoked = json(ok(await as("alice", ["card", "revoke", e.smartcardUuid, "--reason", "keyCompromise", "--json"])));
    expect(revoked).toMatchObject({ ok: true, status: "Completed", cardStatus: "Disabled", reason: "keyCompromise" });
    ok(await as("alice", ["card", "retire", e.smartcardUuid, "--reason", "keyCompromise"]), 2);
  }, 180_000);
});

function publicKeyOf(pfx: string, password: string): string {
  const pem = execFileSync("openssl", ["pkcs12", "-in", pfx, "-passin", `pass:${password}`, "-nodes", "-nocerts"]).toString();
  return execFileSync("openssl", ["pkey", "-pubout"], { input: pem }).toString();
}

