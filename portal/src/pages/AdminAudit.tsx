// Audit search (GET /audit): filter by actor, action, request, target, outcome and time.
import { useState, type FormEvent } from "react";
import { get } from "../api";
import { formatDate, shortId } from "../format";
import { Link } from "../router";
import { Badge, Empty, Loading, PageTitle, useApi } from "../components/ui";
import { NotAvailable } from "./AdminUsers";

interface AuditEvent {
  Seq: number;
  At: string;
  ActorUuid: string | null;
  ActorName: string;
  Action: string;
  TargetType: string;
  TargetUuid: string | null;
  RequestUuid: string | null;
  CorrelationId: string;
  Outcome: string;
  Details: unknown;
}

interface Filter {
  actor: string;
  action: string;
  request: string;
  target: string;
  outcome: string;
  from: string;
  to: string;
  order: "desc" | "asc";
}

const EMPTY: Filter = { actor: "", action: "", request: "", target: "", outcome: "", from: "", to: "", order: "desc" };
const PAGE = 50;

const OUTCOME_TONE: Record<string, "good" | "bad"> = { success: "good", failure: "bad", denied: "bad" };

function details(d: unknown): string {
  if (d === null || d === undefined) return "";
  if (typeof d !== "object") return String(d);
  return Object.entries(d as Record<string, unknown>)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

export function AdminAudit() {
  const [form, setForm] = useState<Filter>(EMPTY);
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [skip, setSkip] = useState(0);
  const { data, error, loading } = useApi(
    (signal) => {
      const q = new URLSearchParams({ top: String(PAGE), skip: String(skip), order: filter.order });
      for (const k of ["actor", "action", "request", "target", "outcome"] as const) if (filter[k].trim()) q.set(k, filter[k].trim());
      if (filter.from) q.set("from", new Date(filter.from).toISOString());
      if (filter.to) q.set("to", new Date(filter.to).toISOString());
      return get<AuditEvent[]>(`/audit?${q.toString()}`, signal);
    },
    [filter, skip],
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSkip(0);
    setFilter({ ...form });
  };
  const set = (k: keyof Filter) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  return (
    <>
      <PageTitle lead="Every change, key release and sign-in, in a hash-chained trail.">Audit</PageTitle>
      <form className="form filter-grid" onSubmit={submit} aria-label="Audit search">
        <div className="field">
          <label htmlFor="audit-actor">Actor (user name)</label>
          <input id="audit-actor" value={form.actor} onChange={set("actor")} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="audit-action">Action (e.g. request.approve, or request.* )</label>
          <input id="audit-action" value={form.action} onChange={set("action")} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="audit-request">Request ID</label>
          <input id="audit-request" value={form.request} onChange={set("request")} autoComplete="off" spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor="audit-target">Target (object ID or user name)</label>
          <input id="audit-target" value={form.target} onChange={set("target")} autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="audit-outcome">Outcome</label>
          <select id="audit-outcome" value={form.outcome} onChange={set("outcome")}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
            <option value="denied">denied</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-from">From</label>
          <input id="audit-from" type="datetime-local" value={form.from} onChange={set("from")} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">Until</label>
          <input id="audit-to" type="datetime-local" value={form.to} onChange={set("to")} />
        </div>
        <div className="field">
          <label htmlFor="audit-order">Order</label>
          <select id="audit-order" value={form.order} onChange={set("order")}>
            <option value="desc">newest first</option>
            <option value="asc">oldest first</option>
          </select>
        </div>
        <div className="actions">
          <button type="submit">Search</button>
          <button
            type="button"
            className="button-secondary"
            onClick={() => {
              setForm(EMPTY);
              setFilter(EMPTY);
              setSkip(0);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error ? <NotAvailable error={error} what="Audit search" /> : null}
      {loading && <Loading what="audit events" />}
      {data && data.length === 0 && !loading && <Empty>No audit events match.</Empty>}
      {data && data.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="table table-audit">
              <caption>
                Events {skip + 1}–{skip + data.length}
              </caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Target</th>
                  <th scope="col">Request</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {data.map((e) => (
                  <tr key={e.Seq} data-action={e.Action}>
                    <td>{e.Seq}</td>
                    <td>{formatDate(e.At)}</td>
                    <td>{e.ActorName || "—"}</td>
                    <td>
                      <code>{e.Action}</code>
                    </td>
                    <td>
                      <Badge status={e.Outcome} tone={OUTCOME_TONE[e.Outcome]} />
                    </td>
                    <td>
                      {e.TargetType}
                      {e.TargetUuid ? ` ${shortId(e.TargetUuid)}` : ""}
                    </td>
                    <td>{e.RequestUuid ? <Link to={`/requests/${e.RequestUuid}`}>{shortId(e.RequestUuid)}</Link> : "—"}</td>
                    <td className="details">{details(e.Details)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="pager">
            <button type="button" className="button-secondary" disabled={skip === 0} onClick={() => setSkip(Math.max(0, skip - PAGE))}>
              Previous page
            </button>
            <button type="button" className="button-secondary" disabled={data.length < PAGE} onClick={() => setSkip(skip + PAGE)}>
              Next page
            </button>
          </div>
        </>
      )}
    </>
  );
}
