// One request: where it stands (its status history), what was collected, and the next step —
// the client command for card-side steps, the PFX download for software profiles, completing a
// server-side operation, or cancelling.
import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError, get, post, put } from "../api";
import { clientSteps } from "../client-steps";
import { base64ToBytes, formatDate, shortId } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import { useTemplateName } from "../templates";
import { Badge, Command, DefinitionList, ErrorMessage, Loading, PageTitle, Section, Success, useApi } from "../components/ui";
import { RequestStatus, RequestStatusName, RequestTypeName, SERVER_ONLY, type ClmRequest, type IssuedCertificate, type Smartcard } from "../wire";

const ACTIVE: number[] = [RequestStatus.Approved, RequestStatus.Executing];
const PFX_TYPES = new Set([1, 2, 3, 8]);

interface Step {
  label: string;
  state: "done" | "current" | "todo" | "failed";
  detail?: string;
}

/** The request's history as steps, from what the request object tells. */
export function historyOf(r: ClmRequest): Step[] {
  const s = r.Status;
  const needed = r.ApprovalsNeeded ?? 0;
  const approvals = r.Approvals ?? 0;
  const steps: Step[] = [{ label: "Submitted", state: "done", detail: formatDate(r.Submitted) }];
  if (needed > 0) {
    if (s === RequestStatus.Pending) steps.push({ label: "Waiting for approval", state: "current", detail: `${approvals} of ${needed} approvals` });
    else if (s === RequestStatus.Denied) steps.push({ label: "Denied by an approver", state: "failed", detail: formatDate(r.Completed) });
    else if (s === RequestStatus.Canceled && approvals < needed) steps.push({ label: "Approval", state: "todo", detail: `${approvals} of ${needed} approvals` });
    else steps.push({ label: "Approved", state: "done", detail: `${approvals} of ${needed} approvals` });
  } else {
    steps.push({ label: "Approved automatically", state: "done", detail: "no approval needed" });
  }
  if (s === RequestStatus.Denied) return steps;
  if (s === RequestStatus.Approved) steps.push({ label: "Carried out", state: "current", detail: "waiting for the next step" });
  else if (s === RequestStatus.Executing) steps.push({ label: "Being carried out", state: "current", detail: "started" });
  else if (s === RequestStatus.Pending) steps.push({ label: "Carried out", state: "todo" });
  else if (s === RequestStatus.Completed) steps.push({ label: "Carried out", state: "done" });
  if (s === RequestStatus.Completed) steps.push({ label: "Completed", state: "done", detail: formatDate(r.Completed) });
  else if (s === RequestStatus.Canceled) steps.push({ label: "Canceled", state: "failed", detail: formatDate(r.Completed) });
  else if (s === RequestStatus.Abandoned) steps.push({ label: "Abandoned", state: "failed", detail: formatDate(r.Completed) });
  else if (s === RequestStatus.Failed) steps.push({ label: "Failed", state: "failed", detail: formatDate(r.Completed) });
  else steps.push({ label: "Completed", state: "todo" });
  return steps;
}

function History({ request }: { request: ClmRequest }) {
  return (
    <ol className="timeline" aria-label="Status history">
      {historyOf(request).map((s, i) => (
        <li key={i} className={`timeline-${s.state}`} aria-current={s.state === "current" ? "step" : undefined}>
          <span className="timeline-label">{s.label}</span>
          {s.detail && <span className="timeline-detail">{s.detail}</span>}
          <span className="visually-hidden">
            {s.state === "done" ? " (done)" : s.state === "current" ? " (current step)" : s.state === "failed" ? " (ended)" : " (to come)"}
          </span>
        </li>
      ))}
    </ol>
  );
}

