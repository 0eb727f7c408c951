import type { CompiledQuery, QueryResult } from "kysely";
import type { SqliteGroupCommit } from "./sqlite-group-commit.js";

/**
 * Runs compiled statements on SQLite directly, as kysely's driver would, without its connection
 * queue: each statement passed through five promise-returning layers and a mutex, about 8 µs per
 * statement of the 60 or so of an enrollment, more than some of the statements themselves cost.
 *
 * The queue is what keeps a statement out of another request's running transaction.
 * better-sqlite3 runs a statement to its end synchronously, so a statement may skip the queue when
 * it belongs to the running transaction (`owner`, set by Store.tx while its callback runs), and a
 * statement of no transaction may while no transaction runs (SqliteGroupCommit.runOutside).
 * Otherwise `run` answers undefined and the caller queues.
 */
export class SqliteDirect {
  /** The kysely transaction whose callback is running, if any. */
  owner?: object;

  constructor(readonly group: SqliteGroupCommit) {}

  run<R>(query: CompiledQuery<R>, caller: { readonly isTransaction: boolean }): QueryResult<R> | Promise<QueryResult<R>> | undefined {
    if (!caller.isTransaction) return this.group.runOutside(query);
    return this.owner === caller ? this.group.runInside(query) : undefined;
  }
}
