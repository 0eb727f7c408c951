// The portal shell: the session, sign-in, navigation by role, and the page for the current path.
import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, call, get, onUnauthorized, SESSION, setCsrfToken } from "./api";
import { Link, match, navigate, useLocation } from "./router";
import { SessionContext, type PortalUser, type SessionInfo } from "./session";
import { TemplatesContext, type TemplatesValue } from "./templates";
import { ErrorMessage, Loading, PageTitle } from "./components/ui";
import { Login } from "./pages/Login";
import { takeSsoError } from "./sso";
import { MyCredentials } from "./pages/MyCredentials";
import { Enroll } from "./pages/Enroll";
import { MyRequests } from "./pages/MyRequests";
import { NewRequest } from "./pages/NewRequest";
import { RequestDetail } from "./pages/RequestDetail";
import { Approvals } from "./pages/Approvals";
import { Helpdesk } from "./pages/Helpdesk";
import { AdminUsers } from "./pages/AdminUsers";
import { AdminTemplates } from "./pages/AdminTemplates";
import { AdminAudit } from "./pages/AdminAudit";
import { AdminCa } from "./pages/AdminCa";
import type { ProfileTemplateLimitedView } from "./wire";

interface NavItem {
  to: string;
  label: string;
  show: (u: PortalUser) => boolean;
}

const NAV: { label: string; items: NavItem[] }[] = [
  {
    label: "Self-service",
    items: [
      { to: "/", label: "My cards", show: () => true },
      { to: "/enroll", label: "Request a certificate", show: () => true },
      { to: "/requests", label: "My requests", show: () => true },
    ],
  },
  {
    label: "Work",
    items: [
      { to: "/approvals", label: "Approvals", show: (u) => u.isApprover },
      { to: "/helpdesk", label: "Helpdesk", show: (u) => u.isHelpdesk || u.isEnrollmentAgent || u.isAdmin },
    ],
  },
  {
    label: "Administration",
    items: [
      { to: "/admin/users", label: "Users and groups", show: (u) => u.isAdmin },
      { to: "/admin/templates", label: "Profile templates", show: (u) => u.isAdmin || u.isAuditor },
      { to: "/admin/audit", label: "Audit", show: (u) => u.isAuditor || u.isAdmin },
      { to: "/admin/ca", label: "CA and CRL", show: (u) => u.isAdmin || u.isAuditor },
    ],
  },
];

export function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [ssoError] = useState(takeSsoError);

  useEffect(() => {
    const ctl = new AbortController();
    setLoadError(null);
    get<SessionInfo>(SESSION, ctl.signal).then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      (e: unknown) => !ctl.signal.aborted && setLoadError(e),
    );
    return () => ctl.abort();
  }, [attempt]);

  useEffect(
    () =>
      onUnauthorized(() => {
        setCsrfToken(null);
        setSession((s) => ({ ...(s ?? {}), user: null, csrfToken: null }));
        setNotice("Your session has ended. Sign in again to continue.");
      }),
    [],
  );

  const signedIn = useCallback((s: SessionInfo) => {
    setCsrfToken(s.csrfToken);
    setNotice(null);
    setSession(s);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await call("DELETE", SESSION);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
    }
    setCsrfToken(null);
    setSession((s) => ({ ...(s ?? {}), user: null, csrfToken: null }));
    setNotice("You have signed out.");
    navigate("/", { replace: true });
  }, []);

  if (loadError)
    return (
      <main className="centered" id="main">
        <PageTitle>OpenCLM is not reachable</PageTitle>
        <ErrorMessage error={loadError} title="The portal could not ask the server who you are" />
        <button type="button" onClick={() => setAttempt((a) => a + 1)}>
          Try again
        </button>
      </main>
    );
  if (!session)
    return (
      <main className="centered" id="main">
        <Loading what="the portal" />
      </main>
    );
  if (!session.user) return <Login onSignedIn={signedIn} notice={notice} methods={session.methods} ssoError={ssoError} />;
  return <Shell user={session.user} signOut={signOut} />;
}