function download(bytes: Uint8Array, name: string): void {
  const blob = new Blob([bytes as BlobPart], { type: "application/x-pkcs12" });
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

function PfxForm({ request, templateName, onDone }: { request: ClmRequest; templateName: string; onDone: () => void }) {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [files, setFiles] = useState<{ name: string; bytes: Uint8Array }[]>([]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password !== confirm) {
      setMismatch(true);
      document.getElementById("pfx-confirm")?.focus();
      return;
    }
    setMismatch(false);
    setBusy(true);
    setError(null);
    try {
      const issued = await post<IssuedCertificate[]>(`/requests/${request.Uuid}/certificatedata`, { certificaterequests: [], pfxpassword: password });
      const got = issued
        .filter((c) => c.Pfx)
        .map((c, i) => ({ name: `${(c.TemplateCommonName || templateName).replace(/[^\w.-]+/g, "_")}-${shortId(request.Uuid)}${i ? `-${i + 1}` : ""}.pfx`, bytes: base64ToBytes(c.Pfx!) }));
      setFiles(got);
      for (const f of got) download(f.bytes, f.name);
      setPassword("");
      setConfirm("");
      await put(`/requests/${request.Uuid}`, { status: "Completed" });
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      {files.length > 0 && (
        <Success>
          <p>Your PFX file was downloaded. Import it with the password you chose.</p>
          <ul>
            {files.map((f) => (
              <li key={f.name}>
                <button type="button" className="button-link" onClick={() => download(f.bytes, f.name)}>
                  Download {f.name} again
                </button>
              </li>
            ))}
          </ul>
        </Success>
      )}
      <ErrorMessage error={error} title="The PFX file could not be produced" />
      {files.length === 0 && (
        <form className="form" onSubmit={(e) => void submit(e)}>
          <p>The server generates the key and certificate and gives them to you as a PFX file protected by a password you choose now.</p>
          <div className="field">
            <label htmlFor="pfx-password">PFX password</label>
            <input id="pfx-password" type="password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="pfx-confirm">Repeat the password</label>
            <input
              id="pfx-confirm"
              type="password"
              autoComplete="new-password"
              required
              value={confirm}
              aria-invalid={mismatch || undefined}
              aria-describedby={mismatch ? "pfx-mismatch" : undefined}
              onChange={(e) => setConfirm(e.target.value)}
            />
            {mismatch && (
              <p className="field-error" id="pfx-mismatch">
                The two passwords differ.
              </p>
            )}
          </div>
          <div className="actions">
            <button type="submit" disabled={busy}>
              {busy ? "Preparing…" : "Download PFX"}
            </button>
          </div>
        </form>
      )}
    </>
  );
}

function StatusButton({ request, status, label, onDone, confirmText, secondary }: { request: ClmRequest; status: string; label: string; onDone: () => void; confirmText?: string; secondary?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [asking, setAsking] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await put(`/requests/${request.Uuid}`, { status });
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return (
    <div className="status-action">
      <ErrorMessage error={error} title={`The request could not be marked ${status}`} />
      {asking ? (
        <div className="confirm" role="group" aria-label={confirmText}>
          <p>{confirmText}</p>
          <button type="button" className={secondary ? "button-danger" : undefined} disabled={busy} onClick={() => void run()}>
            Yes, {label.toLowerCase()}
          </button>
          <button type="button" className="button-secondary" onClick={() => setAsking(false)}>
            No
          </button>
        </div>
      ) : (
        <button type="button" className={secondary ? "button-secondary" : undefined} disabled={busy} onClick={() => (confirmText ? setAsking(true) : void run())}>
          {busy ? "Working…" : label}
        </button>
      )}
    </div>
  );
}

export function RequestDetail({ id, created }: { id: string; created?: boolean }) {
  const { user } = useSession();
  const templateName = useTemplateName();
  const [changed, setChanged] = useState<string | null>(null);
  const { data, error, loading, reload } = useApi(
    async (signal) => {
      const r = await get<ClmRequest>(`/requests/${encodeURIComponent(id)}`, signal);
      const cardUuid = [r.NewSmartcardUuid, r.OldSmartcardUuid].find((u) => u && !u.startsWith("00000000"));
      const mayReadCard = r.TargetUserUuid === user.uuid || r.OriginatorUserUuid === user.uuid || user.isAuditor;
      let card: Smartcard | null = null;
      if (cardUuid && mayReadCard) {
        try {
          card = await get<Smartcard>(`/smartcards/${cardUuid}`, signal);
        } catch (e) {
          if (!(e instanceof ApiError) || e.status !== 404) throw e;
        }
      }
      return { request: r, card };
    },
    [id],
  );

  const done = (what: string) => () => {
    setChanged(what);
    reload();
  };

  if (error)
    return (
      <>
        <PageTitle>Request {shortId(id)}</PageTitle>
        <ErrorMessage error={error} title="This request could not be loaded" />
        <p>
          <Link to="/requests">Back to my requests</Link>
        </p>
      </>
    );
  if (!data)
    return (
      <>
        <PageTitle>Request {shortId(id)}</PageTitle>
        {loading && <Loading what="the request" />}
      </>
    );

  const { request: r, card } = data;
  const status = RequestStatusName[r.Status] ?? String(r.Status);
  const type = RequestTypeName[r.RequestType] ?? String(r.RequestType);
  const name = templateName(r.ProfileTemplateUuid, r.ProfileTemplateName);
  const executor = r.IsEnrollmentAgent ? r.OriginatorUserUuid : r.TargetUserUuid;
  const mayExecute = executor === user.uuid;
  const mayCancel = r.TargetUserUuid === user.uuid || r.OriginatorUserUuid === user.uuid || user.isAdmin;
  const active = ACTIVE.includes(r.Status);
  const steps = active && mayExecute && r.IsSmartcard ? clientSteps(r, card, user.name) : null;
  const helpdeskForOthers = r.RequestType === 12 && r.TargetUserUuid !== user.uuid && (user.isHelpdesk || user.isEnrollmentAgent);

  return (
    <>
      <PageTitle lead={`${type} · ${name}`}>Request {shortId(r.Uuid)}</PageTitle>
      <p>
        <Link to="/requests">Back to my requests</Link>
      </p>
      {created && !changed && (
        <Success>
          <p>
            Your request was submitted. Its status is <strong>{status}</strong>.
          </p>
        </Success>
      )}
      {changed && (
        <Success>
          <p>{changed}</p>
        </Success>
      )}
      <div className="detail-grid">
        <Section title="Status">
          <p className="status-line">
            <Badge status={status} />
          </p>
          <History request={r} />
        </Section>
        <Section title="Details">
          <DefinitionList
            items={[
              ["Request", <code key="id">{r.Uuid}</code>],
              ["Type", type],
              ["Profile template", name],
              ["Submitted", formatDate(r.Submitted)],
              ["Completed", formatDate(r.Completed)],
              ...(card ? ([["Card ID", <code key="card">{card.SerialNumber.replace(/[{}]/g, "")}</code>]] as [string, ReactNode][]) : []),
              ...(r.TargetUserName ? ([["For", r.TargetUserName]] as [string, string][]) : []),
              ...(r.IsEnrollmentAgent ? ([["Started by", r.OriginatorUserName ?? "an enrollment agent or the helpdesk"]] as [string, string][]) : []),
              ...(r.Comment ? ([["Comment", r.Comment]] as [string, string][]) : []),
            ]}
          />
          {r.DataCollection.length > 0 && (
            <>
              <h3>Information provided</h3>
              <DefinitionList items={r.DataCollection.map((d) => [d.Name, d.Value] as [string, string])} />
            </>
          )}
        </Section>
      </div>

      {(r.Status === RequestStatus.Pending || active) && (
        <Section title="Next step">
          {r.Status === RequestStatus.Pending && (
            <p>
              This request is waiting for {(r.ApprovalsNeeded ?? 0) - (r.Approvals ?? 0) === 1 ? "one approval" : `${(r.ApprovalsNeeded ?? 0) - (r.Approvals ?? 0)} approvals`}. You
              can leave this page; the request keeps its place in the approvers' queue.
            </p>
          )}
          {r.Status === RequestStatus.Pending && (user.isApprover || user.isAdmin) && r.TargetUserUuid !== user.uuid && r.OriginatorUserUuid !== user.uuid && (
            <p>
              <Link to="/approvals">Decide on it in the approval queue</Link>
            </p>
          )}
          {active && mayExecute && !r.IsSmartcard && PFX_TYPES.has(r.RequestType) && <PfxForm request={r} templateName={name} onDone={done("The request is completed.")} />}
          {active && mayExecute && SERVER_ONLY.has(r.RequestType) && (
            <>
              <p>The server carries this out alone. Complete it to apply it now.</p>
              <StatusButton request={r} status="Completed" label="Complete request" onDone={done("The request is completed.")} />
            </>
          )}
          {steps && (
            <>
              <p>{steps.text}</p>
              {steps.commands.map((c, i) => (
                <Command key={c} label={`Command ${i + 1} of ${steps.commands.length}`}>
                  {c}
                </Command>
              ))}
              <p className="hint">Add --password-env VAR and --yes to run it without questions. This page shows the new state once the client has finished.</p>
            </>
          )}
          {active && helpdeskForOthers && (
            <p>
              <Link to={`/helpdesk?request=${r.Uuid}`}>Answer the card's challenge on the helpdesk page</Link>
            </p>
          )}
          {active && !mayExecute && !helpdeskForOthers && r.TargetUserUuid === user.uuid && <p>An enrollment agent carries out this request for you.</p>}
          {mayCancel && (r.Status === RequestStatus.Pending || r.Status === RequestStatus.Approved) && (
            <StatusButton request={r} status="Canceled" label="Cancel request" secondary confirmText="Cancel this request? This cannot be undone." onDone={done("The request is canceled.")} />
          )}
          {mayExecute && r.Status === RequestStatus.Executing && (
            <StatusButton
              request={r}
              status="Abandoned"
              label="Abandon request"
              secondary
              confirmText="Abandon this request? Certificates already issued for it are revoked."
              onDone={done("The request is abandoned.")}
            />
          )}
        </Section>
      )}
    </>
  );
}
