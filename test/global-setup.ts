// One id per test run names the PostgreSQL databases the run creates (test/helpers/server.ts);
// at the end the run drops its own, and any a killed run left behind more than a day ago.
import { randomBytes } from "node:crypto";
import pg from "pg";

const PREFIX = "openclm_t_";
const STALE_SECONDS = 24 * 3600;

export function setup(): () => Promise<void> {
  const run = `${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(2).toString("hex")}`;
  // Test workers are forked after this and inherit the environment.
  process.env.OPENCLM_TEST_RUN = run;
  return async () => {
    if (process.env.OPENCLM_TEST_ENGINE !== "postgres" && !process.env.OPENCLM_TEST_PG_URL) return;
    await dropDatabases(run).catch((e: Error) => process.stderr.write(`test databases not dropped: ${e.message}\n`));
  };
}

async function dropDatabases(run: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.OPENCLM_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test" });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname like $1", [`${PREFIX}%`]);
    const now = Date.now() / 1000;
    for (const { datname } of rows) {
      const m = /^openclm_t_([0-9a-z]+)_[0-9a-f]{4}_/.exec(datname);
      const mine = datname.startsWith(`${PREFIX}${run}_`);
      const stale = m && now - parseInt(m[1]!, 36) > STALE_SECONDS;
      if (mine || stale) await client.query(`drop database if exists "${datname}" with (force)`);
    }
  } finally {
    await client.end();
  }
}
