// Several server processes on one PostgreSQL database: configuration, start-up, direct database
// access, and the consistency query every test/pg test ends with.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { parse, stringify } from "yaml";
import { ensureTestDatabase, REPO, startServer, testDatabaseName, type TestServer } from "../helpers/server.js";
import { afterAll, beforeAll } from "vitest";
import { verifyChain } from "../../src/domain/audit.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";

/** test/pg needs a PostgreSQL server; without one its tests are skipped and say so. */
export const PG_AVAILABLE = !!process.env.OPENCLM_TEST_PG_URL;
export const SKIP_REASON = PG_AVAILABLE ? "" : " (skipped: set OPENCLM_TEST_PG_URL, e.g. postgres://postgres@127.0.0.1:5432/test)";

export const VPN = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
export const LOGON = "5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d";
export const DEFAULT_KEY = "010203040506070801020304050607080102030405060708";
export const RESPONSE_BOUND = 16;
export const LOGON_APPROVALS = 3;

/** The demo configuration with more users: approvers ap1…ap5, employees u1…u40; Smart Card Logon needs 3 approvals. */
export function clusterConfig(dir: string, edit?: (config: any) => void): string {
  const config = parse(readFileSync(join(REPO, "config/demo.yaml"), "utf8"));
  const user = (name: string, groups: string[]) => ({
    name,
    password: name,
    displayName: `User ${name}`,
    email: `${name}@example.test`,
    upn: `${name}@example.test`,
    groups,
  });
  for (let i = 1; i <= 5; i++) config.users.push(user(`ap${i}`, ["cm-approvers"]));
  for (let i = 1; i <= 40; i++) config.users.push(user(`u${i}`, ["cm-users"]));
  const logon = config.profileTemplates.find((t: { uuid: string }) => t.uuid === LOGON);
  logon.policies.enroll.approvalsNeeded = LOGON_APPROVALS;
  edit?.(config);
  const file = join(dir, "cluster.yaml");
  writeFileSync(file, stringify(config, { aliasDuplicateObjects: false }));
  return file;
}

export interface Cluster {
  dbUrl: string;
  configFile: string;
  kek: string;
  servers: TestServer[];
  start(): Promise<TestServer>;
  stop(): Promise<void>;
}

