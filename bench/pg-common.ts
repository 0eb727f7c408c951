// Shared by bench/seed.ts and bench/pg-lists.ts: arguments, the PostgreSQL database, and an
// `openclm serve` process on it. Only node built-ins, pg and yaml: the bench runs compiled JS
// against dist/, exactly what a deployment runs.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import pg from "pg";
import { parse, stringify } from "yaml";

/** The repository root: the nearest directory above this file holding dist/cli/main.js. */
export const REPO = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, "dist/cli/main.js")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
export const CLI = join(REPO, "dist/cli/main.js");
export const VPN = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
export const LOGON = "5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d";

export interface BenchOptions {
  database: string;
  dataDir: string;
  cards: number;
  fresh: boolean;
  users: number;
  rounds: number;
  concurrency: number[];
  processes: number;
}

export function parseArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = {
    database: process.env.OPENCLM_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/openclm_bench",
    dataDir: "/tmp/openclm-bench-pg",
    cards: 1_000_000,
    fresh: false,
    users: 100,
    rounds: 20,
    concurrency: [1, 8],
    processes: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? "";
    switch (flag) {
      case "--database":
        o.database = value();
        break;
      case "--data-dir":
        o.dataDir = resolve(value());
        break;
      case "--cards":
        o.cards = Number(value());
        break;
      case "--fresh":
        o.fresh = true;
        break;
      case "--users":
        o.users = Number(value());
        break;
      case "--rounds":
        o.rounds = Number(value());
        break;
      case "--concurrency":
        o.concurrency = value().split(",").map(Number);
        break;
      case "--processes":
        o.processes = Number(value());
        break;
      default:
        throw new Error(`unknown argument ${argv[i]} (--database URL --data-dir DIR --cards N --fresh --users N --rounds N --concurrency 1,8 --processes N)`);
    }
  }
  if (!Number.isInteger(o.cards) || o.cards < 10) throw new Error("--cards: an integer of at least 10");
  return o;
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Creates the database when missing (dropping it first with `fresh`). */
export async function ensureDatabase(url: string, fresh: boolean): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name "${name}": letters, digits and _ only`);
  u.pathname = "/postgres";
  u.search = "";
  const admin = await connect(u.toString());
  try {
    if (fresh) await admin.query(`drop database if exists "${name}" with (force)`);
    const { rowCount } = await admin.query("select 1 from pg_database where datname = $1", [name]);
    if (!rowCount) await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
}

/**
 * The demo configuration with the Basic-auth cache kept for 10 minutes instead of 1, so that a
 * benchmark run measures listing, not the (deliberately slow) scrypt check of each user's first call.
 */
export function benchConfig(dataDir: string): string {
  const config = parse(readFileSync(join(REPO, "config/demo.yaml"), "utf8"));
  config.auth.basic.cacheTtlSeconds = 600;
  const file = join(dataDir, "bench.yaml");
  writeFileSync(file, stringify(config, { aliasDuplicateObjects: false }));
  return file;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `openclm serve` on the database, as an operator runs it; resolves when it listens. */
export async function startServer(o: BenchOptions, index = 0): Promise<ServerProcess> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const config = benchConfig(o.dataDir);
  const log = createWriteStream(join(o.dataDir, `server-${index}.log`), { flags: "a" });
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--config", config, "--data-dir", o.dataDir, "--listen", "127.0.0.1:0", "--database", o.database],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } },
  );
  child.stderr!.pipe(log);
  const url = await new Promise<string>((res, rej) => {
    let buf = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      buf += chunk.toString();
      const m = /listening on (https?:\/\/\S+)/.exec(buf);
      if (m) res(m[1]!);
    });
    child.once("exit", (code) => rej(new Error(`openclm serve exited with ${code}; see ${join(o.dataDir, `server-${index}.log`)}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res();
        child.once("exit", () => res());
        child.kill("SIGTERM");
      }),
  };
}

export function elapsed(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}
