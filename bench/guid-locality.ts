// `npm run bench:guids -- --database postgres://…`: what the kind of GUID costs PostgreSQL's WAL.
// For random (version 4) and time-ordered (version 7, what the server makes) request ids: a scratch
// database with the product's schema and N requests, a CHECKPOINT, then M requests each in a
// transaction of its own through the server's own statement. Reported: WAL bytes and full-page
// images per request. After a checkpoint the first change of every page writes the whole page to
// the WAL; random keys touch a different index page almost every time.
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { REPO, VPN } from "./pg-common.js";

const { values } = parseArgs({
  options: {
    database: { type: "string" },
    rows: { type: "string", default: "100000" },
    measured: { type: "string", default: "2000" },
  },
});
if (!values.database || !/^postgres(ql)?:\/\//i.test(values.database)) throw new Error("--database postgres://user@host:port/db is required");
const rows = Number(values.rows);
const measured = Number(values.measured);

// The server as built (dist/), exactly what a deployment runs.
const { openStore } = (await import(pathToFileURL(join(REPO, "dist/store/open.js")).href)) as {
  openStore(o: { url: string; dataDir: string }): Promise<{ insertRequest(r: unknown): Promise<void>; close(): Promise<void> }>;
};
const { newGuid } = (await import(pathToFileURL(join(REPO, "dist/domain/guid.js")).href)) as { newGuid(): string };

/** An approved Enroll request of one user; the columns a new request leaves empty are null. */
function request(uuid: string) {
  const at = new Date().toISOString();
  const user = "00000000-0000-4000-8000-000000000001";
  const empty = ["completed_at", "new_profile_uuid", "old_profile_uuid", "new_smartcard_uuid", "old_smartcard_uuid", "new_key_version", "csr_fingerprints", "revocation_reason"];
  const zero = ["flags", "priority", "approvals_needed", "responses_released"];
  return {
    ...Object.fromEntries(empty.map((column) => [column, null])),
    ...Object.fromEntries(zero.map((column) => [column, 0])),
    uuid,
    type: 1,
    workflow: "Enroll",
    status: 3,
    data_collection: "[]",
    comment: "",
    originator_uuid: user,
    target_uuid: user,
    template_uuid: VPN,
    template_version: 1,
    submitted_at: at,
    updated_at: at,
  };
}

const lsn = async (c: pg.Client): Promise<string> => (await c.query("select pg_current_wal_lsn()::text as lsn")).rows[0].lsn;
/** Cluster-wide; backends report theirs when idle for a second or when they exit. */
const fullPageImages = async (c: pg.Client): Promise<number> => Number((await c.query("select wal_fpi::bigint as n from pg_stat_wal")).rows[0].n);

const admin = new pg.Client({ connectionString: values.database });
await admin.connect();
console.log(`requests table of ${rows} rows, CHECKPOINT, then ${measured} requests inserted one per transaction`);
console.log("GUIDs                        WAL bytes / request  full-page images / request");
for (const [label, make] of [
  ["random (version 4)", randomUUID],
  ["time-ordered (version 7)", newGuid],
] as const) {
  const name = `openclm_bench_guids_${process.pid}`;
  await admin.query(`drop database if exists ${name}`);
  await admin.query(`create database ${name}`);
  const url = new URL(values.database);
  url.pathname = `/${name}`;
  const store = await openStore({ url: url.toString(), dataDir: tmpdir() });
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  let closed = false;
  try {
    // The existing rows, 1,000 to a statement.
    const cols = Object.keys(request(""));
    for (let done = 0; done < rows; done += 1000) {
      const n = Math.min(1000, rows - done);
      const params: unknown[] = [];
      const tuples = Array.from({ length: n }, () => {
        const r = request(make()) as Record<string, unknown>;
        const start = params.length;
        params.push(...cols.map((k) => r[k]));
        return `(${cols.map((_, i) => `$${start + i + 1}`).join(",")})`;
      });
      await c.query(`insert into requests (${cols.join(",")}) values ${tuples.join(",")}`, params);
    }
    await c.query("checkpoint");
    await c.query("select pg_stat_force_next_flush()");
    const [lsn0, fpi0] = [await lsn(c), await fullPageImages(c)];
    for (let i = 0; i < measured; i++) await store.insertRequest(request(make()));
    const lsn1 = await lsn(c);
    await store.close(); // its connections' statistics are reported as they exit
    closed = true;
    await new Promise((r) => setTimeout(r, 500));
    const fpi1 = await fullPageImages(c);
    const { rows: d } = await c.query("select pg_wal_lsn_diff($1, $2)::bigint as bytes", [lsn1, lsn0]);
    console.log(`${label.padEnd(28)} ${(Number(d[0].bytes) / measured).toFixed(0).padStart(19)}  ${((fpi1 - fpi0) / measured).toFixed(2).padStart(27)}`);
  } finally {
    await c.end();
    if (!closed) await store.close();
    await admin.query(`drop database if exists ${name}`);
  }
}
await admin.end();
