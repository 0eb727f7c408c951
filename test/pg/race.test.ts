// Acceptance (issue 6): two server processes on one PostgreSQL database, every racing call fired
// through both at once. Exactly one certificate per template, approvals once per approver, the
// release bound holds, each request ends in one valid state, and the database stays consistent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { call, type ApiResponse, type TestServer } from "../helpers/server.js";
import { des3, TestCard } from "../helpers/card.js";
import { readCrl, serialOf, leafOfPkcs7, tempDir } from "../helpers/pki.js";
import {
  auditLinked,
  consistencyViolations,
  DEFAULT_KEY,
  LOGON,
  LOGON_APPROVALS,
  PG_AVAILABLE,
  query,
  RESPONSE_BOUND,
  SKIP_REASON,
  startCluster,
  VPN,
  type Cluster,
} from "./support.js";

type Who = { user: string; password: string };
const who = (name: string): Who => ({ user: name, password: name });
const idOf = (r: ApiResponse) => (r.body as string).split("/").pop()!;

let cluster: Cluster;
let A: TestServer;
let B: TestServer;
/** Alternates between the two processes so every burst goes through both. */
const via = (i: number) => (i % 2 === 0 ? A : B);

async function createVpn(server: TestServer, u: Who): Promise<string> {
  const r = await call(server, "POST", "/requests", {
    ...u,
    body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "race" }], comment: "" },
  });
  expect(r.status, r.text).toBe(201);
  return idOf(r);
}

async function bind(server: TestServer, u: Who, requestId: string, card: TestCard): Promise<string> {
  const r = await call(server, "POST", "/smartcards", { ...u, body: { requestid: requestId, cardid: card.cardId } });
  expect(r.status, r.text).toBe(201);
  return idOf(r);
}

async function submit(server: TestServer, u: Who, requestId: string, csrDer: Buffer) {
  return call(server, "POST", `/requests/${requestId}/certificatedata`, { ...u, body: { certificaterequests: [csrDer.toString("base64")] } });
}

/** A VPN request with its card bound and its certificate issued (through alternating processes). */
async function issued(u: Who): Promise<{ requestId: string; scid: string; serial: string }> {
  const requestId = await createVpn(A, u);
  const card = new TestCard(DEFAULT_KEY);
  const scid = await bind(B, u, requestId, card);
  const r = await submit(A, u, requestId, (await card.csr()).der);
  expect(r.status, r.text).toBe(200);
  return { requestId, scid, serial: serialOf(leafOfPkcs7(Buffer.from(r.body[0].Pkcs7, "base64"))) };
}

async function statusOf(requestId: string): Promise<number> {
  return (await query(cluster.dbUrl, "select status from requests where uuid = $1", [requestId]))[0].status;
}

