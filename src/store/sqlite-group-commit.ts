import type { Database as BetterSqlite3 } from "better-sqlite3";
import type { WalFlusher } from "./sqlite-wal-flush.js";
import {
  SqliteDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
  type TransactionSettings,
} from "kysely";

/** What the other transactions of a batch get when an error in one made SQLite roll back them all. */
const BATCH_LOST = () => new Error("the database rolled back this transaction with others committing beside it, after an error in one of them");

/**
 * Group commit for SQLite. A commit writes every page the transaction changed to the WAL, two
 * write() calls per page, and a statement outside a transaction takes and drops the WAL-index read
 * lock with two fcntl() calls: a large part of the database's cost per API call was these system
 * calls. So the server's transactions share commits: the first one opens a write
 * transaction (a batch) on the server's connection and runs inside it as a SAVEPOINT, and so do
 * the ones that follow while it is open; the batch commits once per event-loop turn, as soon as no
 * transaction is running. Nothing is answered before it is durable: a transaction's caller (and
 * its after-commit work) waits for its batch's commit and for the WAL's sync after it
 * (sqlite-wal-flush.ts), and a failed commit or sync fails every transaction in it.
 *
 * A statement outside a transaction runs inside the open batch too, if there is one, and resolves
 * once that batch is durable, since it may have read what is not yet. With no batch open it
 * waits for the sync still running or asked for, if any (it may have read commits that sync
 * covers), and a write, committed by itself, for a sync of its own. (A second, read-only
 * connection for such reads measured slower: every commit empties its page cache.)
 * Transactions still run one at a time (kysely's connection queue); a statement may skip that
 * queue (SqliteDirect) where this class says so.
 */
export class SqliteGroupCommit {
  /** A transaction is running (its SAVEPOINT is open): statements not of that transaction wait. */
  inTransaction = false;
  private batch?: Batch;
  /** The open batch should commit when the running transaction ends. */
  private commitWanted = false;
  /** What the running transaction asked to run before the batch's COMMIT (see beforeCommit). */
  private readonly transactionBeforeCommit = new Map<string, CompiledQuery>();
  /** What the running transaction asked to run right after its RELEASE (see whenReleased). */
  private onRelease?: () => void;
  /** Commits so far, and the transactions they carried (for tests and metrics). */
  readonly stats = { commits: 0, transactions: 0, failures: 0 };

  /** Transaction control, prepared once (exec() would parse it every time). */
  private readonly control: Record<"begin" | "savepoint" | "release" | "rollbackTo" | "commit" | "rollback", { run(): unknown }>;
  private readonly dataVersionPragma: { get(): unknown };

  constructor(
    private readonly writer: BetterSqlite3,
    /** Syncs the WAL after each commit; the batch is durable once it has. */
    readonly wal: WalFlusher,
  ) {
    this.control = {
      // IMMEDIATE: the write lock now, not at the first write, where another process holding it
      // would make SQLite give up without waiting.
      begin: writer.prepare("BEGIN IMMEDIATE"),
      savepoint: writer.prepare("SAVEPOINT openclm_tx"),
      release: writer.prepare("RELEASE openclm_tx"),
      rollbackTo: writer.prepare("ROLLBACK TO openclm_tx"),
      commit: writer.prepare("COMMIT"),
      rollback: writer.prepare("ROLLBACK"),
    };
    this.dataVersionPragma = writer.prepare("PRAGMA data_version").pluck();
  }

  /**
   * PRAGMA data_version of the server's connection: it moves when another connection commits.
   * While a batch is open this connection holds the write lock, so no other connection can
   * commit, and the pragma would answer from the batch's snapshot anyway: the value read first
   * in a batch is the batch's, and later calls (each authenticated request makes one) skip SQLite.
   */
  dataVersion(): number {
    const batch = this.batch;
    if (batch && this.writer.inTransaction) return (batch.dataVersion ??= this.dataVersionPragma.get() as number);
    return this.dataVersionPragma.get() as number;
  }

  /** Starts a transaction: opens a batch if none is open, then a SAVEPOINT inside it. */
  begin(): void {
    if (this.batch && !this.writer.inTransaction) {
      // SQLite rolled the whole batch back itself (an I/O error, a full disk): nothing in it holds.
      this.fail(this.batch, BATCH_LOST());
    }
    if (!this.batch) {
      this.control.begin.run();
      const batch = new Batch();
      this.batch = batch;
      setImmediate(() => this.commitSoon(batch));
    }
    this.control.savepoint.run();
    this.inTransaction = true;
    this.onRelease = undefined;
    this.transactionBeforeCommit.clear();
  }

