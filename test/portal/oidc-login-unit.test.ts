// OidcLogin alone, on a real (SQLite) store and a stand-in token endpoint: what a sign-on stores
// (nothing at the start, the used state's hash at the callback), its ten-minute expiry and single use, the https rule, the client secret's source,
// both ways of presenting the secret, and which token endpoint failures count against the caller.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OidcPortalConfig } from "../../src/config/types.js";
import type { AppContext } from "../../src/domain/services/context.js";
import { flowValues, OidcLogin, SsoFailure } from "../../src/http/oidc-login.js";
import type { OidcIdentities } from "../../src/http/oidc.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";

const T0 = new Date("2025-06-01T10:00:00Z").getTime();
const ENV = "OPENCLM_UNIT_OIDC_SECRET";

let dir: string;
let store: Store;
let tokenServer: Server | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "openclm-oidc-login-"));
  store = await openStore({ url: "sqlite:login.db", dataDir: dir });
});
afterEach(async () => {
  vi.useRealTimers();
  delete process.env[ENV];
  await new Promise<void>((r) => (tokenServer ? tokenServer.close(() => r()) : r()));
  tokenServer = undefined;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(over: Partial<OidcPortalConfig> = {}): OidcPortalConfig {
  return {
    clientId: "portal client",
    clientAuthMethod: "client_secret_basic",
    authorizationEndpoint: "https://idp.example.test/authorize?tenant=corp",
    tokenEndpoint: "https://idp.example.test/token",
    scopes: "openid profile email",
    ...over,
  };
}

function login(over: Partial<OidcPortalConfig> = {}): OidcLogin {
  const ctx = { store, publicBaseUrl: "https://clm.example.test" } as unknown as AppContext;
  return new OidcLogin(ctx, config(over), {} as OidcIdentities);
}

const usedStates = () => store.db.selectFrom("oidc_used_states").selectAll().execute();

async function failure(p: Promise<unknown>): Promise<SsoFailure> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SsoFailure) return e;
    throw e;
  }
  throw new Error("expected an SsoFailure");
}

