import type { CompiledQuery, QueryResult } from "kysely";
import type { Database as BetterSqlite3 } from "better-sqlite3";

/**
 * Runs compiled statements on the SQLite connection directly, as kysely's SQLite driver would,
 * without its connection queue: each statement passed through five promise-returning layers and a
 * mutex, about 8 µs per statement of the 60 or so of an enrollment, more than some of the
 * statements themselves cost.
 *
 * SQLite has one connection, and kysely's queue is what keeps a statement from running inside
 * another request's open transaction. better-sqlite3 runs a statement to its end synchronously, so
 * a statement may skip the queue exactly when no transaction is open (it runs on its own, as it
 * would have in the queue's turn) or when the open transaction is the caller's own (`owner`, set by
 * Store.tx while its callback runs). Otherwise `run` answers undefined and the caller queues.
 */
export class SqliteDirect {
  /** The kysely transaction whose callback is running, if any. */
  owner?: object;

  constructor(private readonly sqlite: BetterSqlite3) {}

  run<R>(query: CompiledQuery<R>, caller: object): QueryResult<R> | undefined {
    if (this.owner === undefined ? this.sqlite.inTransaction : this.owner !== caller) return undefined;
    const statement = this.sqlite.prepare(query.sql);
    const parameters = query.parameters as unknown[];
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }
}
