#!/usr/bin/env node
// `npm test`: the whole suite on SQLite, then — when OPENCLM_TEST_PG_URL names a PostgreSQL
// server — every test file that runs on the pass's engine (it imports test/helpers/server.js, or
// opens its Store with storeOfThisPass from test/helpers/store.js) again on PostgreSQL, plus
// test/pg (several processes on one database). Extra arguments are vitest file filters for both passes.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const repo = join(import.meta.dirname, "..");
const vitest = join(repo, "node_modules", "vitest", "vitest.mjs");
const filters = process.argv.slice(2);
const pgUrl = process.env.OPENCLM_TEST_PG_URL;

/** Test files that run on the pass's engine (test/helpers/server.ts, or storeOfThisPass), and test/pg. */
function serverTests(dir = join(repo, "test")) {
  const found = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) found.push(...serverTests(path));
    else if (e.name.endsWith(".test.ts")) {
      const file = relative(repo, path);
      if (file.startsWith("test/pg/") || /helpers\/server\.js["']|storeOfThisPass\(/.test(readFileSync(path, "utf8"))) found.push(file);
    }
  }
  return found.sort();
}

function pass(label, env, args) {
  process.stdout.write(`\n== ${label}\n`);
  const r = spawnSync(process.execPath, [vitest, "run", ...args], { cwd: repo, stdio: "inherit", env: { ...process.env, ...env } });
  return r.status === 0;
}

// With a PostgreSQL URL, test/pg runs in the PostgreSQL pass only; without one it stays in the
// SQLite pass, where its tests report themselves skipped and say why.
const sqliteOk = pass("SQLite", { OPENCLM_TEST_ENGINE: "sqlite" }, [...filters, ...(pgUrl ? ["--exclude", "test/pg/**"] : [])]);
let pgOk = true;
if (pgUrl) pgOk = pass(`PostgreSQL (${new URL(pgUrl).host})`, { OPENCLM_TEST_ENGINE: "postgres" }, filters.length ? filters : serverTests());
else process.stdout.write("\n== PostgreSQL: skipped (set OPENCLM_TEST_PG_URL, e.g. postgres://postgres@127.0.0.1:5432/test)\n");
process.exit(sqliteOk && pgOk ? 0 : 1);
