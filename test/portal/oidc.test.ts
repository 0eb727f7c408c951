// Portal single sign-on (issue 8): the OpenID Connect authorization-code flow with PKCE against a
// loopback provider (./idp.ts), driven with fetch and a hand-carried cookie jar. A first-time user
// is provisioned with the provider's groups and lands signed in; a wrong, replayed or foreign
// state, an intercepted code, and ID tokens with the wrong nonce, audience, issuer, signature or
// lifetime are refused and land on the sign-in page with an error; failures are audited and
// counted per address; and no code, token, state, verifier, cookie or CSRF token reaches the log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { basic, configYaml, personas, rawSql, writeConfig } from "../security/support.js";
import { authorize, finishSso, ssoSignIn, startSso, TestIdp, type Tamper } from "./idp.js";

const SECRET_ENV = "OPENCLM_TEST_OIDC_CLIENT_SECRET";
const P = personas();
const dave = basic(P.dave.user, P.dave.password);

let idp: TestIdp;
let server: TestServer;
/** Session cookies and CSRF tokens the server handed out: they must not be in its log either. */
const handedOut = new Set<string>();

const http = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { redirect: "manual", ...init });
const sessionOf = async (cookie: string) => (await http("/portal/api/session", { headers: { cookie } })).json();
const errorOf = (location: string) => new URL(location, "http://x").searchParams.get("sso_error");

async function audit(query: string): Promise<any[]> {
  const r = await call(server, "GET", `/audit?${query}&order=desc&top=200`, { headers: dave });
  expect(r.status, r.text).toBe(200);
  return r.body;
}

beforeAll(async () => {
  const clientSecret = `cs-${Math.random().toString(36).slice(2)}A1`;
  idp = await TestIdp.start({ clientSecret });
  idp.secrets.add(clientSecret);
  const config = writeConfig(configYaml([P.dave, P.alice], { auth: idp.authYaml({ secretEnv: SECRET_ENV }) }));
  server = await startServer({ demo: false, args: ["--config", config], env: { [SECRET_ENV]: clientSecret } });
});
afterAll(async () => {
  await server?.stop();
  await idp?.close();
});

