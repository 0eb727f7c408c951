// Sign-in with the local directory's password; the server answers a session cookie.
import { useState, type FormEvent } from "react";
import { call, SESSION } from "../api";
import type { SessionInfo } from "../session";
import { ErrorMessage, PageTitle } from "../components/ui";

export function Login({ onSignedIn, notice, methods }: { onSignedIn: (s: SessionInfo) => void; notice: string | null; methods?: SessionInfo["methods"] }) {
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
        <ErrorMessage error={error} title="Sign-in failed" />
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
          <p>Password sign-in is not enabled on this server.</p>
        )}
      </div>
    </main>
  );
}
