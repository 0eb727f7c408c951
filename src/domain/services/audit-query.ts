// Reading the audit trail: `GET /audit` (filtered, paged) and `openclm admin audit export`
// (everything that matches, streamed in pages). The store's listAudit has no time filters, so
// the query is built here on the Kysely instance.
import { sql, type SelectQueryBuilder } from "kysely";
import type { Database } from "../../store/schema.js";
import type { AuditRow, Store } from "../../store/store.js";
import { badInput } from "../errors.js";
import { parseGuid } from "../guid.js";
import { linkPendingAudit } from "../audit.js";

export interface AuditFilter {
  /** Actor name, or actor uuid. */
  actor?: string;
  /** Exact action, or a prefix ending in `*` (`request.*`). */
  action?: string;
  /** Request uuid. */
  request?: string;
  /** Target object uuid, or a user name (events that target that user). */
  target?: string;
  /** ISO-8601; from is inclusive, to exclusive. */
  from?: string;
  to?: string;
  outcome?: string;
}

type AuditQuery = SelectQueryBuilder<Database, "audit_events", AuditRow>;

/** The filter applied to a query; undefined when it can match nothing (e.g. an unknown user). */
async function filtered(store: Store, f: AuditFilter): Promise<AuditQuery | undefined> {
  let q = store.db.selectFrom("audit_events").selectAll() as AuditQuery;
  if (f.actor) {
    const uuid = parseGuid(f.actor);
    q = uuid ? q.where("actor_uuid", "=", uuid) : q.where("actor_name", "=", f.actor.trim());
  }
  if (f.action) {
    const a = f.action.trim();
    if (a.endsWith("*")) {
      const prefix = a.slice(0, -1);
      // substr rather than LIKE or a range: no character of the prefix is a wildcard, and no
      // collation decides what sorts after it.
      if (prefix) q = q.where(sql<string>`substr(action, 1, ${prefix.length})`, "=", prefix);
    } else q = q.where("action", "=", a);
  }
  if (f.request) {
    const uuid = parseGuid(f.request);
    if (!uuid) throw badInput("InvalidGuid", "request: not a GUID");
    q = q.where("request_uuid", "=", uuid);
  }
  if (f.target) {
    let uuid = parseGuid(f.target);
    if (!uuid) {
      const user = await store.userByName(f.target.trim());
      if (!user) return undefined;
      uuid = user.uuid;
    }
    q = q.where("target_uuid", "=", uuid);
  }
  if (f.from) q = q.where("at", ">=", isoTime(f.from, "from"));
  if (f.to) q = q.where("at", "<", isoTime(f.to, "to"));
  if (f.outcome) q = q.where("outcome", "=", f.outcome.trim().toLowerCase());
  return q;
}

/** Records are stored with toISOString(), so normalised times compare correctly as text. */
function isoTime(text: string, field: string): string {
  const t = text.trim();
  const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t) ? Date.parse(t) : NaN;
  if (Number.isNaN(ms)) throw badInput("InvalidTime", `${field}: an ISO-8601 date or time, e.g. 2025-01-31T12:00:00Z`);
  return new Date(ms).toISOString();
}

export async function listAuditEvents(store: Store, f: AuditFilter, page: { top: number; skip: number; newestFirst?: boolean }): Promise<AuditRow[]> {
  // Whatever has been done is in the trail its reader sees.
  await linkPendingAudit(store);
  const q = await filtered(store, f);
  if (!q) return [];
  return q
    .orderBy("seq", page.newestFirst ? "desc" : "asc")
    .limit(page.top)
    .offset(page.skip)
    .execute();
}

/** Every matching record in chain order, a page at a time (for export). */
export async function* allAuditEvents(store: Store, f: AuditFilter, pageSize = 1000): AsyncGenerator<AuditRow> {
  await linkPendingAudit(store);
  let after: number | undefined;
  for (;;) {
    let q = await filtered(store, f);
    if (!q) return;
    if (after !== undefined) q = q.where("seq", ">", after);
    const rows = await q.orderBy("seq").limit(pageSize).execute();
    for (const r of rows) yield r;
    if (rows.length < pageSize) return;
    after = Number(rows[rows.length - 1]!.seq);
  }
}

/** The wire and export form of one record; `Details` as the object it was recorded as. */
export function auditView(r: AuditRow) {
  return {
    Seq: Number(r.seq),
    At: r.at,
    ActorUuid: r.actor_uuid,
    ActorName: r.actor_name,
    Action: r.action,
    TargetType: r.target_type,
    TargetUuid: r.target_uuid,
    RequestUuid: r.request_uuid,
    CorrelationId: r.correlation_id,
    Outcome: r.outcome,
    Details: safeJson(r.details),
    PrevHash: r.prev_hash,
    Hash: r.hash,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
