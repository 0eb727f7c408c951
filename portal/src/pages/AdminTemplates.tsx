// Profile templates as configured, read-only: certificate templates, smart card configuration
// and every workflow policy.
import { get, mapLimit } from "../api";
import { DefinitionList, Empty, ErrorMessage, Loading, PageTitle, Section, useApi } from "../components/ui";
import type { ClmRequest, Profile, ProfileTemplateLimitedView, ProfileTemplateView, Smartcard, WorkflowPolicy } from "../wire";

const PIN_OPTION: Record<number, string> = { 0: "None", 1: "User provided", 2: "Server distributed", 3: "Randomized" };
const KEY_USAGE = (bits: number) => [bits & 1 ? "decryption" : "", bits & 2 ? "signing" : "", bits & 4 ? "key agreement" : ""].filter(Boolean).join(", ") || "none";
const list = (l: string[] | undefined) => (l && l.length ? l.join(", ") : "—");
const yes = (b: boolean | undefined) => (b ? "yes" : "no");

function Policy({ name, p }: { name: string; p: WorkflowPolicy }) {
  return (
    <details className="policy">
      <summary>
        {name}
        {p.Enabled ? "" : " (disabled)"} · {p.ApprovalsNeeded > 0 ? `${p.ApprovalsNeeded} approval${p.ApprovalsNeeded > 1 ? "s" : ""}` : "auto-approved"}
        {p.SelfServiceEnabled ? " · self-service" : ""}
      </summary>
      <DefinitionList
        items={[
          ["Enabled", yes(p.Enabled)],
          ["Self-service", yes(p.SelfServiceEnabled)],
          ["Approvals needed", String(p.ApprovalsNeeded)],
          ["Authorized initiators", list(p.AuthorizedInitiator)],
          ["Authorized approvers", list(p.AuthorizedApprover)],
          ["Enrollment agents", list(p.AuthorizedEnrollmentAgent)],
          ["Helpdesk", list(p.AuthorizedHelpdesk)],
          ["Enrollment agent required", yes(p.EnrollAgentRequired)],
          ["Collects comments", yes(p.CollectComments)],
          ["Collects priority", p.CollectRequestPriority ? `yes (default ${p.DefaultRequestPriority})` : "no"],
          [
            "Data collection",
            p.DataCollection.length === 0
              ? "none"
              : p.DataCollection.map((d) => `${d.Name}${d.Required ? " (required)" : ""}${d.Validation?.Regex ? ` /${d.Validation.Regex}/` : ""}`).join("; "),
          ],
        ]}
      />
    </details>
  );
}

function Template({ t }: { t: ProfileTemplateView }) {
  const sc = t.SmartcardConfiguration;
  return (
    <article className="credential" aria-labelledby={`t-${t.Uuid}`}>
      <div className="credential-head">
        <h2 id={`t-${t.Uuid}`}>{t.Name}</h2>
        <span className="kind">
          {t.Kind} · version {t.Version}
        </span>
      </div>
      <p>{t.Description}</p>
      <DefinitionList items={[["Uuid", <code key="u">{t.Uuid}</code>]]} />
      <h3>Certificate templates</h3>
      <div className="table-wrap">
        <table className="table">
          <caption className="visually-hidden">Certificate templates of {t.Name}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Usage</th>
              <th scope="col">Subject</th>
              <th scope="col">Validity</th>
              <th scope="col">Key kept</th>
            </tr>
          </thead>
          <tbody>
            {t.CertificateTemplates.map((c) => (
              <tr key={c.TemplateCommonName}>
                <td>{c.TemplateCommonName}</td>
                <td>
                  {c.KeyAlgorithmName} {c.KeySize} · {c.HashAlgorithmNames.join("/")}
                  {c.IsServerGenerated ? " · server-generated" : ""}
                </td>
                <td>
                  {KEY_USAGE(c.KeyUsages)}; {c.ExtendedKeyUsages.join(", ")}
                </td>
                <td>
                  {c.Subject}
                  {c.SubjectAltNames.length ? ` · SAN ${c.SubjectAltNames.join(", ")}` : ""}
                </td>
                <td>{c.ValidityDays} days</td>
                <td>{c.IsArchived ? "archived" : "no"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sc && (
        <>
          <h3>Smart card configuration</h3>
          <DefinitionList
            items={[
              ["Diversified admin keys", yes(sc.DiversifyAdminKey)],
              ["User PIN", PIN_OPTION[sc.UserPinOption] ?? String(sc.UserPinOption)],
              ["PIN policy", `${sc.UserPinPolicy.MinLength}–${sc.UserPinPolicy.MaxLength} characters, ${sc.UserPinPolicy.CharacterSet}, ${sc.UserPinPolicy.MaxAttempts} attempts`],
              ["Virtual smart card", yes(sc.CreateVirtualSmartcard)],
              ["Reuse card on renew", yes(sc.ReuseCardOnRenew)],
            ]}
          />
        </>
      )}
      <h3>Workflow policies</h3>
      <div className="policies">
        {Object.entries(t.Policies).map(([name, p]) => (
          <Policy key={name} name={name} p={p} />
        ))}
      </div>
    </article>
  );
}

export function AdminTemplates() {
  // The API lists the templates one may enroll for; auditors read any template by id, so the
  // ids also come from the requests, cards and profiles they can see.
  const { data, error, loading } = useApi(async (signal) => {
    const [limited, requests, cards, profiles] = await Promise.all([
      get<ProfileTemplateLimitedView[]>("/profiletemplates", signal),
      get<ClmRequest[]>("/requests?top=1000", signal),
      get<Smartcard[]>("/smartcards?top=1000", signal),
      get<Profile[]>("/profiles?top=1000", signal),
    ]);
    const ids = new Set<string>([
      ...limited.map((t) => t.Uuid),
      ...requests.map((r) => r.ProfileTemplateUuid),
      ...cards.map((c) => c.ProfileTemplateUuid),
      ...profiles.map((p) => p.ProfileTemplateUuid),
    ].map((u) => u.toLowerCase()));
    const views = await mapLimit([...ids], 4, (id) => get<ProfileTemplateView>(`/profiletemplates/${id}`, signal));
    return views.sort((a, b) => a.Name.localeCompare(b.Name));
  }, []);
  return (
    <>
      <PageTitle lead="Read-only: profile templates come from the server's configuration file. Templates nobody has used yet appear once they are listed for enrollment or referenced by a request or credential.">
        Profile templates
      </PageTitle>
      <ErrorMessage error={error} title="The profile templates could not be loaded" />
      {loading && !data && <Loading what="profile templates" />}
      {data && data.length === 0 && <Empty>No profile templates are visible to you.</Empty>}
      {data && data.length > 0 && (
        <Section title={`${data.length} profile templates`}>
          <div className="credential-list">
            {data.map((t) => (
              <Template key={t.Uuid} t={t} />
            ))}
          </div>
        </Section>
      )}
    </>
  );
}
