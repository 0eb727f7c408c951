// The storage layer: one set of repositories written against Kysely, run on either engine.
// Engine differences (row locks, binary types, pool) stay in open.ts and the `engine` flag.
import { sql, type Compilable, type CompiledQuery, type QueryResult, type Kysely, type Selectable, type Insertable, type Updateable, type Transaction } from "kysely";
import type {
  Database,
  UsersTable,
  RequestsTable,
  SmartcardsTable,
  ProfilesTable,
  CertificatesTable,
  AuditEventsTable,
  AuditPendingTable,
  AuditRecordColumns,
} from "./schema.js";
import { SessionStore } from "./sessions.js";
import { Prepared, type Runner } from "./prepared.js";
import { ANSWER_NOT_NEEDED } from "./pg-held-back.js";
import type { SqliteDirect } from "./sqlite-direct.js";
import type { Batch } from "./sqlite-group-commit.js";

export type Engine = "sqlite" | "postgres";
/** The audit chain's head as two counters: the last sequence number, and its hash's first bits. */
export interface AuditHead {
  seqCounter: string;
  seq: number;
  hashCounter: string;
  hashValue: number;
}
export type UserRow = Selectable<UsersTable>;
export type RequestRow = Selectable<RequestsTable>;
export type SmartcardRow = Selectable<SmartcardsTable>;
export type ProfileRow = Selectable<ProfilesTable>;
export type CertificateRow = Selectable<CertificatesTable>;
export type AuditRow = Selectable<AuditEventsTable>;
export type AuditPendingRow = Selectable<AuditPendingTable>;

/** Advisory lock keys (PostgreSQL): held by a connection of their own (`exclusive`)… */
export const LOCKS = { migrations: 7262010, startup: 7262011 } as const;
/** …and held until the end of a transaction (`lockTransaction`). */
export const TRANSACTION_LOCKS = { auditChain: 7262001, crlPublication: 7262002 } as const;

/** Pending, Approved, Executing: the states the partial indexes of open requests cover (migrations.ts). */
export const OPEN_REQUEST_STATUSES = [3, 16, 18] as const;

/** Counters: certificate status changes made, and how many of them the newest CRL covers. */
export const CRL_CHANGES = "crl_changes";
export const CRL_CHANGES_PUBLISHED = "crl_changes_published";
/** Counts every change to users and their groups, so caches of them can tell they are current. */
export const DIRECTORY_VERSION = "directory_version";
/** Users kept by userByUuid; the oldest read goes first. */
const USER_CACHE_SIZE = 10_000;

const TX_ATTEMPTS = 5;

/** The SQLSTATE of openclm_require (migration 0009): a change the transaction requires did not happen. */
export const REQUIRED_CHANGE_MISSING = "OC001";

/**
 * A required change (Store's …Required methods) did not happen, so nothing of its transaction was
 * kept; the caller finds out why the old way (requiredFirst).
 */
export class RequiredChangeMissing extends Error {
  constructor() {
    super("a change this transaction requires did not happen");
  }
}

/**
 * Runs `first`, a transaction written with required changes (one round trip on PostgreSQL); if
 * one did not hold, nothing of it was kept and `instead` runs: the same work statement by
 * statement, which finds out why and answers as the call always did.
 */
export function requiredFirst<T>(first: () => Promise<T>, instead: () => Promise<T>): Promise<T> {
  return first().catch((e: unknown) => {
    if (e instanceof RequiredChangeMissing) return instead();
    throw e;
  });
}

/** serialization_failure, deadlock_detected: the transaction was rolled back and may be run again. */
function isRetryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rethrows openclm_require's failure as RequiredChangeMissing, any other error as it is. */
function requiredChange(e: unknown): never {
  throw (e as { code?: unknown } | null)?.code === REQUIRED_CHANGE_MISSING ? new RequiredChangeMissing() : e;
}

export interface Page {
  top: number;
  skip: number;
}

// The statements nearly every API call runs, compiled once (prepared.ts).
/**
 * Counts one response release while under the bound and while the request is in one of two states,
 * and moves it to a third. `staying`: for a request in that third state already — the status is
 * then not written, so none of its indexes move. Arguments: uuid, bound, from, from, to, at, keyVersion.
 */
function responseRelease({ staying }: { staying: boolean }) {
  return new Prepared<never, [string, number, number, number, number, string, number | null]>((db, a) => {
    const q = db
      .updateTable("requests")
      .set({
        responses_released: sql`responses_released + 1`,
        ...(staying ? {} : { status: a(4) }),
        updated_at: sql`case when status = ${a(4)} and cast(${a(6)} as integer) is null then updated_at else ${a(5)} end`,
        new_key_version: sql`coalesce(cast(${a(6)} as integer), new_key_version)`,
      })
      .where("uuid", "=", a(0))
      .where("responses_released", "<", a(1))
      .where("status", "in", [a(2), a(3)]);
    return staying ? q.where("status", "=", a(4)) : q;
  });
}

