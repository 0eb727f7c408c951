// Audit records on PostgreSQL are written unlinked with their change and linked into the chain
// after the commit (domain/audit.ts). A process killed in between leaves records unlinked: any
// other process links them — before the trail is read, on its periodic sweep, at start-up — in
// order, and the chain then verifies to its head.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { auditLinked, consistencyViolations, PG_AVAILABLE, query, SKIP_REASON, startCluster, VPN, type Cluster } from "./support.js";

let cluster: Cluster;
let A: TestServer;
const dave = { user: "dave", password: "dave" };

/** What a process that committed a change and died before linking leaves behind. */
async function orphan(action: string): Promise<void> {
  await query(
    cluster.dbUrl,
    `insert into audit_pending (at, actor_uuid, actor_name, action, target_type, target_uuid, request_uuid, correlation_id, outcome, details)
     values ($1, null, 'killed-process', $2, 'test', null, null, 'c-' || $2, 'success', '{}')`,
    [new Date().toISOString(), action],
  );
}

describe.skipIf(!PG_AVAILABLE)(`audit records left unlinked by a dead process${SKIP_REASON}`, () => {
  it("answers a committed change even when linking its record fails, and links the record later", async () => {
    // Another session holds the chain's lock; this server gives up waiting for it after 1 s.
    const dataDir = mkdtempSync(join(tmpdir(), "openclm-link-"));
    const S = await startServer({ demo: false, dataDir, env: { OPENCLM_KEK: cluster.kek }, args: ["--config", cluster.configFile, "--database", `${cluster.dbUrl}?statement_timeout=1000`] });
    const holder = new pg.Client({ connectionString: cluster.dbUrl });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select pg_advisory_xact_lock(7262001)");
      const r = await call(S, "POST", "/requests", { user: "u2", password: "u2", body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "y" }], comment: "" } });
      expect(r.status, r.text).toBe(201);
      const id = (r.body as string).split("/").pop()!;
      expect(await query(cluster.dbUrl, "select action from audit_pending where request_uuid = $1", [id])).toEqual([{ action: "request.create" }]);
      await holder.query("rollback");
      const listed = await call(S, "GET", `/audit?request=${id}`, dave);
      expect((listed.body as Array<{ Action: string }>).map((e) => e.Action)).toEqual(["request.create"]);
      expect(await query(cluster.dbUrl, "select id from audit_pending")).toEqual([]);
      expect(await consistencyViolations(cluster.dbUrl)).toEqual([]);
    } finally {
      await holder.end();
      await S.stop();
    }
  }, 60_000);

  beforeAll(async () => {
    cluster = await startCluster(1);
    A = cluster.servers[0]!;
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("links a change's records in the background a moment after its answer, with nobody reading", async () => {
    const r = await call(A, "POST", "/requests", { user: "u1", password: "u1", body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "x" }], comment: "" } });
    expect(r.status).toBe(201);
    // Well inside the periodic sweep's 2 s; the mechanism itself is tested in test/pg/audit-background.test.ts.
    await auditLinked(cluster.dbUrl, 1_000);
    expect(await query(cluster.dbUrl, "select id from audit_pending")).toEqual([]);
    const [row] = await query(cluster.dbUrl, "select seq, prev_hash, hash from audit_events where action = 'request.create' order by seq desc limit 1");
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("links orphans in order before the trail is read, and the chain verifies to its head", async () => {
    await orphan("test.orphan-1");
    await orphan("test.orphan-2");
    const listed = await call(A, "GET", "/audit?order=desc&top=5", dave);
    expect(listed.status).toBe(200);
    const actions = (listed.body as Array<{ Action: string }>).map((e) => e.Action);
    expect(actions.slice(0, 2)).toEqual(["test.orphan-2", "test.orphan-1"]);
    expect(await query(cluster.dbUrl, "select id from audit_pending")).toEqual([]);
    expect(await consistencyViolations(cluster.dbUrl)).toEqual([]);
  });

  it("links orphans on the periodic sweep with nobody reading, and at start-up", async () => {
    await orphan("test.orphan-3");
    const deadline = Date.now() + 10_000;
    while ((await query(cluster.dbUrl, "select id from audit_pending")).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await query(cluster.dbUrl, "select id from audit_pending")).toEqual([]);
    await A.stop();
    await orphan("test.orphan-4");
    const B = await cluster.start();
    expect(await query(cluster.dbUrl, "select id from audit_pending")).toEqual([]);
    const [last] = await query(cluster.dbUrl, "select action from audit_events order by seq desc limit 1");
    expect(last.action).toBe("test.orphan-4");
    expect((await call(B, "GET", "/audit?top=1", dave)).status).toBe(200);
    expect(await consistencyViolations(cluster.dbUrl)).toEqual([]);
  });
});