/** `n` server processes started at the same moment on one fresh database, sharing one key-encryption key. */
export async function startCluster(n: number, opts: { edit?: (config: any) => void } = {}): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), "openclm-pg-"));
  const dbUrl = await ensureTestDatabase(testDatabaseName(root));
  const configFile = clusterConfig(root, opts.edit);
  const kek = randomBytes(32).toString("base64");
  const servers: TestServer[] = [];
  let next = 0;
  const start = async () => {
    const dataDir = join(root, `p${next++}`);
    mkdirSync(dataDir, { mode: 0o700 });
    const s = await startServer({ demo: false, dataDir, env: { OPENCLM_KEK: kek }, args: ["--config", configFile, "--database", dbUrl] });
    servers.push(s);
    return s;
  };
  await Promise.all(Array.from({ length: n }, start));
  return {
    dbUrl,
    configFile,
    kek,
    servers,
    start,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

export async function query<T extends pg.QueryResultRow = any>(dbUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Calls fn until it returns true (then true) or ms have passed (then false). */
export async function until(fn: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Waits (up to timeoutMs) until no audit record is pending: servers link committed records a
 * moment after their commit, in the background (domain/audit.ts). One still pending after that
 * is reported by consistencyViolations.
 */
export async function auditLinked(dbUrl: string, timeoutMs = 5_000): Promise<void> {
  await until(async () => (await query(dbUrl, "select id from audit_pending limit 1")).length === 0, timeoutMs);
}

/**
 * Every invariant a request, card, certificate, approval, release counter, CRL and the audit trail
 * must satisfy, however processes raced or died. Returns the violations (empty when consistent).
 */
export async function consistencyViolations(dbUrl: string): Promise<string[]> {
  await auditLinked(dbUrl);
  const checks: Record<string, string> = {
    "request in an unknown state": "select uuid from requests where status not in (3, 4, 8, 9, 16, 17, 18, 19)",
    "completed_at set exactly for final states":
      "select uuid from requests where (completed_at is not null) <> (status in (4, 8, 9, 17, 19))",
    "release counter past the bound": `select uuid from requests where responses_released > ${RESPONSE_BOUND} or responses_released < 0`,
    "certificates without the answered fingerprints, or fingerprints without certificates":
      "select r.uuid from requests r where r.workflow = 'Enroll' and (r.csr_fingerprints is not null) <> exists (select 1 from certificates c where c.request_uuid = r.uuid)",
    "more than one certificate of a certificate template per request":
      "select request_uuid from certificates group by request_uuid, template_name having count(*) > 1",
    "certificate of a request that never reached execution":
      "select c.serial from certificates c join requests r on r.uuid = c.request_uuid where r.status in (3, 4, 16)",
    "certificate whose request does not exist": "select c.serial from certificates c left join requests r on r.uuid = c.request_uuid where r.uuid is null",
    "certificate not of the request's target user":
      "select c.serial from certificates c join requests r on r.uuid = c.request_uuid where c.user_uuid <> r.target_uuid",
    "certificate on a card other than its request's":
      "select c.serial from certificates c join requests r on r.uuid = c.request_uuid where c.smartcard_uuid is distinct from r.new_smartcard_uuid and r.flags & 2 = 2",
    "live certificate of a canceled, abandoned or failed request":
      "select c.serial from certificates c join requests r on r.uuid = c.request_uuid where r.status in (9, 17, 19) and c.status in (0, 2)",
    "completed enrollment without its certificates":
      "select r.uuid from requests r where r.workflow = 'Enroll' and r.status = 8 and not exists (select 1 from certificates c where c.request_uuid = r.uuid)",
    "completed smart card enrollment whose card was never activated":
      "select r.uuid from requests r join smartcards s on s.uuid = r.new_smartcard_uuid where r.workflow = 'Enroll' and r.status = 8 and s.status in (1, 2)",
    "card bound to a request that does not point to it":
      "select s.uuid from smartcards s join requests r on r.uuid = s.request_uuid where r.workflow = 'Enroll' and r.new_smartcard_uuid is distinct from s.uuid",
    "request pointing to a card that does not exist":
      "select r.uuid from requests r where r.new_smartcard_uuid is not null and not exists (select 1 from smartcards s where s.uuid = r.new_smartcard_uuid)",
    "active card whose enrollment is not completed":
      "select s.uuid from smartcards s join requests r on r.uuid = s.request_uuid where s.status = 3 and r.status <> 8",
    "assigned card whose request is no longer open":
      "select s.uuid from smartcards s join requests r on r.uuid = s.request_uuid where s.status = 2 and r.status not in (3, 18)",
    "one card id live on two cards": "select card_id from smartcards where status in (2, 3, 5) group by card_id having count(*) > 1",
    "approvals counted twice for one approver": "select request_uuid from approvals group by request_uuid, approver_uuid having count(*) > 1",
    "approved without enough approvals":
      "select r.uuid from requests r where r.approvals_needed > 0 and r.status in (3, 8, 18) and (select count(*) from approvals a where a.request_uuid = r.uuid and a.decision = 'Approve') < r.approvals_needed",
    "pending with enough approvals or a denial":
      "select r.uuid from requests r where r.status = 16 and ((select count(*) from approvals a where a.request_uuid = r.uuid and a.decision = 'Approve') >= r.approvals_needed or exists (select 1 from approvals a where a.request_uuid = r.uuid and a.decision = 'Deny'))",
    "denied without a denial": "select r.uuid from requests r where r.status = 4 and not exists (select 1 from approvals a where a.request_uuid = r.uuid and a.decision = 'Deny')",
    "approvals beyond the need (counted after the decision)":
      "select r.uuid from requests r where (select count(*) from approvals a where a.request_uuid = r.uuid) > greatest(r.approvals_needed, 1)",
    "request without its creation in the audit trail":
      "select r.uuid from requests r where (select count(*) from audit_events e where e.request_uuid = r.uuid and e.action = 'request.create') <> 1",
    "completed request without exactly one completion in the audit trail":
      "select r.uuid from requests r where r.status = 8 and (select count(*) from audit_events e where e.request_uuid = r.uuid and e.action = 'request.complete') <> 1",
    "certificate not in the audit trail":
      "select c.serial from certificates c where not exists (select 1 from audit_events e where e.request_uuid = c.request_uuid and e.action = 'certificate.issue' and e.details like '%' || c.serial || '%')",
    "successful releases differ from the counter":
      "select r.uuid from requests r where r.responses_released <> (select count(*) from audit_events e where e.request_uuid = r.uuid and e.action in ('smartcard.diversifiedkey', 'smartcard.authenticationresponse', 'key.recover') and e.outcome = 'success')",
    "audit records never linked into the chain": "select id from audit_pending",
    "CRL numbers not 1…n without gaps": "select 1 from crls having count(*) <> coalesce(max(number), 0) or min(number) <> 1",
    "CRL counter differs from the newest CRL":
      "select 1 from counters where name = 'crl_number' and value <> (select max(number) from crls)",
  };
  const violations: string[] = [];
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    for (const [name, text] of Object.entries(checks)) {
      const { rows } = await client.query(text);
      if (rows.length) violations.push(`${name}: ${rows.slice(0, 5).map((r) => JSON.stringify(Object.values(r)[0])).join(", ")}${rows.length > 5 ? ` (+${rows.length - 5})` : ""}`);
    }
    const audit = (await client.query("select * from audit_events order by seq")).rows.map((r) => ({ ...r, seq: Number(r.seq) }));
    const chain = verifyChain(audit);
    if (chain.brokenAt !== undefined) violations.push(`audit chain broken at seq ${chain.brokenAt}`);
    const seqs = audit.map((r) => r.seq);
    if (new Set(seqs).size !== seqs.length) violations.push("audit sequence numbers repeat");
  } finally {
    await client.end();
  }
  return violations;
}

/**
 * A PostgreSQL database of the test file's own, created before its tests, and the Stores it opens
 * on it, closed after them. `url` is set once the database exists.
 */
export function scratchDatabase(name: string): { url: string; open(params?: string): Promise<Store>; close(store: Store): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `openclm-${name}-`));
  const opened = new Set<Store>();
  const db = {
    url: "",
    async open(params = ""): Promise<Store> {
      // As a server process opens it.
      const store = await openStore({ url: `${db.url}${params}`, dataDir: dir, listenForDirectoryChanges: true });
      opened.add(store);
      return store;
    },
    async close(store: Store): Promise<void> {
      opened.delete(store);
      await store.close();
    },
  };
  beforeAll(async () => {
    if (PG_AVAILABLE) db.url = await ensureTestDatabase(testDatabaseName(dir));
  });
  afterAll(async () => {
    await Promise.all([...opened].map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}
