// Acceptance (issue 5): a full run — self-service and agent enrollment, offline unblock,
// approval, software profile and recovery, a server-distributed PIN, failed logins, user
// administration over the API and the CLI — is on the audit trail with actor, target, time,
// correlation id and outcome; no audit row, log line or database byte holds any of the secrets
// used; and `openclm admin audit verify` finds every edited, deleted or inserted record,
// including the newest ones.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, ENGINE, startServer, type ApiResponse, type TestServer } from "../helpers/server.js";
import { TestCard } from "../helpers/card.js";
import { tempDir } from "../helpers/pki.js";
import { auditHash } from "../../src/domain/audit.js";
import { verifyAuditTrail } from "../../src/domain/services/audit-verify.js";
import { openStore } from "../../src/store/open.js";
import { admin, basic, databaseArgs, configYaml, LOGON, personas, PIN_CARD, rawSql, secret, SOFTWARE, VPN, VPN_KEY, writeConfig, type Persona } from "./support.js";

const P = personas();
let server: TestServer;
let config: string;
/** Every secret value the run used, by what it is. */
const secrets: { what: string; value: Buffer | string }[] = [];
const keep = (what: string, value: Buffer | string) => secrets.push({ what, value });

const as = (who: Persona) => ({ user: who.user, password: who.password });
const idOf = (r: ApiResponse) => (r.body as string).split("/").pop()!;
async function ok(r: Promise<ApiResponse>, status = 200): Promise<ApiResponse> {
  const res = await r;
  expect(res.status, res.text).toBe(status);
  return res;
}
const post = (who: Persona, path: string, body: unknown) => call(server, "POST", path, { ...as(who), body });
const put = (who: Persona, path: string, body: unknown) => call(server, "PUT", path, { ...as(who), body });
const get = (who: Persona, path: string) => call(server, "GET", path, as(who));
const newRequest = async (who: Persona, body: Record<string, unknown>) => idOf(await ok(post(who, "/requests", { datacollection: [], comment: "", ...body }), 201));

/** A card enrollment driven by `who` (the target, or an agent), keeping every key and response it sees. */
async function enrollCard(who: Persona, template: string, target?: string) {
  const id = await newRequest(who, { type: "Enroll", profiletemplateuuid: template, ...(target ? { target } : {}) });
  const card = new TestCard(VPN_KEY);
  const scid = idOf(await ok(post(who, "/smartcards", { requestid: id, cardid: card.cardId }), 201));
  const key = Buffer.from((await ok(get(who, `/requests/${id}/smartcards/${scid}/diversifiedkey?cardid=${card.cardId}`))).body, "base64");
  keep("diversified admin key", key);
  const ch = card.getChallenge();
  const resp = Buffer.from((await ok(get(who, `/requests/${id}/smartcards/${scid}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch.toString("base64"))}`))).body, "base64");
  keep("challenge response", resp);
  expect(card.authenticate(resp)).toBe(true);
  card.setAdminKey(key);
  return { id, scid, card, key };
}

async function finish(who: Persona, e: { id: string; card: TestCard }) {
  const csr = await e.card.csr();
  await ok(post(who, `/requests/${e.id}/certificatedata`, { certificaterequests: [csr.der.toString("base64")] }));
  await ok(put(who, `/requests/${e.id}`, { status: "Completed" }));
}

beforeAll(async () => {
  for (const p of Object.values(P)) keep(`password of ${p.user}`, p.password);
  config = writeConfig(configYaml(Object.values(P)));
  server = await startServer({ demo: false, args: ["--config", config] });
  keep("key-encryption key", readFileSync(join(server.dataDir, "kek.key")));
});
afterAll(async () => {
  await server?.stop();
});

async function verifyHere() {
  const url = ENGINE === "postgres" ? databaseArgs(server.dataDir)[1]! : "sqlite:openclm.db";
  const store = await openStore({ url, dataDir: server.dataDir });
  try {
    return await verifyAuditTrail(store);
  } finally {
    await store.close();
  }
}