  /**
   * Runs fn right after the running transaction's RELEASE, before any other transaction can begin;
   * dropped if it rolls back. fn must not throw (it runs inside kysely's commit).
   */
  whenReleased(fn: () => void): void {
    this.onRelease = fn;
  }

  /** Ends the running transaction; answers the batch whose commit makes it durable. */
  release(): Batch {
    const batch = this.batch!;
    this.control.release.run();
    this.inTransaction = false;
    batch.transactions++;
    for (const [key, statement] of this.transactionBeforeCommit) batch.beforeCommit.set(key, statement);
    this.transactionBeforeCommit.clear();
    const released = this.onRelease;
    this.onRelease = undefined;
    released?.();
    if (this.commitWanted) this.commit(batch);
    return batch;
  }

  /** Undoes the running transaction, leaving the rest of its batch as it was. */
  rollback(): void {
    this.inTransaction = false;
    this.onRelease = undefined;
    this.transactionBeforeCommit.clear();
    const batch = this.batch;
    if (!batch) return;
    if (!this.writer.inTransaction) {
      this.fail(batch, BATCH_LOST());
      return;
    }
    this.control.rollbackTo.run();
    this.control.release.run();
    if (this.commitWanted) this.commit(batch);
  }

  /**
   * For the running transaction: runs `statement` in its batch just before the COMMIT, if the
   * transaction is released (dropped if it rolls back); a later statement under the same key
   * replaces it. For state that the batch's last transaction decides (the audit chain's head):
   * written once per commit instead of once per transaction. If it fails, the batch fails.
   * Answers false when no transaction is running.
   */
  beforeCommit(key: string, statement: CompiledQuery): boolean {
    if (!this.inTransaction) return false;
    this.transactionBeforeCommit.set(key, statement);
    return true;
  }

  /** The batch the running transaction belongs to. */
  get current(): Batch | undefined {
    return this.batch;
  }

  /**
   * Runs a statement that belongs to no transaction, resolving once what it read or wrote is
   * durable: inside the open batch, it may have seen (or added to) what that batch has not yet
   * committed. Undefined while a transaction runs (the statement would be inside it): the caller queues.
   */
  runOutside<R>(query: CompiledQuery<R>): QueryResult<R> | Promise<QueryResult<R>> | undefined {
    if (this.inTransaction) return undefined;
    const batch = this.batch;
    const statement = this.writer.prepare(query.sql);
    const result = runPrepared(statement, query);
    if (batch) return batch.durable.then(() => result);
    const wait = statement.readonly ? this.wal.pending : this.wal.flush();
    return wait ? wait.then(() => result) : result;
  }

  /** A statement of the running transaction. */
  runInside<R>(query: CompiledQuery<R>): QueryResult<R> {
    return runOn(this.writer, query);
  }

  /**
   * Closing the database: commits what is open, or fails it if a transaction is still running;
   * resolves once the syncs asked for are done.
   */
  async close(): Promise<void> {
    const batch = this.batch;
    if (batch && !this.inTransaction) this.commit(batch);
    else if (batch) this.fail(batch, new Error("the database was closed before this transaction committed"));
    await this.wal.close();
  }

  private commitSoon(batch: Batch): void {
    if (this.batch !== batch) return;
    // While the WAL is being synced, the batch's own sync could not start anyway: it stays open
    // and commits when that sync ends, carrying what came meanwhile. Without this, commits got
    // smaller as syncs woke the event loop (1.8 instead of 2.4 transactions each), and each
    // needed its own sync.
    const syncing = this.wal.pending;
    if (syncing) {
      const retry = () => this.commitSoon(batch);
      syncing.then(retry, retry);
      return;
    }
    if (this.inTransaction) this.commitWanted = true;
    else this.commit(batch);
  }

  private commit(batch: Batch): void {
    this.commitWanted = false;
    if (this.batch !== batch) return;
    if (!this.writer.inTransaction) {
      this.fail(batch, BATCH_LOST());
      return;
    }
    this.batch = undefined;
    try {
      for (const statement of batch.beforeCommit.values()) runOn(this.writer, statement);
      this.control.commit.run();
    } catch (e) {
      if (this.writer.inTransaction) this.control.rollback.run();
      this.fail(batch, e as Error);
      return;
    }
    this.stats.commits++;
    this.stats.transactions += batch.transactions;
    this.wal.flush().then(
      () => batch.settle(),
      (e: Error) => {
        this.stats.failures++;
        batch.settle(e);
      },
    );
  }

  private fail(batch: Batch, err: Error): void {
    if (this.batch === batch) this.batch = undefined;
    this.commitWanted = false;
    this.stats.failures++;
    batch.settle(err);
  }
}

