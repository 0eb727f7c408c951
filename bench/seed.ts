// Fills a PostgreSQL database with a realistic volume for the list benchmark (bench/pg-lists.ts):
// N smart cards (default 1,000,000) held by about N/1.6 users (a Poisson spread: many with one
// card, some with several, a fifth with none), each card with its Enroll request and certificate,
// one card in ten retired (certificate revoked, a completed Retire request), one in two hundred
// still being enrolled, approvals for the cards that needed one, and a queue of pending requests.
//
//   npm run build && tsc … (see `npm run bench:pg`) && node dist/bench-pg/seed.js --cards 1000000 [--fresh]
//
// The schema, CA, templates and demo users come from `openclm serve` itself (first start on the
// empty database); the volume is then generated inside PostgreSQL with INSERT … SELECT over
// generate_series in batches, which takes a few minutes for a million cards.
import { X509Certificate } from "node:crypto";
import { pathToFileURL } from "node:url";
import { connect, elapsed, ensureDatabase, LOGON, parseArgs, startServer, VPN, type BenchOptions } from "./pg-common.js";

const BATCH = 50_000;
/** Cards were enrolled over the three years before this instant, oldest first. */
const SPAN_SECONDS = 3 * 365 * 86_400;

export interface SeedResult {
  cards: number;
  users: number;
  seconds: number;
  skipped: boolean;
}