const Q = {
  userByUuid: new Prepared<UserRow, [string]>((db, a) => db.selectFrom("users").selectAll().where("uuid", "=", a(0))),
  requestByUuid: new Prepared<RequestRow, [string]>((db, a) => db.selectFrom("requests").selectAll().where("uuid", "=", a(0))),
  requestByUuidForUpdate: new Prepared<RequestRow, [string]>((db, a) => db.selectFrom("requests").selectAll().where("uuid", "=", a(0)).forUpdate()),
  smartcardByUuid: new Prepared<SmartcardRow, [string]>((db, a) => db.selectFrom("smartcards").selectAll().where("uuid", "=", a(0))),
  smartcardByRequest: new Prepared<SmartcardRow, [string]>((db, a) => db.selectFrom("smartcards").selectAll().where("request_uuid", "=", a(0))),
  smartcardsByCardId: new Prepared<SmartcardRow, [string]>((db, a) =>
    db.selectFrom("smartcards").selectAll().where("card_id", "=", a(0)).orderBy("created_at", "desc"),
  ),
  certificatesOfRequest: new Prepared<CertificateRow, [string]>((db, a) =>
    db.selectFrom("certificates").selectAll().where("request_uuid", "=", a(0)).orderBy("created_at"),
  ),
  certificateCountOfRequest: new Prepared<{ n: number }, [string]>((db, a) =>
    db.selectFrom("certificates").select((eb) => eb.fn.countAll<number>().as("n")).where("request_uuid", "=", a(0)),
  ),
  // PostgreSQL only (openclm_require, migration 0009): Store.certificateCountAtLeastRequired.
  certificateCountAtLeast: new Prepared<never, [string, number]>(
    (db, a) => db.selectFrom("certificates").select(sql<boolean>`openclm_require(count(*) >= ${a(1)})`.as("ok")).where("request_uuid", "=", a(0)) as never,
    { answerNotNeeded: true },
  ),
  counterValue: new Prepared<{ value: number }, [string]>((db, a) => db.selectFrom("counters").select("value").where("name", "=", a(0))),
  lastAuditHash: new Prepared<{ hash: string }, []>((db) => db.selectFrom("audit_events").select("hash").orderBy("seq", "desc").limit(1)),
  approvalsOf: new Prepared<Selectable<Database["approvals"]>, [string]>((db, a) =>
    db.selectFrom("approvals").selectAll().where("request_uuid", "=", a(0)).orderBy("decided_at"),
  ),
  masterSecrets: new Prepared<{ version: number; sealed: Buffer }, [string]>((db, a) =>
    db.selectFrom("master_secrets").select(["version", "sealed"]).where("template_uuid", "=", a(0)).orderBy("version", "desc"),
  ),
  takeResponseRelease: new Prepared<never, [string, number]>((db, a) =>
    db
      .updateTable("requests")
      .set({ responses_released: sql`responses_released + 1` })
      .where("uuid", "=", a(0))
      .where("responses_released", "<", a(1)),
  ),
  // SQLite only. No RETURNING: seq is the rowid, which SQLite reports for every insert, and
  // RETURNING took 15 µs against 4 for the insert alone (a loop of 20,000 on this machine).
  insertAuditEvent: new Prepared<never, [...AuditValues, string, string]>((db, a) =>
    db.insertInto("audit_events").values({ ...auditColumns(a), prev_hash: a(10), hash: a(11) }),
  ),
  insertPendingAudit: new Prepared<never, AuditValues>((db, a) => db.insertInto("audit_pending").values(auditColumns(a)), { answerNotNeeded: true }),
  auditHashBefore: new Prepared<{ hash: string }, [number]>((db, a) =>
    db.selectFrom("audit_events").select("hash").where("seq", "<", a(0)).orderBy("seq", "desc").limit(1),
  ),
  relinkAudit: new Prepared<never, [number, string, string]>((db, a) => db.updateTable("audit_events").set({ prev_hash: a(1), hash: a(2) }).where("seq", "=", a(0))),
  takeResponseReleaseAndMove: responseRelease({ staying: false }),
  takeResponseReleaseStaying: responseRelease({ staying: true }),
  setTwoCounters: new Prepared<never, [string, number, string, number]>((db, a) =>
    db
      .insertInto("counters")
      .values([
        { name: a(0), value: a(1) },
        { name: a(2), value: a(3) },
      ])
      .onConflict((oc) => oc.column("name").doUpdateSet((eb) => ({ value: eb.ref("excluded.value") }))),
  ),
};

/**
 * Inserts and updates whose column set varies by call: compiled once per shape (which columns,
 * how many expected states), like the statements above. Undefined values are left out, as kysely does.
 */
const shapes = new Map<string, Prepared<never, unknown[]>>();
function byShape(
  key: string,
  build: (db: Kysely<Database>, a: <I extends number>(i: I) => unknown) => Compilable<never>,
  opts?: { answerNotNeeded?: boolean },
): Prepared<never, unknown[]> {
  let p = shapes.get(key);
  if (!p) {
    if (shapes.size >= 500) shapes.clear();
    shapes.set(key, (p = new Prepared<never, unknown[]>(build as never, opts)));
  }
  return p;
}
const definedKeys = (o: object) => Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined);
const markers = (keys: string[], a: (i: number) => unknown, from = 0) => Object.fromEntries(keys.map((k, i) => [k, a(from + i)]));
const affected = (r: { numAffectedRows?: bigint }) => Number(r.numAffectedRows ?? 0) > 0;

/** An audit record's columns in a fixed order, for the compiled inserts above. */
type AuditValues = [string, string | null, string, string, string, string | null, string | null, string, string, string];
const auditValues = (r: AuditRecordColumns): AuditValues => [
  r.at,
  r.actor_uuid,
  r.actor_name,
  r.action,
  r.target_type,
  r.target_uuid,
  r.request_uuid,
  r.correlation_id,
  r.outcome,
  r.details,
];
function auditColumns(a: <I extends number>(i: I) => unknown) {
  return {
    at: a(0) as string,
    actor_uuid: a(1) as string | null,
    actor_name: a(2) as string,
    action: a(3) as string,
    target_type: a(4) as string,
    target_uuid: a(5) as string | null,
    request_uuid: a(6) as string | null,
    correlation_id: a(7) as string,
    outcome: a(8) as string,
    details: a(9) as string,
  };
}

export class Store implements Runner {
  /** The Store outside any transaction (this one, when not in a transaction). */
  readonly root: Store;

  constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    private readonly closeFn: () => Promise<void> = async () => {},
    root?: Store,
    /** Work to do once this transaction has committed, by key (the same key once). */
    private readonly afterCommitWork?: Map<string, () => Promise<void>>,
    /** Work to do once this transaction's writes are visible to the process's next ones, by key. */
    private readonly afterReleaseWork?: Map<string, () => void>,
  ) {
    this.root = root ?? this;
  }

  /**
   * A number that moves whenever another connection may have changed the directory (users and
   * groups, and templates' master-secret versions); undefined while that cannot be known. SQLite:
   * PRAGMA data_version of the server's connection, which moves when any other connection commits.
   * PostgreSQL: the directory-change notifications heard (pg-change-listener.ts). Set by openStore
   * on the root Store.
   */
  outsideChanges?: () => number | undefined;
  /** SQLite only: runs compiled statements without kysely's connection queue where that is safe. Set by openStore on the root Store. */
  direct?: SqliteDirect;
  private directoryWrites = 0;
  /** Users by uuid with the directory version they were read at (root only; userByUuid). */
  private userCache?: Map<string, { version: number; row: UserRow }>;
  private directoryCache?: { outside: number; writes: number; value: number };

  /**
   * The users-and-groups version that cached logins are checked against, on every authenticated
   * request. The last value read is reused while neither this process (it counts its own directory
   * writes) nor any other connection (outsideChanges) has changed the directory since.
   */
  async directoryVersion(): Promise<number> {
    const root = this.root;
    const outside = this.db.isTransaction ? undefined : root.outsideChanges?.();
    if (outside === undefined) return this.counterValue(DIRECTORY_VERSION);
    const writes = root.directoryWrites;
    const cached = root.directoryCache;
    if (cached && cached.outside === outside && cached.writes === writes) return cached.value;
    const value = await this.counterValue(DIRECTORY_VERSION);
    root.directoryCache = { outside, writes, value };
    return value;
  }

  /**
   * Reads that do not depend on one another. On PostgreSQL, outside a transaction, they are
   * issued at once on one connection: pipeline mode and writes coalesced per tick (open.ts) make
   * them one write and one round trip instead of one each. Elsewhere they run one after another.
   */
  private async readTogether(queries: CompiledQuery[]): Promise<QueryResult<unknown>[]> {
    if (this.engine === "postgres" && !this.db.isTransaction) {
      return this.db.getExecutor().provideConnection((c) => Promise.all(queries.map((q) => c.executeQuery(q))));
    }
    const results: QueryResult<unknown>[] = [];
    for (const q of queries) results.push(await this.runCompiled(q));
    return results;
  }

  /** Runs a compiled statement on this Store's connection or transaction. */
  runCompiled<R>(query: CompiledQuery<R>): Promise<QueryResult<R>> {
    const direct = this.root.direct;
    if (direct) {
      try {
        const result = direct.run(query, this.db);
        if (result) return Promise.resolve(result);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.db.executeQuery(query);
  }

  /**
   * Runs fn after the current transaction commits (at once outside a transaction); tx() returns
   * only after it ran. Rolled-back transactions never run theirs.
   */
  async afterCommit(key: string, fn: () => Promise<void>): Promise<void> {
    if (this.afterCommitWork) this.afterCommitWork.set(key, fn);
    else await fn();
  }

  /**
   * Runs fn once this transaction's writes are what the process's next transactions see (at once
   * outside a transaction): on SQLite when it leaves its batch, which commits a moment later; on
   * PostgreSQL at its commit. What fn remembers must be forgotten when commitFailures() changes.
   */
  afterRelease(key: string, fn: () => void): void {
    if (this.afterReleaseWork) this.afterReleaseWork.set(key, fn);
    else fn();
  }

  /** SQLite: batches that failed to commit so far (their transactions' callers got the error). */
  commitFailures(): number {
    return this.root.direct?.group.stats.failures ?? 0;
  }

  /**
   * Runs fn in one transaction; the Store passed to fn is bound to it. Inside a transaction, fn
   * joins it. Transactions run READ COMMITTED on PostgreSQL: decisions that read before they write
   * lock the row they decide on (`requestByUuid(…, true)`) or use a conditional update. A deadlock
   * or serialization failure rolls everything back, so the whole of fn is simply run again. On
   * SQLite the transaction shares its COMMIT with the others of its batch (sqlite-group-commit.ts);
   * tx() returns once that commit is done.
   */
  async tx<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    for (let attempt = 1; ; attempt++) {
      const work = new Map<string, () => Promise<void>>();
      const released = new Map<string, () => void>();
      const runReleased = () => {
        for (const run of released.values()) run();
      };
      try {
        const direct = this.root.direct;
        let batch: Batch | undefined;
        const result = await this.db.transaction().execute(async (trx: Transaction<Database>) => {
          const store = new Store(trx, this.engine, undefined, this.root, work, released);
          if (!direct) return fn(store);
          // Statements of this transaction may run without the queue while its callback runs.
          direct.owner = trx;
          try {
            const value = await fn(store);
            batch = direct.group.current;
            direct.group.whenReleased(runReleased);
            return value;
          } finally {
            direct.owner = undefined;
          }
        });
        if (!direct) runReleased();
        // SQLite: the transaction commits with the others of its batch (sqlite-group-commit.ts).
        if (batch) await batch.durable;
        for (const run of work.values()) await run();
        return result;
      } catch (e) {
        // A held-back statement that openclm_require failed fails the COMMIT with its error.
        if (attempt >= TX_ATTEMPTS || !isRetryable(e)) requiredChange(e);
        await sleep(5 * attempt + Math.random() * 20 * attempt);
      }
    }
  }

  /**
   * Runs fn while holding a database-wide named lock, so that of several processes sharing a
   * PostgreSQL database only one at a time does it (first-start creation of the schema, CA, users,
   * template versions). The lock belongs to a connection of its own, so a process that dies
   * releases it with its connection. SQLite has one server process per file: nothing to take.
   */
  async exclusive<T>(name: keyof typeof LOCKS, fn: () => Promise<T>, waitMs = 300_000): Promise<T> {
    if (this.engine !== "postgres" || this.db.isTransaction) return fn();
    const key = LOCKS[name];
    return this.db.connection().execute(async (conn) => {
      // Polled rather than a blocking pg_advisory_lock, which statement_timeout would cut short
      // while another process generates CA keys.
      const deadline = Date.now() + waitMs;
      for (;;) {
        const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${key}) as ok`.execute(conn);
        if (rows[0]?.ok) break;
        if (Date.now() > deadline) throw new Error(`timed out waiting for another server process (${name})`);
        await sleep(100);
      }
      try {
        return await fn();
      } finally {
        await sql`select pg_advisory_unlock(${key})`.execute(conn).catch(() => {});
      }
    });
  }

  /**
   * Takes a database-wide lock until this transaction ends, so that of several processes only one
   * at a time goes on (PostgreSQL; SQLite has one writer at a time anyway). `asyncCommit`: the
   * commit need not wait for its flush (for transactions that only redo what is durable already).
   */
  async lockTransaction(name: keyof typeof TRANSACTION_LOCKS, opts: { asyncCommit?: boolean } = {}): Promise<void> {
    if (this.engine !== "postgres") return;
    const key = TRANSACTION_LOCKS[name];
    if (opts.asyncCommit) await sql`select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(${key})`.execute(this.db);
    else await sql`select pg_advisory_xact_lock(${key})`.execute(this.db);
  }

  /** On the root Store only (a Store is made per transaction: none needs a map of its own). */
  private closeWork?: Map<string, () => Promise<void>>;

  /** Work to finish before the database closes (on the root Store; by key, the same key once). */
  beforeClose(key: string, fn: () => Promise<void>): void {
    (this.root.closeWork ??= new Map()).set(key, fn);
  }

  async close(): Promise<void> {
    for (const run of this.root.closeWork?.values() ?? []) await run();
    await this.closeFn();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /** Portal sessions and the states single sign-ons have used (sessions.ts). */
  get sessions(): SessionStore {
    return new SessionStore(this.db);
  }

  // ---- users and groups
  async userByName(name: string): Promise<UserRow | undefined> {
    return this.db.selectFrom("users").selectAll().where("name", "=", name).executeTakeFirst();
  }
  /**
   * Outside a transaction, from a cache kept while the directory version stays the same: a
   * request's target user is read by several calls of every enrollment. The version is read
   * first, so a change landing in between leaves the entry stale, never wrongly current (and on
   * SQLite a read made while a batch is open fails with the batch). Inside a transaction, always
   * read: a decision made there reads what it decides on.
   */
  async userByUuid(uuid: string): Promise<UserRow | undefined> {
    if (this.db.isTransaction) return Q.userByUuid.first(this, uuid);
    const root = this.root;
    const version = await this.directoryVersion();
    const cache = (root.userCache ??= new Map());
    const hit = cache.get(uuid);
    if (hit?.version === version) return { ...hit.row };
    const row = await Q.userByUuid.first(this, uuid);
    cache.delete(uuid);
    if (row) {
      if (cache.size >= USER_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(uuid, { version, row: { ...row } });
    }
    return row;
  }
  async insertUser(row: Insertable<UsersTable>): Promise<void> {
    await this.db.insertInto("users").values(row).execute();
    await this.nextCounter(DIRECTORY_VERSION);
  }
  async updateUser(uuid: string, patch: Updateable<UsersTable>): Promise<void> {
    await this.db.updateTable("users").set(patch).where("uuid", "=", uuid).execute();
    await this.nextCounter(DIRECTORY_VERSION);
  }
  async listUsers(page: Page): Promise<UserRow[]> {
    return this.db.selectFrom("users").selectAll().orderBy("name").limit(page.top).offset(page.skip).execute();
  }
  async groupsOf(userUuid: string): Promise<string[]> {
    const rows = await this.db.selectFrom("user_groups").select("group_name").where("user_uuid", "=", userUuid).execute();
    return rows.map((r) => r.group_name).sort();
  }
  async setGroups(userUuid: string, groups: string[]): Promise<void> {
    await this.nextCounter(DIRECTORY_VERSION);
    await this.db.deleteFrom("user_groups").where("user_uuid", "=", userUuid).execute();
    if (groups.length)
      await this.db
        .insertInto("user_groups")
        .values([...new Set(groups)].map((g) => ({ user_uuid: userUuid, group_name: g })))
        .execute();
  }

  // ---- profile templates (versioned snapshots of the configuration)
  async latestTemplateVersion(uuid: string): Promise<{ version: number; hash: string } | undefined> {
    return this.db
      .selectFrom("profile_templates")
      .select(["version", "hash"])
      .where("uuid", "=", uuid)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
  }
  async insertTemplateVersion(row: Insertable<Database["profile_templates"]>): Promise<void> {
    await this.db.insertInto("profile_templates").values(row).onConflict((oc) => oc.doNothing()).execute();
  }

  // ---- template master secrets
  async masterSecrets(templateUuid: string): Promise<{ version: number; sealed: Buffer }[]> {
    return Q.masterSecrets.all(this, templateUuid);
  }
  /**
   * A new version also moves the directory version, so that other PostgreSQL processes, which keep
   * the newest version while they hear of no change (MasterSecrets.current), read it again.
   */
  async insertMasterSecret(templateUuid: string, version: number, sealed: Buffer, at: string): Promise<boolean> {
    return this.tx(async (tx) => {
      const r = await tx.db
        .insertInto("master_secrets")
        .values({ template_uuid: templateUuid, version, sealed, created_at: at })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      const inserted = Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
      if (inserted) await tx.nextCounter(DIRECTORY_VERSION);
      return inserted;
    });
  }

  // ---- requests
  /**
   * On PostgreSQL, inside a transaction, the row goes out with the transaction's next statement or
   * its COMMIT (its answer tells nothing: a failure fails that statement, and so the transaction).
   */
  async insertRequest(row: RequestRow): Promise<void> {
    await this.runCompiled(this.insertRowStatement("requests", row, "error"));
  }
  async requestByUuid(uuid: string, forUpdate = false): Promise<RequestRow | undefined> {
    const q = forUpdate && this.engine === "postgres" ? Q.requestByUuidForUpdate : Q.requestByUuid;
    return q.first(this, uuid);
  }
  /**
   * Compare-and-set on status, so two racing transitions cannot both win; `unsubmitted`: only while
   * no certificate requests were recorded for it (csr_fingerprints is null).
   */
  async updateRequest(uuid: string, patch: Updateable<RequestsTable>, expectStatus?: number[], opts: { unsubmitted?: boolean } = {}): Promise<boolean> {
    return this.updateRow("requests", uuid, patch, expectStatus, opts.unsubmitted);
  }
  /** updateRequest as a required change (runRequired): no row updated fails the transaction. */
  async updateRequestRequired(uuid: string, patch: Updateable<RequestsTable>, expectStatus?: number[], opts: { unsubmitted?: boolean } = {}): Promise<void> {
    await this.runRequired(this.updateRowStatement("requests", uuid, patch, expectStatus, opts.unsubmitted));
  }

  /** Atomically counts one response release while under the bound; false when the bound is reached. */
  async takeResponseRelease(uuid: string, bound: number): Promise<boolean> {
    const r = await Q.takeResponseRelease.execute(this, uuid, bound);
    return Number(r.numAffectedRows ?? 0) > 0;
  }
  /**
   * The same, only while the request is in one of `from`, and in the same statement moves it to
   * `to` (and records keyVersion when given); updated_at changes unless it was in `to` already and
   * no key version is given. False when the bound is reached or the request is in another state.
   */
  async takeResponseReleaseAndMove(
    uuid: string,
    bound: number,
    move: { from: [number, number]; to: number; at: string; keyVersion: number | null },
    /** The status the caller last read: when it is `to` already, the status column is left alone (no index moves). */
    current?: number,
  ): Promise<boolean> {
    const args = [uuid, bound, move.from[0], move.from[1], move.to, move.at, move.keyVersion] as const;
    if (current === move.to && affected(await Q.takeResponseReleaseStaying.execute(this, ...args))) return true;
    return affected(await Q.takeResponseReleaseAndMove.execute(this, ...args));
  }
  /**
   * takeResponseReleaseAndMove for the usual case, where the release is counted: when it counts
   * nothing, the transaction fails with RequiredChangeMissing and the caller takes the slow path.
   * On PostgreSQL the statement fails by itself, so it is written with the transaction's audit
   * record and COMMIT instead of waiting for its answer (one round trip less).
   */
  async takeResponseReleaseRequired(
    uuid: string,
    bound: number,
    move: { from: [number, number]; to: number; at: string; keyVersion: number | null },
    current: number,
  ): Promise<void> {
    const args = [uuid, bound, move.from[0], move.from[1], move.to, move.at, move.keyVersion] as const;
    await this.runRequired((current === move.to ? Q.takeResponseReleaseStaying : Q.takeResponseReleaseAndMove).compile(this, ...args));
  }
  async listRequests(filter: {
    visibleTo?: string;
    /**
     * With visibleTo: other people's requests the user also sees (as approver or agent), by
     * template and workflow, in the status given (when the list has no status filter of its own).
     */
    shared?: { grants: { templateUuid: string; workflows: string[] }[]; status?: number };
    status?: number;
    targetUuid?: string;
    statusIn?: number[];
    page: Page;
  }): Promise<RequestRow[]> {
    let q = this.db.selectFrom("requests").selectAll();
    if (filter.visibleTo) {
      const u = filter.visibleTo;
      const shared = filter.shared?.grants.length ? filter.shared : undefined;
      q = q.where((eb) =>
        eb.or([
          eb("target_uuid", "=", u),
          eb("originator_uuid", "=", u),
          ...(shared
            ? [
                eb.and([
                  ...(shared.status !== undefined ? [eb("status", "=", shared.status)] : []),
                  eb.or(shared.grants.map((g) => eb.and([eb("template_uuid", "=", g.templateUuid), eb("workflow", "in", g.workflows)]))),
                ]),
              ]
            : []),
        ]),
      );
    }
    if (filter.targetUuid) q = q.where("target_uuid", "=", filter.targetUuid);
    if (filter.status !== undefined) q = q.where("status", "=", filter.status);
    if (filter.statusIn) q = q.where("status", "in", filter.statusIn);
    return q.orderBy("submitted_at", "desc").orderBy("uuid").limit(filter.page.top).offset(filter.page.skip).execute();
  }
  /**
   * Requests open on a credential (Pending, Approved, Executing), through the partial indexes of
   * open requests: each alternative names its column and the states as literals, as the indexes do,
   * so the planner can use one index per alternative (parameters would not prove the index applies).
   */
  async openRequestsForCredential(credentialUuid: string): Promise<RequestRow[]> {
    return this.openRequestsQuery(credentialUuid).execute();
  }
  /** The query of openRequestsForCredential (its plan is tested). */
  openRequestsQuery(credentialUuid: string) {
    const open = sql.join(OPEN_REQUEST_STATUSES.map((s) => sql.lit(s)));
    return this.db
      .selectFrom("requests")
      .selectAll()
      .where((eb) =>
        eb.or(
          (["old_smartcard_uuid", "new_smartcard_uuid", "old_profile_uuid", "new_profile_uuid"] as const).map((column) =>
            eb.and([eb(column, "=", credentialUuid), sql<boolean>`${sql.ref("status")} in (${open})`]),
          ),
        ),
      );
  }

  // ---- approvals
  async insertApproval(row: Selectable<Database["approvals"]>): Promise<boolean> {
    const r = await this.db
      .insertInto("approvals")
      .values(row)
      .onConflict((oc) => oc.columns(["request_uuid", "approver_uuid"]).doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  async approvalsOf(requestUuid: string): Promise<Selectable<Database["approvals"]>[]> {
    return Q.approvalsOf.all(this, requestUuid);
  }

  // ---- smart cards
  /**
   * False when the request already has its card or the card id is in use by another live card
   * (both unique indexes; the caller tells which by reading the request's card).
   */
  async insertSmartcard(row: SmartcardRow): Promise<boolean> {
    return this.insertRow("smartcards", row, "ignore");
  }
  /** updateSmartcard as a required change (runRequired): no row updated fails the transaction. */
  async updateSmartcardRequired(uuid: string, patch: Updateable<SmartcardsTable>, expectStatus?: number[]): Promise<void> {
    await this.runRequired(this.updateRowStatement("smartcards", uuid, patch, expectStatus));
  }
  /** insertSmartcard as a required change (runRequired): a conflict fails the transaction. */
  async insertSmartcardRequired(row: SmartcardRow): Promise<void> {
    await this.runRequired(this.insertRowStatement("smartcards", row, "ignore"));
  }
  async smartcardByUuid(uuid: string): Promise<SmartcardRow | undefined> {
    return Q.smartcardByUuid.first(this, uuid);
  }
  /** A request and a card, read together (see readTogether). */
  async requestAndCard(requestUuid: string, cardUuid: string): Promise<[RequestRow | undefined, SmartcardRow | undefined]> {
    const [r, c] = await this.readTogether([Q.requestByUuid.compile(this, requestUuid), Q.smartcardByUuid.compile(this, cardUuid)]);
    return [r!.rows[0] as RequestRow | undefined, c!.rows[0] as SmartcardRow | undefined];
  }
  /** What binding a card to a request looks at: the request, its card if any, and the card id's records (newest first). */
  async bindingFacts(requestUuid: string, cardId: string): Promise<[RequestRow | undefined, SmartcardRow | undefined, SmartcardRow[]]> {
    const [r, bound, byCardId] = await this.readTogether([
      Q.requestByUuid.compile(this, requestUuid),
      Q.smartcardByRequest.compile(this, requestUuid),
      Q.smartcardsByCardId.compile(this, cardId),
    ]);
    return [r!.rows[0] as RequestRow | undefined, bound!.rows[0] as SmartcardRow | undefined, byCardId!.rows as SmartcardRow[]];
  }
  async smartcardByRequest(requestUuid: string): Promise<SmartcardRow | undefined> {
    return Q.smartcardByRequest.first(this, requestUuid);
  }
  async smartcardsByCardId(cardId: string): Promise<SmartcardRow[]> {
    return Q.smartcardsByCardId.all(this, cardId);
  }
  async listSmartcards(filter: { userUuid?: string; cardId?: string; page: Page }): Promise<SmartcardRow[]> {
    let q = this.db.selectFrom("smartcards").selectAll();
    if (filter.userUuid) q = q.where("assigned_user_uuid", "=", filter.userUuid);
    if (filter.cardId) q = q.where("card_id", "=", filter.cardId);
    return q.orderBy("created_at", "desc").orderBy("uuid").limit(filter.page.top).offset(filter.page.skip).execute();
  }
  async updateSmartcard(uuid: string, patch: Updateable<SmartcardsTable>, expectStatus?: number[]): Promise<boolean> {
    return this.updateRow("smartcards", uuid, patch, expectStatus);
  }

  // ---- software profiles
  async insertProfile(row: ProfileRow): Promise<void> {
    await this.db.insertInto("profiles").values(row).execute();
  }
  async profileByUuid(uuid: string): Promise<ProfileRow | undefined> {
    return this.db.selectFrom("profiles").selectAll().where("uuid", "=", uuid).executeTakeFirst();
  }
  async profileByRequest(requestUuid: string): Promise<ProfileRow | undefined> {
    return this.db.selectFrom("profiles").selectAll().where("request_uuid", "=", requestUuid).executeTakeFirst();
  }
  async listProfiles(filter: { userUuid?: string; status?: number; page: Page }): Promise<ProfileRow[]> {
    let q = this.db.selectFrom("profiles").selectAll();
    if (filter.userUuid) q = q.where("assigned_user_uuid", "=", filter.userUuid);
    if (filter.status !== undefined) q = q.where("status", "=", filter.status);
    return q.orderBy("created_at", "desc").orderBy("uuid").limit(filter.page.top).offset(filter.page.skip).execute();
  }
  async updateProfile(uuid: string, patch: Updateable<ProfilesTable>, expectStatus?: number[]): Promise<boolean> {
    let q = this.db.updateTable("profiles").set(patch).where("uuid", "=", uuid);
    if (expectStatus) q = q.where("status", "in", expectStatus);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  // ---- certificates
  /** False when the (request, template) pair already has its certificate. */
  async insertCertificate(row: CertificateRow): Promise<boolean> {
    return this.insertRow("certificates", row, ["request_uuid", "template_name"]);
  }
  /**
   * As a required change (see required): the request has at least n certificates.
   */
  async certificateCountAtLeastRequired(requestUuid: string, n: number): Promise<void> {
    await this.required(
      () => Q.certificateCountAtLeast.compile(this, requestUuid, n),
      async () => (await this.certificateCountOfRequest(requestUuid)) >= n,
    );
  }
  /** insertCertificate as a required change (runRequired): a conflict fails the transaction. */
  async insertCertificateRequired(row: CertificateRow): Promise<void> {
    await this.runRequired(this.insertRowStatement("certificates", row, ["request_uuid", "template_name"]));
  }
  async certificatesOfRequest(requestUuid: string): Promise<CertificateRow[]> {
    return Q.certificatesOfRequest.all(this, requestUuid);
  }
  async certificateCountOfRequest(requestUuid: string): Promise<number> {
    return Number((await Q.certificateCountOfRequest.first(this, requestUuid))!.n);
  }
  async certificatesOfSmartcard(uuid: string): Promise<CertificateRow[]> {
    return this.certificatesOfQuery("smartcard_uuid", uuid).execute();
  }
  async certificatesOfProfile(uuid: string): Promise<CertificateRow[]> {
    return this.certificatesOfQuery("profile_uuid", uuid).execute();
  }
  /** The query of certificatesOfSmartcard and certificatesOfProfile (their plans are tested). */
  certificatesOfQuery(column: "smartcard_uuid" | "profile_uuid", uuid: string) {
    return this.db.selectFrom("certificates").selectAll().where(column, "=", uuid).orderBy("created_at");
  }
  /**
   * A page of certificates, newest first, each with the name of who asked for it: the request's
   * originator (the enrollment agent, when one acted for the user), read in the same query.
   */
  async listCertificates(filter: { userUuid?: string; excludeRetired?: boolean; page: Page }): Promise<Array<CertificateRow & { requester_name: string }>> {
    let q = this.db
      .selectFrom("certificates")
      .leftJoin("requests", "requests.uuid", "certificates.request_uuid")
      .leftJoin("users as requester", (join) =>
        join.on((eb) => eb("requester.uuid", "=", eb.fn.coalesce("requests.originator_uuid", "certificates.user_uuid"))),
      )
      .selectAll("certificates")
      .select((eb) => eb.fn.coalesce("requester.name", eb.val("")).as("requester_name"));
    if (filter.userUuid) q = q.where("certificates.user_uuid", "=", filter.userUuid);
    // Correlated NOT EXISTS probes the card's primary key per row; NOT IN would read every
    // retired card in the database for each listing.
    if (filter.excludeRetired)
      q = q.where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("smartcards as rc")
              .select("rc.uuid")
              .whereRef("rc.uuid", "=", "certificates.smartcard_uuid")
              .where("rc.status", "=", 6),
          ),
        ),
      );
    return q.orderBy("certificates.created_at", "desc").orderBy("certificates.serial").limit(filter.page.top).offset(filter.page.skip).execute();
  }
  /**
   * A change of status or revocation also counts a CRL change in the same transaction, so a CRL
   * that misses it is detected even when the process that made it dies before publishing.
   */
  async updateCertificate(serial: string, patch: Updateable<CertificatesTable>, expectStatus?: number[]): Promise<boolean> {
    return this.tx(async (tx) => {
      let q = tx.db.updateTable("certificates").set(patch).where("serial", "=", serial);
      if (expectStatus) q = q.where("status", "in", expectStatus);
      const changed = Number((await q.executeTakeFirst()).numUpdatedRows) > 0;
      if (changed && ("status" in patch || "revoked_at" in patch)) await tx.nextCounter(CRL_CHANGES);
      return changed;
    });
  }
  async revokedCertificates(): Promise<Pick<CertificateRow, "serial" | "revoked_at" | "revocation_reason">[]> {
    return this.revokedCertificatesQuery().execute();
  }
  /** The query of revokedCertificates (its plan is tested). */
  revokedCertificatesQuery() {
    return this.db
      .selectFrom("certificates")
      .select(["serial", "revoked_at", "revocation_reason"])
      .where("status", "in", [1, 2, 4])
      .where("revoked_at", "is not", null)
      .orderBy("revoked_at");
  }

  // ---- CA material, counters, CRLs, PINs
  async caKey(role: string): Promise<Selectable<Database["ca_keys"]> | undefined> {
    return this.db.selectFrom("ca_keys").selectAll().where("role", "=", role).executeTakeFirst();
  }
  async insertCaKey(row: Selectable<Database["ca_keys"]>): Promise<boolean> {
    const r = await this.db.insertInto("ca_keys").values(row).onConflict((oc) => oc.doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  /** Increments a named counter in the database and returns the new value. */
  async nextCounter(name: string): Promise<number> {
    // Before the change, so that a read racing it can only find the cached version stale.
    if (name === DIRECTORY_VERSION) this.root.directoryWrites++;
    await this.db.insertInto("counters").values({ name, value: 0 }).onConflict((oc) => oc.doNothing()).execute();
    const row = await this.db
      .updateTable("counters")
      .set({ value: sql`value + 1` })
      .where("name", "=", name)
      .returning("value")
      .executeTakeFirstOrThrow();
    // And once it is committed: a read between the two (of the value committed before) may have
    // been cached with the first count, and the server's own commits do not move data_version
    // (nor do they arrive as notifications before the commit has returned).
    if (name === DIRECTORY_VERSION) await this.afterCommit(DIRECTORY_VERSION, async () => void this.root.directoryWrites++);
    return Number(row.value);
  }
  async counterValue(name: string): Promise<number> {
    const row = await Q.counterValue.first(this, name);
    return Number(row?.value ?? 0);
  }
  /** Certificate changes not yet in a published CRL (see updateCertificate). */
  async unpublishedCrlChanges(): Promise<number> {
    const rows = await this.db.selectFrom("counters").select(["name", "value"]).where("name", "in", [CRL_CHANGES, CRL_CHANGES_PUBLISHED]).execute();
    const value = (name: string) => Number(rows.find((r) => r.name === name)?.value ?? 0);
    return value(CRL_CHANGES) - value(CRL_CHANGES_PUBLISHED);
  }
  async latestCrlHead(): Promise<{ number: number; next_update: string } | undefined> {
    const row = await this.db.selectFrom("crls").select(["number", "next_update"]).orderBy("number", "desc").limit(1).executeTakeFirst();
    return row ? { number: Number(row.number), next_update: row.next_update } : undefined;
  }
  async latestCrl(): Promise<Selectable<Database["crls"]> | undefined> {
    const row = await this.db.selectFrom("crls").selectAll().orderBy("number", "desc").limit(1).executeTakeFirst();
    return row ? { ...row, number: Number(row.number) } : undefined;
  }
  async insertCrl(row: Selectable<Database["crls"]>): Promise<boolean> {
    const r = await this.db.insertInto("crls").values(row).onConflict((oc) => oc.doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
  async pinOf(smartcardUuid: string): Promise<Buffer | undefined> {
    const row = await this.db.selectFrom("pins").select("sealed").where("smartcard_uuid", "=", smartcardUuid).executeTakeFirst();
    return row?.sealed;
  }
  async activeCardsOf(userUuid: string, templateUuid: string): Promise<SmartcardRow[]> {
    return this.db
      .selectFrom("smartcards")
      .selectAll()
      .where("assigned_user_uuid", "=", userUuid)
      .where("template_uuid", "=", templateUuid)
      .where("status", "=", 3)
      .orderBy("created_at")
      .execute();
  }
  async temporaryCardsOf(permanentUuid: string): Promise<SmartcardRow[]> {
    return this.db.selectFrom("smartcards").selectAll().where("permanent_uuid", "=", permanentUuid).where("status", "in", [2, 3, 5]).execute();
  }
  async putPin(smartcardUuid: string, sealed: Buffer, at: string): Promise<void> {
    await this.db
      .insertInto("pins")
      .values({ smartcard_uuid: smartcardUuid, sealed, created_at: at })
      .onConflict((oc) => oc.column("smartcard_uuid").doUpdateSet({ sealed, created_at: at }))
      .execute();
  }

  // ---- failed logins
  async insertLoginFailures(keys: string[], at: string): Promise<void> {
    if (keys.length) await this.db.insertInto("login_failures").values(keys.map((key) => ({ key, at }))).execute();
  }
  /** The newest failure times of a key since a moment, newest first. */
  async loginFailuresSince(key: string, since: string, limit: number): Promise<string[]> {
    const rows = await this.db.selectFrom("login_failures").select("at").where("key", "=", key).where("at", ">", since).orderBy("at", "desc").limit(limit).execute();
    return rows.map((r) => r.at);
  }
  async clearLoginFailures(key: string): Promise<void> {
    await this.db.deleteFrom("login_failures").where("key", "=", key).execute();
  }
  async sweepLoginFailures(before: string): Promise<void> {
    await this.db.deleteFrom("login_failures").where("at", "<=", before).execute();
  }

  // ---- audit trail
  async lastAuditHash(): Promise<string | undefined> {
    return (await Q.lastAuditHash.first(this))?.hash;
  }
  async insertPendingAudit(row: AuditRecordColumns): Promise<void> {
    await Q.insertPendingAudit.execute(this, ...auditValues(row));
  }
  /** Appends one linked record; returns its sequence number (SQLite, where records are linked as written). */
  async insertAuditEvent(row: AuditRecordColumns & { prev_hash: string; hash: string }): Promise<number> {
    if (this.engine !== "sqlite") throw new Error("audit records are appended to the chain as written on SQLite only");
    const r = await Q.insertAuditEvent.execute(this, ...auditValues(row), row.prev_hash, row.hash);
    return Number(r.insertId!);
  }
  /** The hash of the newest record before seq. */
  async auditHashBefore(seq: number): Promise<string | undefined> {
    return (await Q.auditHashBefore.first(this, seq))?.hash;
  }
  async relinkAuditEvent(seq: number, prevHash: string, hash: string): Promise<void> {
    await Q.relinkAudit.execute(this, seq, prevHash, hash);
  }
  /** Writes the chain-head counters now, in this transaction. */
  async setAuditHead(head: AuditHead): Promise<void> {
    await Q.setTwoCounters.execute(this, head.seqCounter, head.seq, head.hashCounter, head.hashValue);
  }
  /**
   * The chain-head counters, written with the commit that makes the record durable: with SQLite's
   * group commit in the COMMIT of the batch this transaction joins, if it is released, once per
   * batch however many records it carries; elsewhere by setAuditHead, in the transaction.
   */
  async setAuditHeadAtCommit(head: AuditHead): Promise<void> {
    const group = this.root.direct?.group;
    if (group && this.db.isTransaction && group.beforeCommit("audit-head", Q.setTwoCounters.compile(this, head.seqCounter, head.seq, head.hashCounter, head.hashValue))) return;
    await this.setAuditHead(head);
  }
  /** Removes and returns the oldest unlinked audit records (call under the chain's lock). */
  async takePendingAudit(limit: number): Promise<AuditPendingRow[]> {
    const oldest = this.db.selectFrom("audit_pending").select("id").orderBy("id").limit(limit);
    const rows = await this.db.deleteFrom("audit_pending").where("id", "in", oldest).returningAll().execute();
    return rows.sort((a, b) => Number(a.id) - Number(b.id));
  }
  /**
   * Appends records in the order given and sets the chain-head counters to the last one: on
   * PostgreSQL in one statement (a data-modifying WITH), as each round trip counts there.
   */
  async appendAudit(rows: Insertable<AuditEventsTable>[], head: Omit<AuditHead, "seq">): Promise<void> {
    const insert = this.db.insertInto("audit_events").values(rows).returning("seq");
    if (this.engine === "postgres") {
      await sql`with ins as (${insert})
        insert into counters (name, value)
        select ${head.seqCounter}, max(seq) from ins union all select ${head.hashCounter}, ${head.hashValue}::bigint
        on conflict (name) do update set value = excluded.value`.execute(this.db);
      return;
    }
    const seq = Math.max(...(await insert.execute()).map((r) => Number(r.seq)));
    await Q.setTwoCounters.execute(this, head.seqCounter, seq, head.hashCounter, head.hashValue);
  }
  /** Sets several counters in one statement. */
  async setCounters(values: Record<string, number>): Promise<void> {
    await this.db
      .insertInto("counters")
      .values(Object.entries(values).map(([name, value]) => ({ name, value })))
      .onConflict((oc) => oc.column("name").doUpdateSet((eb) => ({ value: eb.ref("excluded.value") })))
      .execute();
  }
  /** Inserts a row unless it conflicts (on any unique index, or on these columns); false if it did. */
  private async insertRow(table: "smartcards" | "certificates", row: object, onConflict: "ignore" | string[]): Promise<boolean> {
    return affected(await this.runCompiled(this.insertRowStatement(table, row, onConflict)));
  }

  /**
   * One row's insert; `onConflict`: "error" (the default of SQL: its answer is not needed, and on
   * PostgreSQL it is held back in a transaction), "ignore" any unique conflict, or these columns'.
   */
  private insertRowStatement(table: "requests" | "smartcards" | "certificates", row: object, onConflict: "error" | "ignore" | string[]): CompiledQuery<never> {
    const keys = definedKeys(row);
    const conflict = typeof onConflict === "string" ? onConflict : onConflict.join(",");
    const statement = byShape(
      `insert ${table} ${keys.join(",")} ${conflict}`,
      (db, a) => {
        const q = db.insertInto(table).values(markers(keys, a) as never);
        if (onConflict === "error") return q;
        return q.onConflict((oc) => (onConflict === "ignore" ? oc : oc.columns(onConflict as never)).doNothing());
      },
      { answerNotNeeded: onConflict === "error" },
    );
    return statement.compile(this, ...keys.map((k) => (row as Record<string, unknown>)[k]));
  }

  /**
   * A required change: `holds` answers whether it happened, else the transaction fails with
   * RequiredChangeMissing. On PostgreSQL, inside a transaction, `selfFailing` is run instead: a
   * statement that fails by itself when the change does not happen (openclm_require, migration
   * 0009), so nobody waits for its answer: it is held back and written with the transaction's next
   * statement or its COMMIT (pg-held-back.ts), whose failure then reports it.
   */
  private async required(selfFailing: () => CompiledQuery<never>, holds: () => Promise<boolean>): Promise<void> {
    if (this.engine === "postgres" && this.db.isTransaction) await this.runCompiled(selfFailing()).catch(requiredChange);
    else if (!(await holds())) throw new RequiredChangeMissing();
  }

  /** An insert or update that must change a row, as a required change. */
  private async runRequired(compiled: CompiledQuery<never>): Promise<void> {
    await this.required(
      () => ({
        ...compiled,
        sql: `${ANSWER_NOT_NEEDED}with "changed" as (${compiled.sql} returning 1) select openclm_require(exists (select 1 from "changed"))`,
      }),
      async () => affected(await this.runCompiled(compiled)),
    );
  }

  /** Updates one row by uuid: compare-and-set on status (expectStatus), and on csr_fingerprints being null (unsubmitted). */
  private async updateRow(table: "requests" | "smartcards", uuid: string, patch: object, expectStatus?: number[], unsubmitted?: boolean): Promise<boolean> {
    return affected(await this.runCompiled(this.updateRowStatement(table, uuid, patch, expectStatus, unsubmitted)));
  }

  private updateRowStatement(table: "requests" | "smartcards", uuid: string, patch: object, expectStatus?: number[], unsubmitted?: boolean): CompiledQuery<never> {
    const keys = definedKeys(patch);
    const n = keys.length;
    const statement = byShape(`update ${table} ${keys.join(",")} ${expectStatus?.length ?? "-"} ${!!unsubmitted}`, (db, a) => {
      let q = db
        .updateTable(table)
        .set(markers(keys, a) as never)
        .where("uuid", "=", a(n) as string);
      if (expectStatus) q = q.where("status", "in", expectStatus.map((_, i) => a(n + 1 + i) as number));
      if (unsubmitted) q = (q as typeof q).where("csr_fingerprints" as never, "is", null);
      return q;
    });
    const values = keys.map((k) => (patch as Record<string, unknown>)[k]);
    return statement.compile(this, ...values, uuid, ...(expectStatus ?? []));
  }

  async listAudit(filter: {
    requestUuid?: string;
    actorName?: string;
    action?: string;
    targetUuid?: string;
    afterSeq?: number;
    page: Page;
  }): Promise<AuditRow[]> {
    let q = this.db.selectFrom("audit_events").selectAll();
    if (filter.requestUuid) q = q.where("request_uuid", "=", filter.requestUuid);
    if (filter.actorName) q = q.where("actor_name", "=", filter.actorName);
    if (filter.action) q = q.where("action", "=", filter.action);
    if (filter.targetUuid) q = q.where("target_uuid", "=", filter.targetUuid);
    if (filter.afterSeq !== undefined) q = q.where("seq", ">", filter.afterSeq);
    return q.orderBy("seq").limit(filter.page.top).offset(filter.page.skip).execute();
  }
}