/** Transactions that commit together. */
export class Batch {
  transactions = 0;
  /** PRAGMA data_version as read inside this batch (SqliteGroupCommit.dataVersion). */
  dataVersion?: number;
  /** Statements to run right before this batch's COMMIT (SqliteGroupCommit.beforeCommit). */
  readonly beforeCommit = new Map<string, CompiledQuery>();
  readonly durable: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;

  constructor() {
    this.durable = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // A batch nobody waits for (its transactions all rolled back) may fail unobserved.
    this.durable.catch(() => {});
  }

  settle(err?: Error): void {
    if (err) this.reject(err);
    else this.resolve();
  }
}

function runOn<R>(sqlite: BetterSqlite3, query: CompiledQuery<R>): QueryResult<R> {
  return runPrepared(sqlite.prepare(query.sql), query);
}

function runPrepared<R>(statement: Statement, query: CompiledQuery<R>): QueryResult<R> {
  const parameters = query.parameters as unknown[];
  if (statement.reader) return { rows: rowsOf(statement, parameters) as R[] };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
}

type Statement = ReturnType<BetterSqlite3["prepare"]>;
interface RowMaker {
  columns: number;
  make: (values: unknown[]) => unknown;
}
const rowMakers = new WeakMap<Statement, RowMaker>();

/**
 * A reader's rows as objects keyed by column name, as better-sqlite3 would make them, but built
 * from its raw arrays by a function made once per statement: better-sqlite3 looks up every column
 * name again for every row it makes (2.4 µs of 5.6 for a request row, in a loop). The statements
 * this runs are the server's own; the column list is read again if SQLite ever gives a row of
 * another length (a statement prepared again after a migration added a column).
 */
function rowsOf(statement: Statement, parameters: unknown[]): unknown[] {
  let maker = rowMakers.get(statement);
  if (!maker) {
    statement.raw(true);
    maker = rowMakerFor(statement);
    rowMakers.set(statement, maker);
  }
  const rows = statement.all(parameters) as unknown[][];
  if (rows.length === 0) return rows;
  if (rows[0]!.length !== maker.columns) {
    maker = rowMakerFor(statement);
    rowMakers.set(statement, maker);
  }
  for (let i = 0; i < rows.length; i++) (rows as unknown[])[i] = maker.make(rows[i]!);
  return rows;
}

function rowMakerFor(statement: Statement): RowMaker {
  const names = statement.columns().map((c) => c.name);
  // An object literal with the names as computed keys: each row gets the same hidden class, and
  // a name such as "__proto__" is an own property, as in better-sqlite3's objects. A later
  // column of the same name wins, as there.
  const body = `return {${names.map((n, i) => `[${JSON.stringify(n)}]: v[${i}]`).join(",")}};`;
  return { columns: names.length, make: new Function("v", body) as RowMaker["make"] };
}

/**
 * kysely's SQLite dialect with its transactions run by SqliteGroupCommit: BEGIN, COMMIT and
 * ROLLBACK become a SAVEPOINT in the open batch, its RELEASE, and ROLLBACK TO. kysely's own
 * driver still provides the connection queue.
 */
export class GroupCommitSqliteDialect extends SqliteDialect {
  constructor(
    config: SqliteDialectConfig,
    private readonly group: SqliteGroupCommit,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new GroupCommitDriver(super.createDriver(), this.group);
  }
}

class GroupCommitDriver implements Driver {
  private readonly connection: DatabaseConnection;

  constructor(
    private readonly inner: Driver,
    private readonly group: SqliteGroupCommit,
  ) {
    this.connection = {
      executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        try {
          const g = this.group;
          // The queue is ours: either the running transaction's statement, or one of none while none runs.
          return Promise.resolve((g.inTransaction ? g.runInside(query) : g.runOutside(query)!) as QueryResult<R> | Promise<QueryResult<R>>);
        } catch (e) {
          return Promise.reject(e);
        }
      },
      streamQuery: () => {
        throw new Error("streaming queries are not supported on SQLite");
      },
    };
  }

  init(): Promise<void> {
    return this.inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.inner.acquireConnection();
    return this.connection;
  }
  async beginTransaction(_c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    if (settings.isolationLevel || settings.accessMode) throw new Error("SQLite transactions take no isolation level or access mode");
    this.group.begin();
  }
  async commitTransaction(): Promise<void> {
    this.group.release();
  }
  async rollbackTransaction(): Promise<void> {
    this.group.rollback();
  }
  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(c);
  }
  async destroy(): Promise<void> {
    await this.group.close();
    await this.inner.destroy();
  }
}
