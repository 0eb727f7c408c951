// The approver's queue: pending requests of other users, with what was collected; approve or
// deny with a comment.
import { useState, type ReactNode } from "react";
import { get, post } from "../api";
import { formatDate, shortId } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import { useTemplateName } from "../templates";
import { DefinitionList, Empty, ErrorMessage, Loading, PageTitle, Success, useApi } from "../components/ui";
import { RequestStatus, RequestStatusName, RequestTypeName, type ClmRequest } from "../wire";

function Decision({ request, onDecided }: { request: ClmRequest; onDecided: (r: ClmRequest, decision: string) => void }) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<"" | "Approve" | "Deny">("");
  const [error, setError] = useState<unknown>(null);
  const decide = async (decision: "Approve" | "Deny") => {
    setBusy(decision);
    setError(null);
    try {
      const r = await post<ClmRequest>(`/requests/${request.Uuid}/approvals`, { decision, comment: comment.trim() });
      onDecided(r, decision);
    } catch (e) {
      setError(e);
      setBusy("");
    }
  };
  const id = `comment-${request.Uuid}`;
  return (
    <div className="decision">
      <ErrorMessage error={error} title="Your decision was not recorded" />
      <div className="field">
        <label htmlFor={id}>Comment (optional, recorded with your decision)</label>
        <textarea id={id} rows={2} maxLength={1024} value={comment} onChange={(e) => setComment(e.target.value)} />
      </div>
      <div className="actions">
        <button type="button" disabled={busy !== ""} onClick={() => void decide("Approve")}>
          {busy === "Approve" ? "Approving…" : "Approve"}
        </button>
        <button type="button" className="button-danger" disabled={busy !== ""} onClick={() => void decide("Deny")}>
          {busy === "Deny" ? "Denying…" : "Deny"}
        </button>
      </div>
    </div>
  );
}

export function Approvals() {
  const { user } = useSession();
  const templateName = useTemplateName();
  const [decided, setDecided] = useState<{ request: ClmRequest; decision: string }[]>([]);
  const { data, error, loading, reload } = useApi(async (signal) => {
    const pending = await get<ClmRequest[]>("/requests?status=Pending&top=200", signal);
    // Never one's own: the server refuses those anyway.
    return pending.filter((r) => r.TargetUserUuid !== user.uuid && r.OriginatorUserUuid !== user.uuid);
  }, [user.uuid]);

  const onDecided = (r: ClmRequest, decision: string) => {
    setDecided((d) => [{ request: r, decision }, ...d]);
    reload();
  };
  const queue = (data ?? []).filter((r) => !decided.some((d) => d.request.Uuid === r.Uuid));

  return (
    <>
      <PageTitle lead="Requests waiting for your approval. You never see your own here.">Approvals</PageTitle>
      {decided.map((d) => (
        <Success key={d.request.Uuid}>
          <p>
            You {d.decision === "Approve" ? "approved" : "denied"} request {shortId(d.request.Uuid)}. Its status is now{" "}
            <strong>{RequestStatusName[d.request.Status] ?? d.request.Status}</strong>
            {d.request.Status === RequestStatus.Pending && ` (${d.request.Approvals ?? 0} of ${d.request.ApprovalsNeeded ?? 0} approvals)`}.
          </p>
        </Success>
      ))}
      {error ? (
        <>
          <ErrorMessage error={error} title="The queue could not be loaded" />
          <button type="button" onClick={reload}>
            Try again
          </button>
        </>
      ) : null}
      {loading && !data && <Loading what="the approval queue" />}
      {data && queue.length === 0 && (
        <Empty>
          <p>No requests are waiting for your approval.</p>
        </Empty>
      )}
      {queue.length > 0 && (
        <ul className="queue" aria-label="Pending requests">
          {queue.map((r) => (
            <li key={r.Uuid} className="queue-item" data-request={r.Uuid}>
              <article aria-labelledby={`q-${r.Uuid}`}>
                <h2 id={`q-${r.Uuid}`}>
                  {RequestTypeName[r.RequestType] ?? r.RequestType} · {templateName(r.ProfileTemplateUuid, r.ProfileTemplateName)}
                </h2>
                <DefinitionList
                  items={[
                    ["Request", <Link key="l" to={`/requests/${r.Uuid}`}>{r.Uuid}</Link>],
                    ["For user", r.TargetUserName ?? <code key="u">{r.TargetUserUuid}</code>],
                    ...(r.OriginatorUserUuid !== r.TargetUserUuid ? ([["Requested by", r.OriginatorUserName ?? <code key="o">{r.OriginatorUserUuid}</code>]] as [string, ReactNode][]) : []),
                    ["Submitted", formatDate(r.Submitted)],
                    ["Approvals", `${r.Approvals ?? 0} of ${r.ApprovalsNeeded ?? 0}`],
                    ...r.DataCollection.map((d) => [d.Name, d.Value] as [string, string]),
                    ...(r.Comment ? ([["Comment", r.Comment]] as [string, string][]) : []),
                  ]}
                />
                <Decision request={r} onDecided={onDecided} />
              </article>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