export async function seed(o: BenchOptions): Promise<SeedResult> {
  const t0 = Date.now();
  await ensureDatabase(o.database, o.fresh);
  // First start: migrations, CA, template versions, the demo users (alice's hash is reused below).
  const server = await startServer(o);
  await server.stop();

  const db = await connect(o.database);
  try {
    const users = Math.ceil(o.cards / 1.6);
    const have = Number((await db.query("select count(*) as n from smartcards")).rows[0].n);
    if (have >= o.cards) {
      log(`database already holds ${have.toLocaleString("en")} cards; nothing to do (--fresh starts over)`);
      return { cards: have, users: Number((await db.query("select count(*) as n from users")).rows[0].n), seconds: 0, skipped: true };
    }
    if (have > 0) throw new Error(`database holds ${have} cards, fewer than --cards ${o.cards}; use --fresh`);

    const hash = (await db.query("select password_hash from users where name = 'alice'")).rows[0]?.password_hash;
    if (!hash) throw new Error("the demo user alice is missing");
    const bob = (await db.query("select uuid from users where name = 'bob'")).rows[0].uuid as string;
    const versions = new Map<string, number>(
      (await db.query("select uuid, max(version) as v from profile_templates group by uuid")).rows.map((r) => [r.uuid, Number(r.v)]),
    );
    const issuingDer: Buffer = (await db.query("select cert_der from ca_keys where role = 'issuing'")).rows[0].cert_der;
    const issuer = new X509Certificate(issuingDer).subject.replace(/\n/g, ", ");
    const base = Math.floor(Date.now() / 1000) - SPAN_SECONDS;
    const step = SPAN_SECONDS / o.cards;

    await db.query("set synchronous_commit = off");
    log(`seeding ${o.cards.toLocaleString("en")} cards for ${users.toLocaleString("en")} users into ${redact(o.database)}`);

    for (let lo = 1; lo <= users; lo += BATCH) {
      const hi = Math.min(users, lo + BATCH - 1);
      await db.query("begin");
      await db.query(
        `insert into users (uuid, name, display_name, email, upn, password_hash, disabled, source, created_at)
         select md5('user' || i)::uuid::text, 'bench' || i, 'Bench User ' || i, 'bench' || i || '@example.test',
                'bench' || i || '@example.test', $3, 0, 'local', to_char(to_timestamp($4::float8) at time zone 'UTC', ${ISO})
         from generate_series($1::int, $2::int) i`,
        [lo, hi, hash, base],
      );
      await db.query(`insert into user_groups (user_uuid, group_name) select md5('user' || i)::uuid::text, 'cm-users' from generate_series($1::int, $2::int) i`, [lo, hi]);
      await db.query("commit");
    }
    log(`users: ${elapsed(t0)}`);

    // Per card i: its user, its template (7 in 10 virtual VPN cards, 3 in 10 physical logon cards),
    // its enrollment time, and its fate (retired, still enrolling, or active).
    const cte = `with k as (
        select i,
               md5('user' || (1 + (hashint4(i) & 2147483647) % $3))::uuid::text as usr,
               (i % 10 < 7) as vpn,
               (i % 10 = 9) as retired,
               (i % 200 = 3) as enrolling,
               to_timestamp($4::float8 + i * $5::float8) at time zone 'UTC' as ts
        from generate_series($1::int, $2::int) i)`;
    const iso = (e: string) => `to_char(${e}, ${ISO})`;
    const args = (lo: number, hi: number) => [lo, hi, users, base, step, VPN, versions.get(VPN)!, LOGON, versions.get(LOGON)!];
    const tpl = `case when vpn then $6::text else $8::text end`;
    const tplVersion = `case when vpn then $7::int else $9::int end`;

    for (let lo = 1; lo <= o.cards; lo += BATCH) {
      const hi = Math.min(o.cards, lo + BATCH - 1);
      await db.query("begin");
      await db.query(
        `${cte}
         insert into requests (uuid, type, workflow, status, flags, data_collection, originator_uuid, target_uuid, submitted_at, completed_at,
                               new_profile_uuid, old_profile_uuid, new_smartcard_uuid, old_smartcard_uuid, priority, comment, template_uuid,
                               template_version, approvals_needed, responses_released, new_key_version, csr_fingerprints, revocation_reason, updated_at)
         select md5('req' || i)::uuid::text, 1, 'Enroll', case when enrolling then 18 else 8 end, 2,
                case when vpn then '[{"Name":"Request Reason","Value":"VPN from home"}]' else '[{"Name":"Employee ID","Value":"' || (100000 + i % 900000) || '"}]' end,
                usr, usr, ${iso("ts")}, case when enrolling then null else ${iso("ts + interval '4 minutes'")} end,
                null, null, md5('card' || i)::uuid::text, null, 0, '', ${tpl}, ${tplVersion}, case when vpn then 0 else 1 end, 2, 1,
                '["' || md5('csr' || i) || '"]', null, ${iso("ts + interval '4 minutes'")}
         from k`,
        args(lo, hi),
      );
      await db.query(
        `${cte}
         insert into smartcards (uuid, card_id, status, flags, parent_uuid, primary_uuid, permanent_uuid, assigned_user_uuid, template_uuid,
                                 template_version, key_version, comment, atr, middleware, request_uuid, created_at, updated_at)
         select md5('card' || i)::uuid::text, md5('cardid' || i)::uuid::text, case when retired then 6 when enrolling then 2 else 3 end, 1,
                null, null, null, usr, ${tpl}, ${tplVersion}, 1, '',
                case when vpn then '3b8d0180fba000000397425446590301c8' else '3bdc18ff8191fe1fc38073c821136601061159000128' end,
                'MSBaseCSP', md5('req' || i)::uuid::text, ${iso("ts + interval '1 minute'")},
                ${iso("case when retired then ts + interval '200 days' else ts + interval '4 minutes' end")}
         from k`,
        args(lo, hi),
      );
      await db.query(
        `${cte}
         insert into certificates (serial, request_uuid, smartcard_uuid, profile_uuid, user_uuid, template_name, der, thumbprint, subject, issuer,
                                   not_before, not_after, status, revoked_at, revocation_reason, archived_key, csr_fingerprint, created_at)
         select upper(md5('serial' || i)), md5('req' || i)::uuid::text, md5('card' || i)::uuid::text, null, usr,
                case when vpn then 'VPN' else 'SmartcardLogon' end, $6::bytea, upper(md5('thumb' || i)) || '0BE5C0DE',
                'CN=Bench User ' || i, $7::text, ${iso("ts - interval '5 minutes'")}, ${iso("ts + interval '365 days'")},
                case when retired then 1 else 0 end, case when retired then ${iso("ts + interval '200 days'")} end,
                case when retired then 5 end, null, md5('csr' || i), ${iso("ts + interval '3 minutes'")}
         from k`,
        [lo, hi, users, base, step, issuingDer, issuer],
      );
      // The retirements: a completed Retire request per retired card.
      await db.query(
        `${cte}
         insert into requests (uuid, type, workflow, status, flags, data_collection, originator_uuid, target_uuid, submitted_at, completed_at,
                               new_profile_uuid, old_profile_uuid, new_smartcard_uuid, old_smartcard_uuid, priority, comment, template_uuid,
                               template_version, approvals_needed, responses_released, new_key_version, csr_fingerprints, revocation_reason, updated_at)
         select md5('retire' || i)::uuid::text, 7, 'Retire', 8, 2, '[]', usr, usr, ${iso("ts + interval '200 days'")},
                ${iso("ts + interval '200 days'")}, null, null, md5('card' || i)::uuid::text, md5('card' || i)::uuid::text, 0, '',
                ${tpl}, ${tplVersion}, 0, 0, null, null, null, ${iso("ts + interval '200 days'")}
         from k where retired`,
        args(lo, hi),
      );
      await db.query(
        `${cte}
         insert into approvals (request_uuid, approver_uuid, decision, comment, decided_at)
         select md5('req' || i)::uuid::text, $6::text, 'Approve', '', ${iso("ts + interval '2 minutes'")} from k where not vpn`,
        [lo, hi, users, base, step, bob],
      );
      await db.query("commit");
      if (hi % 200_000 === 0 || hi === o.cards) log(`cards ${hi.toLocaleString("en")}: ${elapsed(t0)}`);
    }

    // The approvers' queue: logon enrollments waiting for approval (no card yet), in the last week.
    const pending = Math.max(1, Math.floor(o.cards * 0.003));
    await db.query(
      `insert into requests (uuid, type, workflow, status, flags, data_collection, originator_uuid, target_uuid, submitted_at, completed_at,
                             new_profile_uuid, old_profile_uuid, new_smartcard_uuid, old_smartcard_uuid, priority, comment, template_uuid,
                             template_version, approvals_needed, responses_released, new_key_version, csr_fingerprints, revocation_reason, updated_at)
       select md5('pending' || j)::uuid::text, 1, 'Enroll', 16, 2, '[{"Name":"Employee ID","Value":"' || (100000 + j) || '"}]',
              md5('user' || (1 + (hashint4(-j) & 2147483647) % $2))::uuid::text, md5('user' || (1 + (hashint4(-j) & 2147483647) % $2))::uuid::text,
              ${iso("to_timestamp($3::float8 - j * 60) at time zone 'UTC'")}, null, null, null, null, null, 0, '', $4, $5::int, 1, 0, null, null, null,
              ${iso("to_timestamp($3::float8 - j * 60) at time zone 'UTC'")}
       from generate_series(1, $1::int) j`,
      [pending, users, Math.floor(Date.now() / 1000), LOGON, versions.get(LOGON)!],
    );
    log(`pending requests ${pending.toLocaleString("en")}: ${elapsed(t0)}`);
    await db.query("analyze");
    const seconds = (Date.now() - t0) / 1000;
    log(`seeded in ${seconds.toFixed(0)} s`);
    return { cards: o.cards, users, seconds, skipped: false };
  } finally {
    await db.end();
  }
}

/** ISO-8601 UTC with milliseconds, as the server writes its timestamps. */
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

function log(line: string): void {
  process.stderr.write(`seed: ${line}\n`);
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  seed(parseArgs(process.argv.slice(2))).catch((e: Error) => {
    process.stderr.write(`seed: ${e.message}\n`);
    process.exit(1);
  });
}