describe("audit trail", () => {
  it("records every state change, release, approval, login failure and admin action of a full run", async () => {
    const self = await enrollCard(P.alice, VPN);
    await finish(P.alice, self);
    const agent = await enrollCard(P.carol, VPN, "alice");
    await finish(P.carol, agent);

    const offline = await newRequest(P.alice, { type: "OfflineUnblock", smartcard: self.scid });
    const ch = Buffer.from("0011223344556677", "hex");
    const offlineResponse = await ok(get(P.erin, `/requests/${offline}/smartcards/${self.scid}/authenticationresponse?cardid=${self.card.cardId}&challenge=${encodeURIComponent(ch.toString("base64"))}&diversified=true`));
    keep("offline unblock response", Buffer.from(offlineResponse.body, "base64"));
    await ok(put(P.alice, `/requests/${offline}`, { status: "Completed" }));

    const approve = await newRequest(P.alice, { type: "Enroll", profiletemplateuuid: LOGON });
    await ok(post(P.bob, `/requests/${approve}/approvals`, { decision: "Approve", comment: "fine" }));
    const deny = await newRequest(P.grace, { type: "Enroll", profiletemplateuuid: LOGON });
    await ok(post(P.bob, `/requests/${deny}/approvals`, { decision: "Deny", comment: "no" }));
    await ok(put(P.alice, `/requests/${approve}`, { status: "Canceled" }));

    const pfxPassword = secret("pfx");
    keep("PFX password", pfxPassword);
    const sw = await newRequest(P.alice, { type: "Enroll", profiletemplateuuid: SOFTWARE });
    const pfx = Buffer.from((await ok(post(P.alice, `/requests/${sw}/certificatedata`, { certificaterequests: [], pfxpassword: pfxPassword }))).body[0].Pfx, "base64");
    await ok(put(P.alice, `/requests/${sw}`, { status: "Completed" }));
    const dir = tempDir();
    const pfxFile = join(dir, "a.pfx");
    execFileSync("sh", ["-c", `cat > ${pfxFile}`], { input: pfx });
    const keyPem = execFileSync("openssl", ["pkcs12", "-in", pfxFile, "-nocerts", "-nodes", "-passin", `pass:${pfxPassword}`]).toString();
    const keyDer = execFileSync("openssl", ["pkey", "-outform", "DER"], { input: keyPem });
    keep("server-generated private key", keyDer);
    const profile = (await ok(get(P.alice, `/requests/${sw}/profiles`))).body[0].Uuid;
    const recoverPassword = secret("recover");
    keep("recovery PFX password", recoverPassword);
    const recover = await newRequest(P.alice, { type: "Recover", profile });
    await ok(post(P.alice, `/requests/${recover}/certificatedata`, { certificaterequests: [], pfxpassword: recoverPassword }));

    const pinCard = await newRequest(P.alice, { type: "Enroll", profiletemplateuuid: PIN_CARD });
    const pinScid = idOf(await ok(post(P.alice, "/smartcards", { requestid: pinCard, cardid: new TestCard(VPN_KEY).cardId }), 201));
    const pin = (await ok(get(P.alice, `/smartcards/${pinScid}/serverproposedpin`))).body as string;
    expect(pin).toMatch(/^[A-Za-z0-9]{16,32}$/);
    keep("server-distributed PIN", pin);

    for (const [user, what] of [["alice", "wrong password"], ["nobody", "password of an unknown user"]] as const) {
      const wrong = secret("wrong");
      keep(what, wrong);
      expect((await call(server, "GET", "/requests", { headers: basic(user, wrong) })).status).toBe(401);
    }

    const henry = [secret("henry1"), secret("henry2")];
    henry.forEach((p) => keep("password set over the API", p));
    await ok(post(P.dave, "/admin/users", { name: "henry", password: henry[0], email: "henry@example.test", groups: ["cm-users"] }), 201);
    await ok(put(P.dave, "/admin/users/henry", { password: henry[1], addgroups: ["cm-agents"] }));
    expect((await call(server, "GET", "/requests", { headers: basic("henry", henry[0]!) })).status).toBe(401);
    expect((await call(server, "GET", "/requests", { headers: basic("henry", henry[1]!) })).status).toBe(200);
    const ivan = [secret("ivan1"), secret("ivan2")];
    ivan.forEach((p) => keep("password set with the CLI", p));
    expect(admin(server, config, ["user", "add", "ivan", "--password-env", "IVAN_PW", "--group", "cm-users"], { env: { IVAN_PW: ivan[0]! } }).status).toBe(0);
    const passwd = admin(server, config, ["user", "passwd", "ivan", "--password-stdin"], { input: `${ivan[1]}\n` });
    expect(passwd.status, passwd.stderr).toBe(0);
    expect((await call(server, "GET", "/requests", { headers: basic("ivan", ivan[1]!) })).status).toBe(200);
    expect(admin(server, config, ["user", "disable", "ivan"]).status).toBe(0);
    expect((await call(server, "GET", "/requests", { headers: basic("ivan", ivan[1]!) })).status).toBe(401);

    const trail = (await ok(get(P.frank, "/audit?top=1000"))).body as any[];
    const seen = new Set(trail.map((e) => `${e.Action}:${e.Outcome}`));
    for (const a of [
      "request.create:success",
      "smartcard.bind:success",
      "smartcard.diversifiedkey:success",
      "smartcard.authenticationresponse:success",
      "certificate.issue:success",
      "request.complete:success",
      "request.approve:success",
      "request.deny:success",
      "request.cancel:success",
      "key.recover:success",
      "smartcard.serverproposedpin:success",
      "auth.failure:failure",
      "user.create:success",
      "user.update:success",
      "user.disable:success",
    ])
      expect(seen, a).toContain(a);
    for (const e of trail) {
      expect(e.ActorName, JSON.stringify(e)).toBeTruthy();
      expect(Date.parse(e.At)).not.toBeNaN();
      expect(e.CorrelationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(["success", "failure", "denied"]).toContain(e.Outcome);
      expect(e.TargetType).toBeTruthy();
    }
    // A record carries the correlation id of the HTTP answer to the action.
    const answer = await ok(post(P.alice, "/requests", { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "" }), 201);
    const recorded = (await ok(get(P.frank, `/audit?request=${idOf(answer)}`))).body as any[];
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ Action: "request.create", ActorName: "alice", CorrelationId: answer.headers.get("x-correlation-id"), Outcome: "success" });
    // The CLI's changes name the operating system account that made them.
    expect(trail.find((e) => e.Action === "user.disable").ActorName).toMatch(/^cli:/);
    expect(trail.find((e) => e.Action === "user.create" && e.Details.name === "henry").ActorName).toBe("dave");
    // Filters and paging.
    const byActor = (await ok(get(P.frank, "/audit?actor=carol&action=smartcard.*"))).body as any[];
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((e) => e.ActorName === "carol" && e.Action.startsWith("smartcard."))).toBe(true);
    const window = (await ok(get(P.frank, `/audit?from=${encodeURIComponent(trail[2].At)}&to=${encodeURIComponent(trail[5].At)}`))).body as any[];
    expect(window.every((e) => e.At >= trail[2].At && e.At < trail[5].At)).toBe(true);
    const page = (await ok(get(P.frank, "/audit?top=3&skip=2"))).body as any[];
    expect(page.map((e) => e.Seq)).toEqual(trail.slice(2, 5).map((e) => e.Seq));
    const newest = (await ok(get(P.frank, "/audit?top=1&order=desc"))).body as any[];
    expect(newest[0].Seq).toBeGreaterThanOrEqual(trail[trail.length - 1].Seq);
    expect((await get(P.frank, "/audit?from=yesterday")).status).toBe(400);
    const target = (await ok(get(P.frank, "/audit?target=henry"))).body as any[];
    expect(target.map((e) => `${e.Action}:${e.Outcome}`)).toEqual(["user.create:success", "user.update:success", "auth.failure:failure"]);
  });

  it("keeps every secret of that run out of the audit trail, the server's logs and its database", async () => {
    await server.stop();
    const forms = (v: Buffer | string): string[] =>
      typeof v === "string" ? [v] : [v.toString("hex"), v.toString("hex").toUpperCase(), v.toString("base64"), v.toString("base64url")];
    const audit = JSON.stringify(await rawSql(server.dataDir, "select * from audit_events"));
    const logs = readdirSync(server.dataDir).filter((f) => /^server-.*\.log$/.test(f));
    expect(logs.length).toBeGreaterThan(0);
    const logText = logs.map((f) => readFileSync(join(server.dataDir, f), "utf8")).join("\n");
    expect(logText).toMatch(/"correlationId"/);
    let database: Buffer;
    if (ENGINE === "postgres") {
      // Every table the migrations made, so a table added later is scanned too.
      const tables = (await rawSql(server.dataDir, "select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'")).map(
        (r) => String(r.table_name),
      );
      expect(tables).toEqual(expect.arrayContaining(["users", "audit_events", "audit_pending", "login_failures", "portal_sessions", "pins"]));
      const rows = await Promise.all(tables.map((t) => rawSql(server.dataDir, `select t::text as row from "${t}" t`)));
      database = Buffer.from(JSON.stringify(rows));
    } else {
      database = Buffer.concat(readdirSync(server.dataDir).filter((f) => f.startsWith("openclm.db")).map((f) => readFileSync(join(server.dataDir, f))));
    }
    expect(secrets.length).toBeGreaterThan(20);
    for (const { what, value } of secrets) {
      for (const form of forms(value)) {
        expect(audit.includes(form), `${what} in the audit trail`).toBe(false);
        expect(logText.includes(form), `${what} in a server log`).toBe(false);
        expect(database.includes(Buffer.from(form)), `${what} in the database`).toBe(false);
      }
      if (Buffer.isBuffer(value) && ENGINE !== "postgres") expect(database.includes(value), `${what} (raw) in the database`).toBe(false);
    }
    expect(logText).not.toMatch(/PRIVATE KEY/);
  });

  it("detects an edited, deleted or inserted record with `admin audit verify`, the newest ones included", async () => {
    const verify = (...args: string[]) => admin(server, config, ["audit", "verify", ...args]);
    const intact = verify();
    expect(intact.status, intact.stderr).toBe(0);
    const head = /head (\d+):([0-9a-f]{64})/.exec(intact.stdout)!;
    expect(verify("--anchor", `${head[1]}:${head[2]}`).status).toBe(0);
    expect(verify("--anchor", `${head[1]}:${"0".repeat(64)}`).status).toBe(3);

    const rows = await rawSql(server.dataDir, "select * from audit_events order by seq");
    const n = rows.length;
    const middle = rows[Math.floor(n / 2)]!;
    const last = rows[n - 1]!;
    const columns = Object.keys(middle);
    const restore = (r: Record<string, unknown>) =>
      rawSql(server.dataDir, `insert into audit_events (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`, columns.map((c) => r[c]));
    // The command itself for some cases; the same check in-process for the rest (faster).
    const expectBroken = async (pattern: RegExp, viaCli = false) => {
      if (viaCli) {
        const r = verify();
        expect(r.status, r.stdout).toBe(3);
        return expect(r.stderr).toMatch(pattern);
      }
      const r = await verifyHere();
      expect(r.ok).toBe(false);
      expect(`BROKEN${r.brokenAt !== undefined ? ` at record ${r.brokenAt}` : ""}: ${r.problem}`).toMatch(pattern);
    };
    const expectIntact = async () => expect((await verifyHere()).ok).toBe(true);

    // Edited fields, one at a time.
    for (const [column, value] of <[string, string][]>[["actor_name", "mallory"], ["outcome", middle.outcome === "success" ? "failure" : "success"], ["details", '{"forged":true}'], ["at", "2000-01-01T00:00:00.000Z"]]) {
      await rawSql(server.dataDir, `update audit_events set ${column} = ? where seq = ?`, [value, middle.seq]);
      await expectBroken(new RegExp(`record ${middle.seq}\\b`), column === "actor_name");
      await rawSql(server.dataDir, `update audit_events set ${column} = ? where seq = ?`, [middle[column], middle.seq]);
      await expectIntact();
    }
    // Edited and re-hashed: the next record no longer links to it.
    const forged = { ...middle, actor_name: "mallory" } as any;
    await rawSql(server.dataDir, "update audit_events set actor_name = ?, hash = ? where seq = ?", ["mallory", auditHash(forged.prev_hash, forged), middle.seq]);
    await expectBroken(/BROKEN at record/);
    await rawSql(server.dataDir, "update audit_events set actor_name = ?, hash = ? where seq = ?", [middle.actor_name, middle.hash, middle.seq]);

    // A deleted record in the middle, then the newest one, then the newest three.
    await rawSql(server.dataDir, "delete from audit_events where seq = ?", [middle.seq]);
    await expectBroken(/BROKEN at record/);
    await restore(middle);
    await expectIntact();
    await rawSql(server.dataDir, "delete from audit_events where seq = ?", [last.seq]);
    await expectBroken(new RegExp(`up to ${last.seq} were deleted`), true);
    await restore(last);
    const lastThree = rows.slice(-3);
    await rawSql(server.dataDir, "delete from audit_events where seq >= ?", [lastThree[0]!.seq]);
    await expectBroken(/were deleted/);
    for (const r of lastThree) await restore(r);
    await expectIntact();

    // The newest record rewritten with a correct hash: it no longer matches the chain head.
    const rewritten = { ...last, outcome: "failure" } as any;
    await rawSql(server.dataDir, "update audit_events set outcome = ?, hash = ? where seq = ?", ["failure", auditHash(rewritten.prev_hash, rewritten), last.seq]);
    await expectBroken(new RegExp(`record ${last.seq} does not match the recorded chain head`));
    await rawSql(server.dataDir, "update audit_events set outcome = ?, hash = ? where seq = ?", [last.outcome, last.hash, last.seq]);

    // A well-chained record appended behind the server's back.
    const extra = { ...last, seq: Number(last.seq) + 1000, actor_name: "mallory", prev_hash: last.hash } as any;
    extra.hash = auditHash(extra.prev_hash, extra);
    await restore(extra);
    await expectBroken(/added outside the server/);
    await rawSql(server.dataDir, "delete from audit_events where seq = ?", [extra.seq]);

    // Everything deleted.
    await rawSql(server.dataDir, "delete from audit_events");
    await expectBroken(/the trail is empty/);
    for (const r of rows) await restore(r);
    expect(verify().status).toBe(0);
  });

  it("exports the trail as JSON lines that re-verify outside the server", async () => {
    const out = join(tempDir(), "audit.jsonl");
    const r = admin(server, config, ["audit", "export", "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const count = (await rawSql(server.dataDir, "select count(*) as n from audit_events"))[0]!.n;
    expect(lines).toHaveLength(Number(count));
    let prev = "0".repeat(64);
    for (const e of lines) {
      const row = {
        at: e.At,
        actor_uuid: e.ActorUuid,
        actor_name: e.ActorName,
        action: e.Action,
        target_type: e.TargetType,
        target_uuid: e.TargetUuid,
        request_uuid: e.RequestUuid,
        correlation_id: e.CorrelationId,
        outcome: e.Outcome,
        details: JSON.stringify(e.Details),
      };
      expect(e.PrevHash).toBe(prev);
      expect(auditHash(prev, row)).toBe(e.Hash);
      // The format, written out here rather than taken from the server: SHA-256 of the previous
      // hash, a newline and the JSON array of the fields in this order.
      const fields = [row.at, row.actor_uuid, row.actor_name, row.action, row.target_type, row.target_uuid, row.request_uuid, row.correlation_id, row.outcome, row.details];
      expect(createHash("sha256").update(`${prev}\n${JSON.stringify(fields)}`, "utf8").digest("hex")).toBe(e.Hash);
      prev = e.Hash;
    }
    const filtered = admin(server, config, ["audit", "export", "--actor", "bob"]);
    const bob = filtered.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(bob.map((e) => e.Action).sort()).toEqual(["request.approve", "request.deny"]);
  });
});