function Shell({ user, signOut }: { user: PortalUser; signOut: () => Promise<void> }) {
  const loc = useLocation();
  const [templates, setTemplates] = useState<TemplatesValue>({ list: [], byUuid: new Map() });
  const [signOutError, setSignOutError] = useState<unknown>(null);

  useEffect(() => {
    const ctl = new AbortController();
    get<ProfileTemplateLimitedView[]>("/profiletemplates", ctl.signal).then(
      (list) => setTemplates({ list, byUuid: new Map(list.map((t) => [t.Uuid.toLowerCase(), t])) }),
      () => {
        /* names fall back to short ids; the pages that need the list load it themselves */
      },
    );
    return () => ctl.abort();
  }, [user.name]);

  const session = useMemo(() => ({ user, signOut }), [user, signOut]);
  const page = route(loc.path, loc.query, user);

  return (
    <SessionContext.Provider value={session}>
      <TemplatesContext.Provider value={templates}>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <Link to="/" className="brand" aria-label="OpenCLM home">
            <img src={`${import.meta.env.BASE_URL}favicon.svg`} alt="" width="28" height="28" />
            <span>OpenCLM</span>
          </Link>
          <div className="whoami">
            <span className="whoami-name" data-testid="whoami">
              {user.displayName || user.name}
              <span className="whoami-login"> ({user.name})</span>
            </span>
            <button
              type="button"
              className="button-secondary"
              onClick={() => {
                setSignOutError(null);
                signOut().catch(setSignOutError);
              }}
            >
              Sign out
            </button>
          </div>
        </header>
        <nav className="mainnav" aria-label="Main">
          {NAV.map((group) => {
            const items = group.items.filter((i) => i.show(user));
            if (items.length === 0) return null;
            return (
              <div className="nav-group" key={group.label}>
                <span className="nav-group-label">{group.label}</span>
                <ul>
                  {items.map((i) => {
                    const active = i.to === "/" ? loc.path === "/" : loc.path === i.to || loc.path.startsWith(`${i.to}/`);
                    return (
                      <li key={i.to}>
                        <Link to={i.to} aria-current={active ? "page" : undefined}>
                          {i.label}
                        </Link>
                      </li>
                    );
                  })}
                </ul>
              </div>
            );
          })}
        </nav>
        <main id="main" className="content">
          {signOutError ? <ErrorMessage error={signOutError} title="Signing out failed" /> : null}
          <div key={loc.path}>{page}</div>
        </main>
        <footer className="footer">
          <p>
            OpenCLM · Certificate Management API v1.0 · <Link to="/admin/ca">CA certificates and CRL</Link>
          </p>
        </footer>
      </TemplatesContext.Provider>
    </SessionContext.Provider>
  );
}

function route(path: string, query: URLSearchParams, user: PortalUser): ReactNode {
  if (path === "/" || path === "/login") return <MyCredentials />;
  if (path === "/enroll") return <Enroll />;
  if (path === "/requests") return <MyRequests />;
  if (path === "/requests/new") return <NewRequest query={query} />;
  const req = match("/requests/:id", path);
  if (req) return <RequestDetail id={req.id!} created={query.get("created") === "1"} />;
  if (path === "/approvals") return <Approvals />;
  if (path === "/helpdesk") return <Helpdesk query={query} />;
  if (path === "/admin/users") return guard(user.isAdmin, <AdminUsers />);
  if (path === "/admin/templates") return guard(user.isAdmin || user.isAuditor, <AdminTemplates />);
  if (path === "/admin/audit") return guard(user.isAdmin || user.isAuditor, <AdminAudit />);
  if (path === "/admin/ca") return <AdminCa />;
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <p>
        There is no page at this address. <Link to="/">Go to your cards</Link>.
      </p>
    </>
  );
}

function guard(allowed: boolean, page: ReactNode): ReactNode {
  if (allowed) return page;
  return (
    <>
      <PageTitle>Not available to you</PageTitle>
      <p>This page is for administrators and auditors.</p>
    </>
  );
}