describe.skipIf(!PG_AVAILABLE)(`two server processes on one PostgreSQL database${SKIP_REASON}`, () => {
  beforeAll(async () => {
    cluster = await startCluster(2);
    [A, B] = cluster.servers as [TestServer, TestServer];
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("started together: one schema, one CA, one version per template, each user once, one master secret per template", async () => {
    const chainA = (await call(A, "GET", "/ca/certificates")).text;
    expect((await call(B, "GET", "/ca/certificates")).text).toBe(chainA);
    expect(await query(cluster.dbUrl, "select name from kysely_migration order by name")).toEqual([{ name: "0001_initial" }, { name: "0002_scale" }, { name: "0003_audit_pending" }, { name: "0004_sessions" }, { name: "0005_login_failures" }, { name: "0006_open_request_indexes" }, { name: "0007_certificate_indexes" }, { name: "0008_directory_notify" }, { name: "0009_require" }]);
    expect(await query(cluster.dbUrl, "select role from ca_keys order by role")).toEqual([{ role: "issuing" }, { role: "root" }]);
    const versions = await query(cluster.dbUrl, "select uuid, max(version)::int as v, count(*)::int as n from profile_templates group by uuid");
    expect(versions).toHaveLength(3);
    for (const v of versions) expect(v).toMatchObject({ v: 1, n: 1 });
    expect((await query(cluster.dbUrl, "select count(*)::int as n, count(distinct name)::int as d from users"))[0]).toEqual({ n: 49, d: 49 });
    const secrets = await query(cluster.dbUrl, "select template_uuid, count(*)::int as n from master_secrets group by template_uuid");
    expect(secrets).toHaveLength(2);
    for (const s of secrets) expect(s.n).toBe(1);
  });

  it("parallel certificatedata submits for one request issue exactly one certificate", async () => {
    const u = who("u1");
    const requestId = await createVpn(A, u);
    const card = new TestCard(DEFAULT_KEY);
    await bind(B, u, requestId, card);
    const same = (await card.csr()).der;
    const others = await Promise.all(Array.from({ length: 4 }, async () => (await new TestCard(DEFAULT_KEY).csr()).der));
    const csrs = [...Array.from({ length: 12 }, () => same), ...others];
    const answers = await Promise.all(csrs.map((der, i) => submit(via(i), u, requestId, der)));
    for (const a of answers) expect([200, 409], a.text).toContain(a.status);
    const won = answers.map((a, i) => ({ a, der: csrs[i]! })).filter((x) => x.a.status === 200);
    expect(won.length).toBeGreaterThan(0);
    // Every success is the same certificate, answered to the same CSR; every other CSR got 409.
    const winner = won[0]!.der;
    for (const x of won) expect(x.der.equals(winner)).toBe(true);
    expect(new Set(won.map((x) => serialOf(leafOfPkcs7(Buffer.from(x.a.body[0].Pkcs7, "base64"))))).size).toBe(1);
    answers.forEach((a, i) => {
      if (!csrs[i]!.equals(winner)) expect(a.body.ErrorCode, a.text).toBe("AlreadyIssued");
    });
    const rows = await query(cluster.dbUrl, "select serial from certificates where request_uuid = $1", [requestId]);
    expect(rows).toHaveLength(1);
    expect(rows[0].serial).toBe(serialOf(leafOfPkcs7(Buffer.from(won[0]!.a.body[0].Pkcs7, "base64"))));
    await auditLinked(cluster.dbUrl);
    expect(await query(cluster.dbUrl, "select count(*)::int as n from audit_events where request_uuid = $1 and action = 'certificate.issue'", [requestId])).toEqual([{ n: 1 }]);

    // Parallel completes: all answer Completed, the completion happens once.
    const done = await Promise.all(Array.from({ length: 10 }, (_, i) => call(via(i), "PUT", `/requests/${requestId}`, { ...u, body: { status: "Completed" } })));
    for (const d of done) expect(d.status, d.text).toBe(200);
    for (const d of done) expect(d.body.Status).toBe(8);
    await auditLinked(cluster.dbUrl);
    expect(await query(cluster.dbUrl, "select count(*)::int as n from audit_events where request_uuid = $1 and action = 'request.complete'", [requestId])).toEqual([{ n: 1 }]);
    expect(await query(cluster.dbUrl, "select status from smartcards where request_uuid = $1", [requestId])).toEqual([{ status: 3 }]);
  });

  it("parallel binds: one card per request, and one live card record per card id", async () => {
    const u = who("u2");
    const r1 = await createVpn(A, u);
    const card = new TestCard(DEFAULT_KEY);
    const same = await Promise.all(Array.from({ length: 8 }, (_, i) => call(via(i), "POST", "/smartcards", { ...u, body: { requestid: r1, cardid: card.cardId } })));
    for (const s of same) expect(s.status, s.text).toBe(201);
    expect(new Set(same.map(idOf)).size).toBe(1);

    // Two requests of two users binding one physical card at the same moment.
    const pairs = await Promise.all(
      Array.from({ length: 4 }, async (_, k) => {
        const [x, y] = [who(`u${10 + 2 * k}`), who(`u${11 + 2 * k}`)];
        const [rx, ry] = await Promise.all([createVpn(A, x), createVpn(B, y)]);
        const shared = new TestCard(DEFAULT_KEY);
        return Promise.all([
          call(A, "POST", "/smartcards", { ...x, body: { requestid: rx, cardid: shared.cardId } }),
          call(B, "POST", "/smartcards", { ...y, body: { requestid: ry, cardid: shared.cardId } }),
        ]);
      }),
    );
    for (const [p, q] of pairs) {
      expect([p.status, q.status].sort(), `${p.text} ${q.text}`).toEqual([201, 409]);
      expect((p.status === 409 ? p : q).body.ErrorCode).toBe("CardInUse");
    }
  });

  it("parallel key releases past the bound release exactly the bound", async () => {
    const u = who("u3");
    const requestId = await createVpn(B, u);
    const card = new TestCard(DEFAULT_KEY);
    const scid = await bind(A, u, requestId, card);
    const key = Buffer.from(DEFAULT_KEY, "hex");
    const challenges = Array.from({ length: 3 * RESPONSE_BOUND }, () => randomBytes(8));
    const answers = await Promise.all(
      challenges.map((ch, i) =>
        call(via(i), "GET", `/requests/${requestId}/smartcards/${scid}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch.toString("base64"))}&diversified=false`, u),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(RESPONSE_BOUND);
    answers.forEach((a, i) => {
      if (a.status === 200) expect(Buffer.from(a.body, "base64").equals(des3(key, challenges[i]!))).toBe(true);
      else {
        expect(a.status, a.text).toBe(403);
        expect(a.body.ErrorCode).toBe("ReleaseBoundReached");
      }
    });
    // The diversified key counts against the same bound.
    expect((await call(A, "GET", `/requests/${requestId}/smartcards/${scid}/diversifiedkey?cardid=${card.cardId}`, u)).status).toBe(403);
    expect(await query(cluster.dbUrl, "select responses_released from requests where uuid = $1", [requestId])).toEqual([{ responses_released: RESPONSE_BOUND }]);
    await auditLinked(cluster.dbUrl);
    const audited = await query(
      cluster.dbUrl,
      "select outcome, count(*)::int as n from audit_events where request_uuid = $1 and action like 'smartcard.%' and action <> 'smartcard.bind' group by outcome order by outcome",
      [requestId],
    );
    expect(audited).toEqual([
      { outcome: "denied", n: 2 * RESPONSE_BOUND + 1 },
      { outcome: "success", n: RESPONSE_BOUND },
    ]);
  });

  it("parallel approvals count once per approver and approve exactly at the threshold", async () => {
    const alice = who("alice");
    const create = await call(A, "POST", "/requests", {
      ...alice,
      body: { type: "Enroll", profiletemplateuuid: LOGON, datacollection: [{ "Employee ID": "123456" }], comment: "" },
    });
    expect(create.status, create.text).toBe(201);
    const requestId = idOf(create);
    const approvers = ["ap1", "ap2", "ap3", "ap4", "ap5"];
    // Every approver approves three times, through both processes, all at once.
    const calls = approvers.flatMap((name) => [0, 1, 2].map((k) => ({ name, server: via(k + name.charCodeAt(2)) })));
    const answers = await Promise.all(calls.map((c) => call(c.server, "POST", `/requests/${requestId}/approvals`, { ...who(c.name), body: { decision: "Approve" } })));
    const ok = calls.filter((_, i) => answers[i]!.status === 200).map((c) => c.name);
    expect(ok).toHaveLength(LOGON_APPROVALS);
    expect(new Set(ok).size).toBe(LOGON_APPROVALS);
    for (const a of answers) expect([200, 409], a.text).toContain(a.status);
    expect(await statusOf(requestId)).toBe(3);
    const rows = await query(cluster.dbUrl, "select approver_uuid from approvals where request_uuid = $1", [requestId]);
    expect(rows).toHaveLength(LOGON_APPROVALS);
    expect(new Set(rows.map((r) => r.approver_uuid)).size).toBe(LOGON_APPROVALS);
    const view = await call(B, "GET", `/requests/${requestId}`, alice);
    expect(view.body).toMatchObject({ Status: 3, ApprovalsNeeded: LOGON_APPROVALS, Approvals: LOGON_APPROVALS });
  });

  it("approvals racing a denial end either Approved or Denied, never both", async () => {
    const alice = who("alice");
    for (let round = 0; round < 4; round++) {
      const create = await call(B, "POST", "/requests", {
        ...alice,
        body: { type: "Enroll", profiletemplateuuid: LOGON, datacollection: [{ "Employee ID": "123456" }], comment: "" },
      });
      const requestId = idOf(create);
      const denier = `ap${(round % 5) + 1}`;
      const names = ["ap1", "ap2", "ap3", "ap4", "ap5"];
      const answers = await Promise.all(
        names.map((name, i) => call(via(i + round), "POST", `/requests/${requestId}/approvals`, { ...who(name), body: { decision: name === denier ? "Deny" : "Approve" } })),
      );
      const status = await statusOf(requestId);
      expect([3, 4]).toContain(status);
      const denied = answers[names.indexOf(denier)]!.status === 200;
      expect(status === 4).toBe(denied);
    }
  });

  it("a bind racing a cancel: the request ends Executing with its card, or Canceled with no card", async () => {
    const outcomes = await Promise.all(
      ["u4", "u5", "u6", "u7", "u8", "u9"].map(async (name, i) => {
        const u = who(name);
        const requestId = await createVpn(via(i), u);
        const card = new TestCard(DEFAULT_KEY);
        const [b, c] = await Promise.all([
          call(via(i), "POST", "/smartcards", { ...u, body: { requestid: requestId, cardid: card.cardId } }),
          call(via(i + 1), "PUT", `/requests/${requestId}`, { ...u, body: { status: "Canceled" } }),
        ]);
        expect([b.status, c.status].sort(), `${b.text} ${c.text}`).toEqual(b.status === 201 ? [201, 409] : [200, 409]);
        expect((b.status === 201 ? c : b).body.ErrorCode).toBe("InvalidRequestState");
        const [request] = await query(cluster.dbUrl, "select status, new_smartcard_uuid from requests where uuid = $1", [requestId]);
        const cards = await query(cluster.dbUrl, "select uuid from smartcards where request_uuid = $1", [requestId]);
        return { bound: b.status === 201, request, cards, scid: b.status === 201 ? idOf(b) : undefined };
      }),
    );
    for (const o of outcomes) {
      if (o.bound) {
        expect(o.request.status).toBe(18);
        expect(o.cards.map((c) => c.uuid)).toEqual([o.scid]);
        expect(o.request.new_smartcard_uuid).toBe(o.scid);
      } else {
        expect(o.request.status).toBe(17);
        expect(o.cards).toEqual([]);
        expect(o.request.new_smartcard_uuid).toBeNull();
      }
    }
  });

  it("Completed racing Abandoned: one wins, and the loser changes nothing", async () => {
    const runs = await Promise.all(["u20", "u21", "u22", "u23", "u24", "u25"].map((n) => issued(who(n))));
    const outcomes = await Promise.all(
      runs.map(async (r, i) => {
        const u = who(`u${20 + i}`);
        const [c, a] = await Promise.all([
          call(via(i), "PUT", `/requests/${r.requestId}`, { ...u, body: { status: "Completed" } }),
          call(via(i + 1), "PUT", `/requests/${r.requestId}`, { ...u, body: { status: "Abandoned" } }),
        ]);
        expect([c.status, a.status].sort(), `${c.text} ${a.text}`).toEqual([200, 409]);
        return { ...r, status: await statusOf(r.requestId), completeWon: c.status === 200 };
      }),
    );
    for (const o of outcomes) {
      expect(o.status).toBe(o.completeWon ? 8 : 19);
      const [card] = await query(cluster.dbUrl, "select status from smartcards where uuid = $1", [o.scid]);
      const [cert] = await query(cluster.dbUrl, "select status from certificates where serial = $1", [o.serial]);
      expect(card.status).toBe(o.completeWon ? 3 : 6);
      expect(cert.status).toBe(o.completeWon ? 0 : 1);
    }
    // Whichever process revoked, both serve a CRL listing every revoked serial and no completed one.
    const [crlA, crlB] = [await readCrl(A), await readCrl(B)];
    expect(crlA.number).toBe(crlB.number);
    for (const o of outcomes) {
      expect(crlA.entries.has(o.serial)).toBe(!o.completeWon);
      expect(crlB.entries.has(o.serial)).toBe(!o.completeWon);
    }
  });

  it("parallel revocations through both processes publish CRLs with distinct, gap-free numbers", async () => {
    const runs = await Promise.all(["u30", "u31", "u32", "u33", "u34", "u35"].map((n) => issued(who(n))));
    await Promise.all(runs.map((r, i) => call(via(i), "PUT", `/requests/${r.requestId}`, { ...who(`u${30 + i}`), body: { status: "Completed" } })));
    const retire = await Promise.all(
      runs.map(async (r, i) => {
        const u = who(`u${30 + i}`);
        const c = await call(via(i), "POST", "/requests", { ...u, body: { type: "Retire", smartcard: r.scid, datacollection: [], comment: "" } });
        expect(c.status, c.text).toBe(201);
        return { id: idOf(c), u };
      }),
    );
    const done = await Promise.all(retire.map((r, i) => call(via(i + 1), "PUT", `/requests/${r.id}`, { ...r.u, body: { status: "Completed" } })));
    for (const d of done) expect(d.status, d.text).toBe(200);
    const crls = await query(cluster.dbUrl, "select number, der from crls order by number");
    expect(crls.map((c) => Number(c.number))).toEqual(crls.map((_, i) => i + 1));
    const dir = tempDir();
    for (const c of crls) {
      const file = join(dir, `${c.number}.der`);
      writeFileSync(file, c.der);
      const printed = execFileSync("openssl", ["crl", "-inform", "DER", "-in", file, "-noout", "-crlnumber"]).toString();
      expect(Number.parseInt(/crlNumber=(?:0x)?([0-9A-Fa-f]+)/.exec(printed)![1]!, 16)).toBe(Number(c.number));
    }
    const [crlA, crlB] = [await readCrl(A), await readCrl(B)];
    expect(crlA.number).toBe(Number(crls.at(-1)!.number));
    expect(crlB.number).toBe(crlA.number);
    for (const r of runs) expect(crlB.entries.has(r.serial)).toBe(true);
  });

  it("a revocation whose process died before publishing is in the next CRL served", async () => {
    const run = await issued(who("u36"));
    await call(A, "PUT", `/requests/${run.requestId}`, { ...who("u36"), body: { status: "Completed" } });
    const before = await readCrl(B);
    // What a process commits when it revokes (certificate and change counter in one transaction)
    // and then dies before publishing the CRL.
    await query(
      cluster.dbUrl,
      `with c as (update certificates set status = 1, revoked_at = $2, revocation_reason = 1 where serial = $1 returning serial)
       update counters set value = value + 1 where name = 'crl_changes' and exists (select 1 from c)`,
      [run.serial, new Date().toISOString()],
    );
    const after = await readCrl(B);
    expect(after.number).toBeGreaterThan(before.number);
    expect(after.entries.has(run.serial)).toBe(true);
    expect((await readCrl(A)).number).toBe(after.number);
  });

  it("leaves the database consistent", async () => {
    expect(await consistencyViolations(cluster.dbUrl)).toEqual([]);
  });
});
