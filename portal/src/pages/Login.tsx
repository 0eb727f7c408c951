// Sign-in: single sign-on through the organisation's identity provider when the server offers it
// (a plain link: the server redirects to the provider and back), and the local directory's
// password when enabled. Either way the server answers with a session cookie.
import { useState, type FormEvent } from "react";
import { call, SESSION, type ApiError } from "../api";
import type { SessionInfo } from "../session";
import { SSO_START } from "../sso";
import { ErrorMessage, PageTitle } from "../components/ui";

export function Login({
  onSignedIn,
  notice,
  methods,
  ssoError = null,
}: {
  onSignedIn: (s: SessionInfo) => void;
  notice: string | null;
  methods?: SessionInfo["methods"];
  ssoError?: ApiError | null;
}) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await call<SessionInfo>("POST", SESSION, { body: { username: username.trim(), password } }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  const passwordEnabled = methods?.password !== false;
  const ssoEnabled = methods?.oidc === true;
  return (
    <main className="login" id="main">
      <div className="login-card">
        <p className="brand brand-large">
          <img src={`${import.meta.env.BASE_URL}favicon.svg`} alt="" width="36" height="36" /> OpenCLM
        </p>
        <PageTitle lead="Your smart cards, certificates and requests." focus={false}>
          Sign in
        </PageTitle>
        {notice && (
          <p className="alert alert-info" role="status">
            {notice}
          </p>
        )}
        <ErrorMessage error={error ?? ssoError} title={error ? "Sign-in failed" : "Single sign-on failed"} />
        {ssoEnabled && (
          <div className="sso">
            <a className="button" href={SSO_START}>
              Sign in with single sign-on
            </a>
            <p className="hint">With your organisation's account, through its identity provider.</p>
          </div>
        )}
        {ssoEnabled && passwordEnabled && (
          <p className="login-or" aria-hidden="true">
            or with a password
          </p>
        )}
        {passwordEnabled ? (
          <form onSubmit={(e) => void submit(e)} className="form" aria-describedby="login-help">
            <div className="field">
              <label htmlFor="username">User name</label>
              <input id="username" name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor="password">Password</label>
              <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
            </div>
            <button type="submit" disabled={busy}>
              {busy ? "Signing in…" : "Sign in"}
            </button>
            <p id="login-help" className="hint">
              Use your directory account. The session ends after 30 minutes without activity.
            </p>
          </form>
        ) : (
          !ssoEnabled && <p>Password sign-in is not enabled on this server.</p>
        )}
      </div>
    </main>
  );
}
