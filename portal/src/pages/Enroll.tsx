// Choose a profile template to enroll for.
import { get } from "../api";
import { Link } from "../router";
import { Empty, ErrorMessage, Loading, PageTitle, useApi } from "../components/ui";
import type { ProfileTemplateLimitedView } from "../wire";

export function kindOf(t: ProfileTemplateLimitedView): string {
  if (t.IsVirtualSmartcardProfileTemplate) return "Virtual smart card (TPM)";
  if (t.IsSmartcardProfileTemplate) return "Smart card";
  return "Software certificate (PFX)";
}

export function Enroll() {
  const { data, error, loading } = useApi((signal) => get<ProfileTemplateLimitedView[]>("/profiletemplates", signal), []);
  return (
    <>
      <PageTitle lead="Pick what you need. Requests that need an approval wait in an approver's queue; you will see them under My requests.">
        Request a certificate
      </PageTitle>
      <ErrorMessage error={error} title="The profile templates could not be loaded" />
      {loading && !data && <Loading what="profile templates" />}
      {data && data.length === 0 && (
        <Empty>
          <p>There is nothing you may request for yourself.</p>
          <p>Ask your administrator to give you access to a profile template.</p>
        </Empty>
      )}
      {data && data.length > 0 && (
        <ul className="template-list">
          {data.map((t) => (
            <li key={t.Uuid} className="template-item">
              <h2>{t.Name}</h2>
              <p className="kind">{kindOf(t)}</p>
              <p>{t.Description || "No description."}</p>
              <Link className="button" to={`/requests/new?type=Enroll&template=${t.Uuid}`} aria-label={`Request ${t.Name}`}>
                Request
              </Link>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
