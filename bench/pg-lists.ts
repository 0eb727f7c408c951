// The per-user views at scale: with a million cards in PostgreSQL (seeded by bench/seed.ts when
// the database holds fewer), how long do `GET /smartcards`, `/requests` and `/certificates` take
// for one user, through a running `openclm serve` over loopback? Prints p50/p90/p99/max per
// endpoint, sequentially (one call at a time) and with several clients at once; and the
// approvers' queue (`GET /requests` as an approver, first and last page of the pending requests).
//
//   npm run bench:pg                                   # seed 1,000,000 cards if needed, then measure
//   npm run bench:pg -- --cards 100000 --fresh         # a smaller database, from scratch
//   npm run bench:pg -- --database postgres://u@host/db --users 200 --rounds 30 --concurrency 1,4,16 --processes 2
//
// Each sampled user's first call (Basic-auth scrypt check, cached afterwards) is a warm-up and not
// counted; a call's time runs from sending the request to having read the whole JSON body.
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { connect, parseArgs, startServer, type BenchOptions, type ServerProcess } from "./pg-common.js";
import { seed } from "./seed.js";

const ENDPOINTS = ["/smartcards", "/requests", "/certificates"] as const;
const BASE = "/CertificateManagement/api/v1.0";

interface Sample {
  user: string;
  cards: number;
}

async function sampleUsers(o: BenchOptions): Promise<Sample[]> {
  const db = await connect(o.database);
  try {
    // Random users holding at least one card, plus the user holding the most.
    const { rows } = await db.query(
      `with u as (select name, uuid from users where name like 'bench%' order by random() limit $1)
       select u.name, (select count(*) from smartcards s where s.assigned_user_uuid = u.uuid)::int as cards from u`,
      [o.users * 2],
    );
    const picked = rows.filter((r) => r.cards > 0).slice(0, o.users - 1);
    const top = await db.query(
      `select u.name, count(*)::int as cards from smartcards s join users u on u.uuid = s.assigned_user_uuid
       group by u.name order by count(*) desc limit 1`,
    );
    return [...picked, top.rows[0]].map((r) => ({ user: r.name as string, cards: r.cards as number }));
  } finally {
    await db.end();
  }
}

async function timedGet(server: ServerProcess, path: string, user: string, password = "alice"): Promise<{ ms: number; items: number }> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}${BASE}${path}`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` } });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`GET ${path} as ${user}: ${res.status} ${body.slice(0, 200)}`);
  return { ms, items: (JSON.parse(body) as unknown[]).length };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Row {
  endpoint: string;
  concurrency: number;
  calls: number;
  items: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  rps: number;
}

/** Every (user, endpoint) call `rounds` times, shuffled, by `concurrency` clients at once. */
async function measure(servers: ServerProcess[], users: Sample[], rounds: number, concurrency: number): Promise<Row[]> {
  const work: { user: string; endpoint: string }[] = [];
  for (let r = 0; r < rounds; r++) for (const u of users) for (const e of ENDPOINTS) work.push({ user: u.user, endpoint: e });
  for (let i = work.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [work[i], work[j]] = [work[j]!, work[i]!];
  }
  const times = new Map<string, number[]>(ENDPOINTS.map((e) => [e, []]));
  const items = new Map<string, number>(ENDPOINTS.map((e) => [e, 0]));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      for (let w = work[next++]; w; w = work[next++]) {
        const r = await timedGet(servers[(c + next) % servers.length]!, w.endpoint, w.user);
        times.get(w.endpoint)!.push(r.ms);
        items.set(w.endpoint, items.get(w.endpoint)! + r.items);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return ENDPOINTS.map((e) => {
    const t = times.get(e)!.sort((a, b) => a - b);
    return {
      endpoint: e,
      concurrency,
      calls: t.length,
      items: items.get(e)! / t.length,
      p50: percentile(t, 50),
      p90: percentile(t, 90),
      p99: percentile(t, 99),
      max: t[t.length - 1]!,
      rps: work.length / seconds,
    };
  });
}

/**
 * The approvers' queue: bob (group cm-approvers of the demo configuration) lists the seeded
 * pending requests, the first page and the last, `calls` times each, `concurrency` at once.
 */
async function measureQueue(servers: ServerProcess[], calls: number, concurrency: number, pending: number): Promise<Row[]> {
  const pages = [`/requests?top=50`, `/requests?top=50&skip=${Math.max(0, pending - 50)}`];
  const rows: Row[] = [];
  for (const page of pages) {
    const times: number[] = [];
    let items = 0;
    let left = calls;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, c) => {
        while (left-- > 0) {
          const r = await timedGet(servers[c % servers.length]!, page, "bob", "bob");
          times.push(r.ms);
          items += r.items;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const t = times.sort((a, b) => a - b);
    rows.push({ endpoint: `${page} (approver)`, concurrency, calls: t.length, items: items / t.length, p50: percentile(t, 50), p90: percentile(t, 90), p99: percentile(t, 99), max: t[t.length - 1]!, rps: t.length / seconds });
  }
  return rows;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const seeded = await seed(o);
  const db = await connect(o.database);
  const counts = (
    await db.query(
      `select (select count(*) from smartcards)::int as cards, (select count(*) from users)::int as users,
              (select count(*) from requests)::int as requests, (select count(*) from certificates)::int as certificates,
              (select count(*) from requests where status = 16)::int as pending,
              pg_size_pretty(pg_database_size(current_database())) as size, current_setting('server_version') as version`,
    )
  ).rows[0];
  await db.end();
  const servers = await Promise.all(Array.from({ length: o.processes }, (_, i) => startServer(o, i)));
  try {
    const users = await sampleUsers(o);
    for (const s of servers) for (const u of users) for (const e of ENDPOINTS) await timedGet(s, e, u.user); // warm-up
    const rows: Row[] = [];
    for (const c of o.concurrency) rows.push(...(await measure(servers, users, o.rounds, c)));
    for (const s of servers) await timedGet(s, "/requests?top=1", "bob", "bob"); // warm-up
    for (const c of o.concurrency) rows.push(...(await measureQueue(servers, o.rounds * 10, c, counts.pending)));
    const out = process.stdout;
    out.write(
      `\nPostgreSQL ${counts.version}, database ${counts.size}: ${counts.cards.toLocaleString("en")} cards, ${counts.users.toLocaleString("en")} users, ` +
        `${counts.requests.toLocaleString("en")} requests, ${counts.certificates.toLocaleString("en")} certificates` +
        `${seeded.skipped ? "" : ` (seeded in ${seeded.seconds.toFixed(0)} s)`}\n`,
    );
    out.write(
      `${servers.length} server process(es); ${users.length} users (${users.map((u) => u.cards).reduce((a, b) => a + b, 0) / users.length} cards on average, ` +
        `the busiest with ${Math.max(...users.map((u) => u.cards))}); ${o.rounds} rounds per user and endpoint\n\n`,
    );
    out.write("| endpoint | clients | calls | items/answer | p50 ms | p90 ms | p99 ms | max ms | calls/s (all endpoints) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const r of rows)
      out.write(
        `| ${r.endpoint} | ${r.concurrency} | ${r.calls} | ${r.items.toFixed(1)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(2)} | ${r.rps.toFixed(0)} |\n`,
      );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