describe("portal single sign-on", () => {
  it("tells the portal that single sign-on is available, beside the password", async () => {
    expect((await sessionOf("")).methods).toEqual({ password: true, oidc: true });
  });

  it("starts with PKCE (S256), state and nonce, and a short-lived HttpOnly SameSite=Lax cookie for the callback only", async () => {
    const start = await startSso(server);
    const q = start.authorizeUrl.searchParams;
    expect(`${start.authorizeUrl.origin}${start.authorizeUrl.pathname}`).toBe(`${idp.url}/authorize`);
    expect(Object.fromEntries(q)).toMatchObject({
      response_type: "code",
      client_id: "openclm-portal",
      redirect_uri: `${server.url}/portal/api/oidc/callback`,
      scope: "openid profile",
      code_challenge_method: "S256",
    });
    for (const k of ["state", "nonce", "code_challenge"]) expect(q.get(k), k).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set([q.get("state"), q.get("nonce"), q.get("code_challenge")]).size).toBe(3);
    expect(start.setCookie).toMatch(/^openclm_oidc=\d+\.[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/portal\/api\/oidc\/callback; HttpOnly; SameSite=Lax$/);
    // The browser's secret is not in the URL, and every sign-on gets its own values.
    expect(start.authorizeUrl.toString()).not.toContain(start.flowCookie.split(".")[1]);
    handedOut.add(start.flowCookie.split(".")[1]!);
    expect((await startSso(server)).authorizeUrl.searchParams.get("state")).not.toBe(q.get("state"));
  });

  it("signs a first-time user in: provisioned, with the provider's groups, audited, landing on the portal", async () => {
    const before = await call(server, "GET", "/admin/users/olga", { headers: dave });
    expect(before.status).toBe(404);
    const r = await ssoSignIn(server);
    expect(r.status).toBe(302);
    expect(r.location).toBe("/portal/");
    expect(r.setCookies.find((c) => c.startsWith("openclm_oidc="))).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect(r.setCookies.find((c) => c.startsWith("openclm_session="))).toMatch(/HttpOnly; SameSite=Strict$/);
    const cookie = r.sessionCookie!;
    const s = await sessionOf(cookie);
    expect(s.user).toMatchObject({ name: "olga", displayName: "Olga Oidc", email: "olga@example.test", groups: ["cm-auditors"], isAuditor: true, isAdmin: false });
    handedOut.add(cookie.split("=")[1]!).add(s.csrfToken);

    // The directory now holds olga as an OIDC user without local groups: the claim's count for the session.
    const olga = await call(server, "GET", "/admin/users/olga", { headers: dave });
    expect(olga.body).toMatchObject({ Name: "olga", Source: "oidc", HasPassword: false, Groups: [] });
    expect((await http("/CertificateManagement/api/v1.0/audit?top=1", { headers: { cookie } })).status).toBe(200);
    // State changes need the CSRF token, as for password sessions.
    const put = (csrf?: string) =>
      http("/CertificateManagement/api/v1.0/admin/users/olga", { method: "PUT", headers: { cookie, "content-type": "application/json", ...(csrf ? { "x-csrf-token": csrf } : {}) }, body: "{}" });
    const noToken = await put();
    expect(noToken.status).toBe(403);
    expect((await noToken.json()).ErrorCode).toBe("CsrfTokenInvalid");
    const withToken = await put(s.csrfToken); // past the CSRF check; an auditor may not change users
    expect(withToken.status).toBe(403);
    expect((await withToken.json()).ErrorCode).not.toBe("CsrfTokenInvalid");

    const logins = await audit("action=portal.login&actor=olga");
    expect(logins[0]).toMatchObject({ Outcome: "success", Details: { method: "oidc", groups: ["cm-auditors"] } });
    expect((await audit("action=user.provision")).map((e) => e.ActorName)).toContain("olga");
    const rows = await rawSql(server.dataDir, "select method, idp_groups from portal_sessions where id = ?", [hash(cookie.split("=")[1]!)]);
    expect(rows).toEqual([{ method: "oidc", idp_groups: '["cm-auditors"]' }]);
  });

  it("signs a known user in as that user, and a second sign-in replaces the browser's session", async () => {
    idp.user = { preferred_username: "alice", groups: [] };
    try {
      const first = await ssoSignIn(server);
      expect((await sessionOf(first.sessionCookie!)).user).toMatchObject({ name: "alice", groups: ["cm-users"] });
      const start = await startSso(server);
      const callback = await authorize(start);
      const res = await fetch(new URL(`${callback.pathname}${callback.search}`, server.url), {
        redirect: "manual",
        headers: { cookie: `${start.flowCookie}; ${first.sessionCookie}` },
      });
      expect(res.status).toBe(302);
      expect((await sessionOf(first.sessionCookie!)).user).toBeNull();
    } finally {
      idp.user = { preferred_username: "olga", name: "Olga Oidc", email: "olga@example.test", groups: ["cm-auditors"] };
    }
  });

  it("refuses a callback whose state is wrong, missing its cookie, or already used", async () => {
    const start = await startSso(server);
    const callback = await authorize(start);
    const forged = new URL(callback);
    forged.searchParams.set("state", "A".repeat(43));
    const wrong = await finishSso(server, forged, start.flowCookie);
    expect(wrong.status).toBe(302);
    expect(errorOf(wrong.location)).toBe("state");
    expect(wrong.sessionCookie).toBeUndefined();
    // Another browser (no cookie) cannot finish it: login CSRF with an attacker's code fails here.
    const elsewhere = await finishSso(server, callback);
    expect(errorOf(elsewhere.location)).toBe("state");
    // The real one still works once, and never again.
    handedOut.add(start.flowCookie.split(".")[1]!);
    const ok = await finishSso(server, callback, start.flowCookie);
    expect(ok.location).toBe("/portal/");
    expect(ok.sessionCookie).toBeDefined();
    handedOut.add(ok.sessionCookie!.split("=")[1]!);
    const replay = await finishSso(server, callback, start.flowCookie);
    expect(errorOf(replay.location)).toBe("state");
    expect(replay.sessionCookie).toBeUndefined();
    expect(replay.location).toMatch(/^\/portal\/\?sso_error=state&ref=[0-9a-f-]{36}$/);
  });

  it("refuses an intercepted code used in another sign-on: the provider checks the PKCE verifier", async () => {
    const victim = await startSso(server);
    const victimCallback = await authorize(victim);
    const attacker = await startSso(server);
    const attackerCallback = await authorize(attacker);
    const injected = new URL(attackerCallback);
    injected.searchParams.set("code", victimCallback.searchParams.get("code")!);
    const refusalsBefore = idp.refusals.length;
    const r = await finishSso(server, injected, attacker.flowCookie);
    expect(errorOf(r.location)).toBe("rejected");
    expect(r.sessionCookie).toBeUndefined();
    expect(idp.refusals.slice(refusalsBefore)).toEqual(["PKCE verifier"]);
    const failures = await audit("action=auth.failure");
    expect(failures[0]).toMatchObject({ Details: { method: "oidc", reason: "token endpoint refused the code: invalid_grant", address: "127.0.0.1" } });
  });

  it("refuses ID tokens with the wrong nonce, audience, issuer, authorized party or signature, or expired", async () => {
    const expected: Record<Tamper, string> = {
      nonce: "nonce mismatch",
      audience: "ERR_JWT_CLAIM_VALIDATION_FAILED (aud)",
      issuer: "ERR_JWT_CLAIM_VALIDATION_FAILED (iss)",
      azp: "azp is another client",
      signature: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
      expired: "ERR_JWT_EXPIRED (exp)",
    };
    try {
      for (const [tamper, reason] of Object.entries(expected) as [Tamper, string][]) {
        idp.tamper = tamper;
        const r = await ssoSignIn(server);
        expect(r.status, tamper).toBe(302);
        expect(errorOf(r.location), tamper).toBe("token");
        expect(r.sessionCookie, tamper).toBeUndefined();
        expect((await audit("action=auth.failure"))[0].Details, tamper).toMatchObject({ method: "oidc", reason });
        expect((await audit("action=portal.login"))[0], tamper).toMatchObject({ Outcome: "failure", Details: { method: "oidc", reason } });
      }
    } finally {
      idp.tamper = undefined;
    }
  });

  it("reports the provider's refusal by code only, never its text", async () => {
    idp.authorizeError = { error: "access_denied", description: "<script>alert('x')</script> Olga said no" };
    try {
      const r = await ssoSignIn(server);
      expect(errorOf(r.location)).toBe("denied");
      expect(r.location).not.toMatch(/script|Olga/);
      expect((await audit("action=portal.login"))[0].Details).toEqual({ method: "oidc", reason: "provider answered access_denied" });
    } finally {
      idp.authorizeError = undefined;
    }
  });

  it("refuses malformed callbacks with a redirect, not a crash", async () => {
    const start = await startSso(server);
    const callback = await authorize(start);
    const long = new URL(callback);
    long.searchParams.set("code", "x".repeat(5000));
    expect(errorOf((await finishSso(server, long, start.flowCookie)).location)).toBe("invalid");
    const twice = new URL(`${callback}&state=${callback.searchParams.get("state")}`);
    expect(errorOf((await finishSso(server, twice, start.flowCookie)).location)).toBe("invalid");
    const noCode = new URL(callback);
    noCode.searchParams.delete("code");
    expect(errorOf((await finishSso(server, noCode, start.flowCookie)).location)).toBe("invalid");
    // RFC 9207: an answer that names another issuer is a mix-up.
    const next = await startSso(server);
    const otherIssuer = await authorize(next);
    otherIssuer.searchParams.set("iss", "https://evil.example.test");
    expect(errorOf((await finishSso(server, otherIssuer, next.flowCookie)).location)).toBe("token");
  });

  it("refuses a disabled user, and ends their portal sessions", async () => {
    const live = await ssoSignIn(server);
    expect((await sessionOf(live.sessionCookie!)).user).toMatchObject({ name: "olga" });
    const off = await call(server, "PUT", "/admin/users/olga", { headers: dave, body: { disabled: true } });
    expect(off.status, off.text).toBe(200);
    try {
      expect((await sessionOf(live.sessionCookie!)).user).toBeNull();
      const r = await ssoSignIn(server);
      expect(errorOf(r.location)).toBe("account");
      expect(r.sessionCookie).toBeUndefined();
    } finally {
      await call(server, "PUT", "/admin/users/olga", { headers: dave, body: { disabled: false } });
    }
  });

  it("writes no code, token, state, nonce, verifier, client secret, cookie or CSRF token to the log", async () => {
    await new Promise((r) => setTimeout(r, 300));
    const log = readFileSync(server.logFile, "utf8");
    expect(idp.secrets.size).toBeGreaterThan(50);
    expect(handedOut.size).toBeGreaterThan(2);
    for (const s of [...idp.secrets, ...handedOut]) expect(log.includes(s), `a secret of ${s.length} characters is in the log`).toBe(false);
    // The callbacks were logged, without their query.
    expect(log).toContain('"url":"/portal/api/oidc/callback"');
    // Nor in the audit trail.
    const trail = JSON.stringify(await audit("action=*"));
    for (const s of [...idp.secrets, ...handedOut]) expect(trail.includes(s)).toBe(false);
  });
});

describe("portal single sign-on failure limits", () => {
  let limited: TestServer;
  beforeAll(async () => {
    const config = writeConfig(configYaml([P.dave], { auth: idp.authYaml({ secretEnv: SECRET_ENV, maxFailures: 3 }) }));
    limited = await startServer({ demo: false, args: ["--config", config], env: { [SECRET_ENV]: idp.clientSecret! } });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it("counts failed callbacks per address and then refuses even a valid sign-on until the window passes", async () => {
    for (let i = 0; i < 3; i++) {
      const start = await startSso(limited);
      const callback = await authorize(start);
      callback.searchParams.set("state", `forged-${i}`);
      expect(errorOf((await finishSso(limited, callback, start.flowCookie)).location)).toBe("state");
    }
    const start = await fetch(`${limited.url}/portal/api/oidc/start`, { redirect: "manual" });
    expect(errorOf(start.headers.get("location")!)).toBe("limited");
    const r = await fetch(`${limited.url}/portal/api/oidc/callback?code=x&state=y`, { redirect: "manual" });
    expect(errorOf(r.headers.get("location")!)).toBe("limited");
  });
});

function hash(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}
