import { Kysely, Migrator, PostgresDialect } from "kysely";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { Database } from "./schema.js";
import { migrationProvider } from "./migrations.js";
import { Store } from "./store.js";
import { startCheckpointer, WRITER_AUTOCHECKPOINT_PAGES } from "./sqlite-checkpointer.js";
import { SqliteDirect } from "./sqlite-direct.js";
import { DIRECTORY_CHANNEL, PgChangeListener } from "./pg-change-listener.js";
import { holdBackStatements, writeTogether, type Query } from "./pg-held-back.js";
import { GroupCommitSqliteDialect, SqliteGroupCommit } from "./sqlite-group-commit.js";
import { WalFlusher } from "./sqlite-wal-flush.js";
import { makeDirectory, syncDirectory } from "../sync-directory.js";

export interface OpenOptions {
  /** `sqlite:<path>` (relative to dataDir) or `postgres://…`. */
  url: string;
  dataDir: string;
  /** PostgreSQL search_path schema (tests use one per run). */
  pgSchema?: string;
  /** Errors of idle pooled connections (the database restarted, a network cut); never thrown. */
  onBackgroundError?: (err: Error) => void;
  /**
   * PostgreSQL: listen for other processes' directory changes on a connection of its own, so the
   * directory version (cached logins, users by id) is read only when one is announced. For server
   * processes; short-lived users of the store (the admin CLI) read the version each time instead.
   */
  listenForDirectoryChanges?: boolean;
}

/** Defaults for PostgreSQL; each can be overridden in the URL's query string. */
export const PG_DEFAULTS = {
  /** Connections per server process (`?pool_max=`, at least 2). Several processes share max_connections. */
  poolMax: 10,
  /** A statement (including its lock waits) longer than this is cancelled (`?statement_timeout=` ms). */
  statementTimeoutMs: 10_000,
  /** A transaction left idle this long (a stalled process) is ended so its locks go (ms). */
  idleInTransactionTimeoutMs: 60_000,
  /** Waiting this long for a free pooled connection fails the request instead of queueing forever (ms). */
  connectTimeoutMs: 10_000,
};

