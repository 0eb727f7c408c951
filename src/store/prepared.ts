import type { Compilable, CompiledQuery, Kysely, QueryResult } from "kysely";
import type { Engine } from "./store.js";
import type { Database } from "./schema.js";
import { ANSWER_NOT_NEEDED } from "./pg-held-back.js";

/** Where a compiled statement runs: the Store (its connection or transaction). */
export interface Runner {
  readonly db: Kysely<Database>;
  readonly engine: Engine;
  runCompiled<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

/**
 * A statement kysely builds and compiles once per SQL dialect, then runs with new arguments.
 * Building and compiling the same few statements again on every call was about a seventh of the
 * server's CPU under load. While building, each argument is a marker string; afterwards the
 * markers in the compiled parameters are replaced, by position, with the caller's values.
 */
export class Prepared<R, A extends unknown[]> {
  private readonly byEngine = new Map<Engine, { compiled: CompiledQuery<R>; slots: number[] }>();

  /**
   * `answerNotNeeded`: the caller reads nothing of the answer, so inside a PostgreSQL transaction
   * the statement may wait to be written with the next one (pg-held-back.ts); its error, if any,
   * then fails that next statement or the COMMIT.
   */
  constructor(
    private readonly build: (db: Kysely<Database>, arg: <I extends number>(i: I) => A[I]) => Compilable<R>,
    private readonly opts: { answerNotNeeded?: boolean } = {},
  ) {}

  execute(runner: Runner, ...args: A): Promise<QueryResult<R>> {
    return runner.runCompiled<R>(this.compile(runner, ...args));
  }

  /** The statement with these arguments, for the runner's engine, not run yet. */
  compile(runner: Runner, ...args: A): CompiledQuery<R> {
    let entry = this.byEngine.get(runner.engine);
    if (!entry) {
      let compiled = this.build(runner.db, marker).compile();
      if (this.opts.answerNotNeeded && runner.engine === "postgres") compiled = { ...compiled, sql: ANSWER_NOT_NEEDED + compiled.sql };
      const slots = compiled.parameters.map((p) => (typeof p === "string" && p.startsWith(MARK) ? Number(p.slice(MARK.length)) : -1));
      entry = { compiled, slots };
      this.byEngine.set(runner.engine, entry);
    }
    const { compiled, slots } = entry;
    const parameters = compiled.parameters.map((p, i) => (slots[i]! >= 0 ? args[slots[i]!] : p));
    return { ...compiled, parameters };
  }

  async first(runner: Runner, ...args: A): Promise<R | undefined> {
    return (await this.execute(runner, ...args)).rows[0];
  }

  async all(runner: Runner, ...args: A): Promise<R[]> {
    return (await this.execute(runner, ...args)).rows;
  }
}

// No value the server stores starts with a NUL character.
const MARK = "\u0000openclm-arg:";
const marker = <T>(i: number): T => `${MARK}${i}` as T;
