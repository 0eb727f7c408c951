// Start a request: an enrollment for a template, or an operation on an existing card or profile.
// The form is built from the template's workflow policy (data items, comment, priority).
import { useState, type FormEvent } from "react";
import { get, idOfCreated, post } from "../api";
import { Link, navigate } from "../router";
import { useTemplateName } from "../templates";
import { ErrorMessage, Loading, PageTitle, useApi } from "../components/ui";
import { OPERATIONS, type DataCollectionItem, type WorkflowPolicy } from "../wire";

export function validateItem(item: DataCollectionItem, value: string): string | null {
  const v = value.trim();
  if (v === "") return item.Required ? `${item.Name} is required` : null;
  const min = item.Validation?.MinLength ?? 0;
  const max = item.Validation?.MaxLength ?? 256;
  if (v.length < min) return `${item.Name} needs at least ${min} characters`;
  if (v.length > max) return `${item.Name} takes at most ${max} characters`;
  const re = item.Validation?.Regex;
  if (re) {
    let ok = true;
    try {
      ok = new RegExp(`^(?:${re})$`, "u").test(v);
    } catch {
      ok = true; // a pattern the browser cannot read: the server checks it
    }
    if (!ok) return `${item.Name} has the wrong format${item.Description ? ` (${item.Description})` : ""}`;
  }
  return null;
}

export interface RequestTarget {
  type: string;
  template: string;
  smartcard?: string;
  profile?: string;
  /** A user name: the helpdesk and enrollment agents act for someone else. */
  target?: string;
}

/** The request form for a workflow policy; calls onCreated with the new request's id. */
export function RequestForm({ target, policy, submitLabel, onCreated }: { target: RequestTarget; policy: WorkflowPolicy; submitLabel: string; onCreated: (id: string) => void }) {
  const items = policy.DataCollection ?? [];
  const [values, setValues] = useState<Record<string, string>>({});
  const [comment, setComment] = useState("");
  const [priority, setPriority] = useState(String(policy.DefaultRequestPriority ?? ""));
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const errors: Record<string, string> = {};
    for (const item of items) {
      const m = validateItem(item, values[item.Name] ?? "");
      if (m) errors[item.Name] = m;
    }
    if (policy.CollectComments && comment.trim() === "") errors["__comment"] = "A comment is required";
    setFieldErrors(errors);
    if (Object.keys(errors).length > 0) {
      const first = items.findIndex((i) => errors[i.Name]);
      document.getElementById(first >= 0 ? `item-${first}` : "comment")?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {
        type: target.type,
        datacollection: items.filter((i) => (values[i.Name] ?? "").trim() !== "").map((i) => ({ [i.Name]: values[i.Name]!.trim() })),
        comment: policy.CollectComments ? comment.trim() : "",
      };
      if (target.type === "Enroll" || target.type === "Duplicate" || target.type === "TemporaryEnroll") body.profiletemplateuuid = target.template;
      if (target.smartcard) body.smartcard = target.smartcard;
      if (target.profile) body.profile = target.profile;
      if (target.target) body.target = target.target;
      if (policy.CollectRequestPriority && priority.trim() !== "") body.priority = Number(priority);
      const created = await post<string>("/requests", body);
      onCreated(idOfCreated(created));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={(e) => void submit(e)} noValidate>
      <ErrorMessage error={error} title="The request was not created" />
      {items.length === 0 && !policy.CollectComments && <p className="muted">No further information is needed for this request.</p>}
      {items.map((item, i) => {
        const err = fieldErrors[item.Name];
        return (
          <div className="field" key={item.Name}>
            <label htmlFor={`item-${i}`}>
              {item.Name}
              {item.Required ? <span className="required"> (required)</span> : <span className="optional"> (optional)</span>}
            </label>
            {item.Description && (
              <p className="hint" id={`item-${i}-hint`}>
                {item.Description}
              </p>
            )}
            <input
              id={`item-${i}`}
              name={item.Name}
              value={values[item.Name] ?? ""}
              required={item.Required}
              maxLength={item.Validation?.MaxLength}
              aria-invalid={err ? true : undefined}
              aria-describedby={[item.Description ? `item-${i}-hint` : "", err ? `item-${i}-error` : ""].filter(Boolean).join(" ") || undefined}
              onChange={(e) => setValues({ ...values, [item.Name]: e.target.value })}
            />
            {err && (
              <p className="field-error" id={`item-${i}-error`}>
                {err}
              </p>
            )}
          </div>
        );
      })}
      {policy.CollectComments && (
        <div className="field">
          <label htmlFor="comment">
            Comment <span className="required">(required)</span>
          </label>
          <textarea
            id="comment"
            rows={3}
            value={comment}
            maxLength={1024}
            aria-invalid={fieldErrors["__comment"] ? true : undefined}
            aria-describedby={fieldErrors["__comment"] ? "comment-error" : undefined}
            onChange={(e) => setComment(e.target.value)}
          />
          {fieldErrors["__comment"] && (
            <p className="field-error" id="comment-error">
              {fieldErrors["__comment"]}
            </p>
          )}
        </div>
      )}
      {policy.CollectRequestPriority && (
        <div className="field">
          <label htmlFor="priority">Priority (0 is the highest, 255 the lowest)</label>
          <input id="priority" type="number" min={0} max={255} value={priority} onChange={(e) => setPriority(e.target.value)} />
        </div>
      )}
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Submitting…" : submitLabel}
        </button>
      </div>
    </form>
  );
}

export function NewRequest({ query }: { query: URLSearchParams }) {
  const templateName = useTemplateName();
  const type = query.get("type") ?? "Enroll";
  const template = query.get("template") ?? "";
  const smartcard = query.get("smartcard") ?? undefined;
  const profile = query.get("profile") ?? undefined;
  const { data: policy, error, loading } = useApi(
    (signal) => (template ? get<WorkflowPolicy>(`/profiletemplates/${encodeURIComponent(template)}/policies/${encodeURIComponent(type)}`, signal) : Promise.reject(new Error("No profile template was chosen."))),
    [template, type],
  );
  const name = templateName(template);
  const label = OPERATIONS[type.toLowerCase()]?.label ?? type;
  const what = smartcard ? `: ${name} card` : profile ? `: ${name} profile` : `: ${name}`;
  return (
    <>
      <PageTitle lead={smartcard || profile ? undefined : "Fill in what the policy asks for and submit."}>
        {type === "Enroll" ? `Request ${name}` : `${label}${what}`}
      </PageTitle>
      <p>
        <Link to={type === "Enroll" ? "/enroll" : "/"}>Back</Link>
      </p>
      <ErrorMessage error={error} title="This request cannot be started" />
      {loading && !policy && <Loading what="the request policy" />}
      {policy && (
        <>
          {policy.ApprovalsNeeded > 0 ? (
            <p className="alert alert-info">
              This request needs {policy.ApprovalsNeeded === 1 ? "one approval" : `${policy.ApprovalsNeeded} approvals`} before it can be carried out.
            </p>
          ) : (
            <p className="alert alert-info">This request is approved as soon as you submit it.</p>
          )}
          <RequestForm
            target={{ type, template, smartcard, profile }}
            policy={policy}
            submitLabel={type === "Recover" ? "Continue" : "Submit request"}
            onCreated={(id) => navigate(`/requests/${id}?created=1`)}
          />
        </>
      )}
    </>
  );
}
