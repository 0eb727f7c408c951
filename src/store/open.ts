import { Kysely, Migrator, SqliteDialect, PostgresDialect } from "kysely";
import { mkdirSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Database } from "./schema.js";
import { migrationProvider } from "./migrations.js";
import { Store } from "./store.js";

export interface OpenOptions {
  /** `sqlite:<path>` (relative to dataDir) or `postgres://…`. */
  url: string;
  dataDir: string;
  /** PostgreSQL search_path schema (tests use one per run). */
  pgSchema?: string;
}

/** Opens the database named by url, runs pending migrations, and returns the Store. */
export async function openStore(opts: OpenOptions): Promise<Store> {
  const store = opts.url.startsWith("postgres") ? await openPostgres(opts) : await openSqlite(opts);
  const migrator = new Migrator({
    db: store.db,
    provider: migrationProvider({ engine: store.engine, blob: store.engine === "postgres" ? "bytea" : "blob" }),
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await store.close();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return store;
}

async function openSqlite(opts: OpenOptions): Promise<Store> {
  const { default: BetterSqlite3 } = await import("better-sqlite3");
  const rel = opts.url.replace(/^sqlite:(\/\/)?/, "");
  const file = isAbsolute(rel) ? rel : resolve(opts.dataDir, rel);
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return new Store(db, "sqlite", async () => {
    await db.destroy();
  });
}

async function openPostgres(opts: OpenOptions): Promise<Store> {
  const pg = await import("pg");
  // BIGINT counters come back as strings by default; they stay far below 2^53.
  pg.default.types.setTypeParser(20, (v: string) => Number(v));
  const pool = new pg.default.Pool({
    connectionString: opts.url,
    max: 10,
    statement_timeout: 10_000,
    options: opts.pgSchema ? `-c search_path=${opts.pgSchema}` : undefined,
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new Store(db, "postgres", async () => {
    await db.destroy();
  });
}