/** A token endpoint answering `status` and `body`; records what it received. */
async function tokenEndpoint(status: number, body: unknown, extra: Record<string, string> = {}) {
  const seen: { headers: IncomingHttpHeaders; body: URLSearchParams }[] = [];
  tokenServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ headers: req.headers, body: new URLSearchParams(Buffer.concat(chunks).toString()) });
      res.writeHead(status, { "content-type": "application/json", ...extra });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => tokenServer!.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(tokenServer!.address() as AddressInfo).port}/token`, seen };
}

describe("OidcLogin", () => {
  it("sends the browser to the provider with PKCE S256, keeping the endpoint's own parameters, and writes nothing", async () => {
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const { cookie, location } = login().begin();
    expect(cookie).toMatch(new RegExp(`^${T0 / 1000}\\.[A-Za-z0-9_-]{43}$`));
    const url = new URL(location);
    const v = flowValues(cookie);
    expect(url.origin + url.pathname).toBe("https://idp.example.test/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      tenant: "corp",
      response_type: "code",
      client_id: "portal client",
      redirect_uri: "https://clm.example.test/portal/api/oidc/callback",
      scope: "openid profile email",
      state: v.state,
      nonce: v.nonce,
      code_challenge: createHash("sha256").update(v.verifier).digest("base64url"),
      code_challenge_method: "S256",
    });
    expect(v.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set([v.state, v.nonce, v.verifier]).size).toBe(3);
    expect(location).not.toContain(v.verifier);
    expect(location).not.toContain(cookie.split(".")[1]);
    expect(await usedStates()).toEqual([]);
  });

  it("uses the configured redirect URI when there is one", () => {
    const { location } = login({ redirectUri: "https://portal.example.test/cb" }).begin();
    expect(new URL(location).searchParams.get("redirect_uri")).toBe("https://portal.example.test/cb");
  });

  it("continues a sign-on once, only from the browser that started it, for ten minutes, and keeps only the state's hash", async () => {
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const l = login();
    const a = l.begin();
    const b = l.begin();
    const stateOf = (c: string) => flowValues(c).state;
    expect(await failure(l.resume(undefined, stateOf(a.cookie)))).toMatchObject({ code: "state", counted: true });
    expect(await failure(l.resume(b.cookie, stateOf(a.cookie)))).toMatchObject({ code: "state", reason: "state does not match this browser's sign-on" });
    expect(await failure(l.resume(a.cookie, undefined))).toMatchObject({ code: "invalid" });
    expect(await failure(l.resume("garbage", stateOf(a.cookie)))).toMatchObject({ code: "state", reason: "malformed sign-on cookie" });
    vi.setSystemTime(T0 + 9 * 60_000);
    expect(await l.resume(a.cookie, stateOf(a.cookie))).toEqual(flowValues(a.cookie));
    expect(await failure(l.resume(a.cookie, stateOf(a.cookie)))).toMatchObject({ code: "state", reason: "state already used" });
    const rows = await usedStates();
    expect(rows).toEqual([
      { state_hash: createHash("sha256").update(stateOf(a.cookie)).digest("base64url"), used_at: new Date(T0 + 9 * 60_000).toISOString(), expires_at: new Date(T0 + 10 * 60_000).toISOString() },
    ]);
    for (const value of [a.cookie, ...Object.values(flowValues(a.cookie))]) expect(JSON.stringify(rows)).not.toContain(value);
    vi.setSystemTime(T0 + 10 * 60_000 + 1);
    expect(await failure(l.resume(b.cookie, stateOf(b.cookie)))).toMatchObject({ code: "state", reason: "sign-on expired" });
  });

  it("cannot be kept alive by a made-up start time: the time is part of what the state is derived from", async () => {
    vi.useFakeTimers({ now: T0, toFake: ["Date"] });
    const l = login();
    const { cookie } = l.begin();
    const [, secret] = cookie.split(".");
    const later = `${T0 / 1000 + 3600}.${secret}`;
    // The browser's state with a moved start time no longer matches…
    expect(await failure(l.resume(later, flowValues(cookie).state))).toMatchObject({ reason: "state does not match this browser's sign-on" });
    // …and a cookie made up with a start in the future is refused as such.
    expect(await failure(l.resume(later, flowValues(later).state))).toMatchObject({ reason: "sign-on expired" });
    expect(await usedStates()).toEqual([]);
  });

  it("refuses plain-http endpoints off loopback, and a client secret variable that is not set", () => {
    expect(() => login({ tokenEndpoint: "http://idp.example.test/token" })).toThrow(/auth\.oidc\.portal\.tokenEndpoint: must be an https URL/);
    expect(() => login({ authorizationEndpoint: "http://10.0.0.1/authorize" })).toThrow(/authorizationEndpoint/);
    expect(() => login({ tokenEndpoint: "http://127.0.0.1:1/token" })).not.toThrow();
    expect(() => login({ clientSecretEnv: ENV })).toThrow(`the environment variable ${ENV} is not set`);
  });

  it("presents the client secret with HTTP Basic (form-encoded) or in the body, and a public client only its id", async () => {
    const ep = await tokenEndpoint(200, { id_token: "a.b.c", token_type: "Bearer" });
    process.env[ENV] = "s3cret:with spaces&more";
    const v = flowValues("x".repeat(43));
    expect(await login({ tokenEndpoint: ep.url, clientSecretEnv: ENV }).exchange("the-code", v)).toBe("a.b.c");
    expect(await login({ tokenEndpoint: ep.url, clientSecretEnv: ENV, clientAuthMethod: "client_secret_post" }).exchange("the-code", v)).toBe("a.b.c");
    expect(await login({ tokenEndpoint: ep.url }).exchange("the-code", v)).toBe("a.b.c");
    const [basicAuth, post, publicClient] = ep.seen;
    expect(Buffer.from(basicAuth!.headers.authorization!.replace(/^Basic /, ""), "base64").toString()).toBe("portal+client:s3cret%3Awith+spaces%26more");
    expect(Object.fromEntries(basicAuth!.body)).toEqual({ grant_type: "authorization_code", code: "the-code", redirect_uri: "https://clm.example.test/portal/api/oidc/callback", code_verifier: v.verifier });
    expect(post!.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(post!.body)).toMatchObject({ client_id: "portal client", client_secret: "s3cret:with spaces&more", code_verifier: v.verifier });
    expect(publicClient!.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(publicClient!.body)).toMatchObject({ client_id: "portal client", code_verifier: v.verifier });
    expect(publicClient!.body.has("client_secret")).toBe(false);
  });

  it("counts a refused code against the caller, but not a provider that is down, confused or redirecting", async () => {
    const v = flowValues("y".repeat(43));
    const refused = await tokenEndpoint(400, { error: "invalid_grant", error_description: "code <b>used</b>" });
    expect(await failure(login({ tokenEndpoint: refused.url }).exchange("c", v))).toMatchObject({ code: "rejected", reason: "token endpoint refused the code: invalid_grant", counted: true });
    await new Promise<void>((r) => tokenServer!.close(() => r()));

    const down = await tokenEndpoint(503, {});
    expect(await failure(login({ tokenEndpoint: down.url }).exchange("c", v))).toMatchObject({ code: "provider", reason: "token endpoint answered HTTP 503", counted: false });
    await new Promise<void>((r) => tokenServer!.close(() => r()));

    const confused = await tokenEndpoint(200, { access_token: "only" });
    expect(await failure(login({ tokenEndpoint: confused.url }).exchange("c", v))).toMatchObject({ code: "provider", counted: false });
    await new Promise<void>((r) => tokenServer!.close(() => r()));

    const moved = await tokenEndpoint(307, {}, { location: "https://elsewhere.example.test/token" });
    expect(await failure(login({ tokenEndpoint: moved.url }).exchange("c", v))).toMatchObject({ code: "provider", counted: false });
    expect(moved.seen).toHaveLength(1);
    await new Promise<void>((r) => tokenServer!.close(() => r()));
    tokenServer = undefined;

    expect(await failure(login({ tokenEndpoint: "http://127.0.0.1:1/token" }).exchange("c", v))).toMatchObject({ code: "provider", counted: false });
  });
});