/** Opens the database named by url, runs pending migrations, and returns the Store. */
export async function openStore(opts: OpenOptions): Promise<Store> {
  const store = isPostgresUrl(opts.url) ? await openPostgres(opts) : await openSqlite(opts);
  try {
    // Two processes starting on an empty PostgreSQL database would both create the migration
    // tables; the lock makes the second wait and then find nothing to do.
    await store.exclusive("migrations", async () => {
      const migrator = new Migrator({
        db: store.db,
        provider: migrationProvider({ engine: store.engine, blob: store.engine === "postgres" ? "bytea" : "blob" }),
      });
      const { error } = await migrator.migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error(String(error));
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

async function openSqlite(opts: OpenOptions): Promise<Store> {
  const { default: BetterSqlite3 } = await import("better-sqlite3");
  const rel = opts.url.replace(/^sqlite:(\/\/)?/, "");
  const file = isAbsolute(rel) ? rel : resolve(opts.dataDir, rel);
  makeDirectory(dirname(file));
  // Password hashes and sealed keys live here: owner-only, and the WAL files inherit the mode.
  const created = !existsSync(file);
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600);
  const sqlite = new BetterSqlite3(file);
  cacheStatements(sqlite);
  sqlite.pragma("journal_mode = WAL");
  // Commits are written by SQLite and synced by the WalFlusher, off the event loop.
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  // Each transaction is a SAVEPOINT in a batch (sqlite-group-commit.ts), so SQLite keeps the
  // original of every page the batch changes, for ROLLBACK TO; past 64 KiB it spilled them into
  // an unlinked file in /var/tmp: under enrollment load one file per ~2 enrollments and a fifth of
  // the server's write() calls, and rows with sealed keys and password hashes on disk outside
  // the database. In memory they stay as small as a batch.
  sqlite.pragma("temp_store = MEMORY");
  sqlite.pragma(`wal_autocheckpoint = ${WRITER_AUTOCHECKPOINT_PAGES}`);
  // After the writer's checkpoint lets the WAL start over, its file is cut back to this size.
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  // A new database file's name, which nothing else syncs (SQLite syncs the file's data, at checkpoints).
  if (created) syncDirectory(dirname(file));
  const group = new SqliteGroupCommit(sqlite, new WalFlusher(`${file}-wal`));
  const checkpointer = startCheckpointer(file);
  const db = new Kysely<Database>({ dialect: new GroupCommitSqliteDialect({ database: sqlite }, group) });
  const store = new Store(db, "sqlite", async () => {
    await checkpointer.stop();
    await db.destroy();
  });
  store.outsideChanges = () => group.dataVersion();
  store.direct = new SqliteDirect(group);
  return store;
}

/**
 * Kysely prepares every query it runs; compiling the same SQL again each time was a tenth of the
 * server's CPU under load. better-sqlite3 statements are reusable, so keep them by their text.
 */
function cacheStatements(sqlite: import("better-sqlite3").Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, ReturnType<typeof prepare>>();
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      if (cache.size >= 1000) cache.clear();
      statement = prepare(source);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

async function openPostgres(opts: OpenOptions): Promise<Store> {
  const pg = (await import("pg")).default;
  const url = new URL(opts.url);
  const poolMax = takeIntParam(url, "pool_max", PG_DEFAULTS.poolMax, 2, 1000);
  const statementTimeout = takeIntParam(url, "statement_timeout", PG_DEFAULTS.statementTimeoutMs, 0, 3_600_000);
  const idleTimeout = takeIntParam(url, "idle_in_transaction_session_timeout", PG_DEFAULTS.idleInTransactionTimeoutMs, 0, 3_600_000);
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: poolMax,
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: idleTimeout,
    connectionTimeoutMillis: PG_DEFAULTS.connectTimeoutMs,
    keepAlive: true,
    application_name: "openclm",
    options: opts.pgSchema ? `-c search_path=${opts.pgSchema}` : undefined,
    // Queries are written without waiting for the answer to the one before: only what is held
    // back (pg-held-back.ts) ever has one behind it, as kysely awaits each statement.
    pipeline: true,
    // BIGINT (counters, CRL numbers, audit sequence) arrives as text; the values stay far below 2^53.
    // Per pool rather than pg.types.setTypeParser, so other pg users in the process are unaffected.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle pooled connection that dies emits 'error' on the pool; unhandled, it would kill the process.
  pool.on("error", (err) => opts.onBackgroundError?.(err));
  pool.on("connect", (client) => wrapQueries(client));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await db.connection().execute(async (c) => void (await c.selectNoFrom((eb) => eb.lit(1).as("one")).execute()));
  } catch (e) {
    await db.destroy().catch(() => {});
    throw new Error(`cannot connect to PostgreSQL at ${redact(url)}: ${(e as Error).message}`);
  }
  // One more connection per server process, idle but for notifications: what this process cached
  // of the directory stays valid without a read on every request.
  const listener = opts.listenForDirectoryChanges
    ? new PgChangeListener(
        () => new pg.Client({ connectionString: url.toString(), keepAlive: true, application_name: "openclm-listener", connectionTimeoutMillis: PG_DEFAULTS.connectTimeoutMs }),
        DIRECTORY_CHANNEL,
        opts.onBackgroundError,
      )
    : undefined;
  const store = new Store(db, "postgres", async () => {
    await listener?.close();
    await db.destroy();
  });
  if (listener) {
    void listener.start();
    store.outsideChanges = () => listener.changes();
  }
  return store;
}

/**
 * PostgreSQL parses and plans an unnamed statement every time it runs. The server runs the same
 * few dozen statements over and over, so each connection keeps them prepared by a name derived
 * from their text: planned once per connection instead of once per call. Statements with long
 * parameter lists (batch deletes, IN lists of varying length) stay unnamed, so the set stays small.
 */
function prepareStatements(query: Query): Query {
  return (text, values, callback) => {
    if (typeof text !== "string" || !Array.isArray(values) || values.length > MAX_NAMED_PARAMETERS || typeof callback === "function" || !DML.test(text))
      return query(text, values, callback);
    return query({ name: statementName(text), text, values }).catch((e: { code?: string }) => {
      // A table changed under a prepared `select *` (another process migrated): run it afresh.
      if (e?.code === "0A000") return query(text, values);
      throw e;
    });
  };
}

function wrapQueries(client: import("pg").PoolClient): void {
  const query = client.query.bind(client) as Query;
  const stream = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  (client as { query: unknown }).query = writeTogether(stream, holdBackStatements(prepareStatements(query)));
}

const MAX_NAMED_PARAMETERS = 32;
const DML = /^\s*(select|insert|update|delete|with)\b/i;
const statementNames = new Map<string, string>();

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    if (statementNames.size >= 2000) statementNames.clear();
    name = `openclm_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Removes an OpenCLM setting from the URL's query string (pg would otherwise pass it on). */
function takeIntParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const text = url.searchParams.get(name);
  if (text === null) return fallback;
  url.searchParams.delete(name);
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`database URL: ${name} must be an integer from ${min} to ${max}`);
  return n;
}

function redact(url: URL): string {
  const u = new URL(url.toString());
  if (u.password) u.password = "***";
  u.search = "";
  return u.toString();
}
