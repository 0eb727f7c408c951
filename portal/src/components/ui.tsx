// Shared pieces: loading, empty and error states, status badges, the page heading.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api";

/** Loads data for a page; reload() runs the loader again. Aborted on unmount. */
export function useApi<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, loading: false }),
      (error: unknown) => !ctl.signal.aborted && setState({ error, loading: false }),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const message = e ? e.message : error instanceof Error ? error.message : String(error);
  return (
    <div className="alert alert-error" role="alert">
      <p className="alert-title">{title ?? "Something went wrong"}</p>
      <p className="alert-message">{message}</p>
      {e && (
        <p className="alert-meta">
          {e.status > 0 && <>HTTP {e.status} · </>}
          {e.code}
          {e.correlationId && (
            <>
              {" "}
              · reference <code className="correlation-id">{e.correlationId}</code>
            </>
          )}
        </p>
      )}
    </div>
  );
}

export function Success({ children }: { children: ReactNode }) {
  return (
    <div className="alert alert-success" role="status">
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

const TONE: Record<string, string> = {
  Active: "good",
  Valid: "good",
  Approved: "good",
  Completed: "good",
  Pending: "warn",
  Executing: "info",
  Assigned: "info",
  New: "info",
  Suspended: "warn",
  "On hold": "warn",
  Superseded: "muted",
  Expired: "muted",
  Retired: "muted",
  Canceled: "muted",
  Abandoned: "muted",
  Disabled: "bad",
  Revoked: "bad",
  Denied: "bad",
  Failed: "bad",
};

export function Badge({ status, tone }: { status: string; tone?: "good" | "warn" | "bad" | "info" | "muted" }) {
  return <span className={`badge badge-${tone ?? TONE[status] ?? "muted"}`}>{status}</span>;
}

/** The page's heading; it takes focus when the page changes, for screen-reader users. */
export function PageTitle({ children, lead, focus = true }: { children: ReactNode; lead?: ReactNode; focus?: boolean }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus({ preventScroll: true });
    document.title = `${ref.current?.textContent ?? ""} · OpenCLM`;
  }, [focus]);
  return (
    <header className="page-header">
      <h1 ref={ref} tabIndex={-1}>
        {children}
      </h1>
      {lead && <p className="lead">{lead}</p>}
    </header>
  );
}

/** A command to run, with a copy button. */
export function Command({ children, label }: { children: string; label: string }) {
  const [copied, setCopied] = useState<"" | "ok" | "fail">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(children);
      setCopied("ok");
    } catch {
      setCopied("fail");
    }
  };
  return (
    <div className="command">
      <pre aria-label={label} tabIndex={0}>
        <code>{children}</code>
      </pre>
      <button type="button" className="button-secondary" onClick={() => void copy()}>
        Copy
      </button>
      <span className="copy-state" role="status">
        {copied === "ok" ? "Copied" : copied === "fail" ? "Select the text and copy it" : ""}
      </span>
    </div>
  );
}

export function Section({ title, children, id, actions }: { title: string; children: ReactNode; id?: string; actions?: ReactNode }) {
  const hid = `${id ?? title.replace(/\W+/g, "-").toLowerCase()}-title`;
  return (
    <section className="section" aria-labelledby={hid} id={id}>
      <div className="section-head">
        <h2 id={hid}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function DefinitionList({ items }: { items: [string, ReactNode][] }) {
  return (
    <dl className="facts">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
