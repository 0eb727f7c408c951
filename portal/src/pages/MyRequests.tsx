// My requests: the ones I am the target or originator of, newest first.
import { get } from "../api";
import { formatDate, shortId } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import { useTemplateName } from "../templates";
import { Badge, Empty, ErrorMessage, Loading, PageTitle, useApi } from "../components/ui";
import { RequestStatusName, RequestTypeName, type ClmRequest } from "../wire";

export function RequestsTable({ requests, caption, showTarget }: { requests: ClmRequest[]; caption: string; showTarget?: boolean }) {
  const templateName = useTemplateName();
  return (
    <div className="table-wrap">
      <table className="table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Submitted</th>
            <th scope="col">Request</th>
            {showTarget && <th scope="col">For</th>}
            <th scope="col">Status</th>
            <th scope="col">Approvals</th>
            <th scope="col">
              <span className="visually-hidden">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {requests.map((r) => (
            <tr key={r.Uuid} data-request={r.Uuid}>
              <td>{formatDate(r.Submitted)}</td>
              <td>
                {RequestTypeName[r.RequestType] ?? r.RequestType} · {templateName(r.ProfileTemplateUuid, r.ProfileTemplateName)}
              </td>
              {showTarget && <td>{r.TargetUserName ?? shortId(r.TargetUserUuid)}</td>}
              <td>
                <Badge status={RequestStatusName[r.Status] ?? String(r.Status)} />
              </td>
              <td>{(r.ApprovalsNeeded ?? 0) > 0 ? `${r.Approvals ?? 0} of ${r.ApprovalsNeeded}` : "not needed"}</td>
              <td>
                <Link to={`/requests/${r.Uuid}`} aria-label={`Details of request ${shortId(r.Uuid)}`}>
                  Details
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MyRequests() {
  const { user } = useSession();
  const { data, error, loading, reload } = useApi(async (signal) => {
    const all = await get<ClmRequest[]>("/requests?top=200", signal);
    return all.filter((r) => r.TargetUserUuid === user.uuid || r.OriginatorUserUuid === user.uuid);
  }, [user.uuid]);
  return (
    <>
      <PageTitle lead="Requests you made or that were made for you, with where each one stands.">My requests</PageTitle>
      {error ? (
        <>
          <ErrorMessage error={error} title="Your requests could not be loaded" />
          <button type="button" onClick={reload}>
            Try again
          </button>
        </>
      ) : null}
      {loading && !data && <Loading what="your requests" />}
      {data && data.length === 0 && (
        <Empty>
          <p>You have no requests yet.</p>
          <p>
            <Link to="/enroll">Request a certificate</Link> to start one.
          </p>
        </Empty>
      )}
      {data && data.length > 0 && <RequestsTable requests={data} caption="Your requests, newest first" showTarget={data.some((r) => r.TargetUserUuid !== user.uuid)} />}
    </>
  );
}
