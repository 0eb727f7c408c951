// A loopback OpenID provider for the single sign-on tests. /authorize approves the current test
// user at once and sends the browser back with a code; /token checks the client, the redirect URI
// and the PKCE verifier against the S256 challenge /authorize received, and answers an ID token
// signed with an RS256 key (or a deliberately wrong one: `tamper`); /jwks publishes the key. Every
// secret it hands out or receives is remembered, so tests can check that none reaches a log.
// Also the client side of a sign-on done with fetch and a cookie jar instead of a browser.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";

export interface IdpUser {
  preferred_username: string;
  name?: string;
  email?: string;
  groups?: string[];
}

export type Tamper = "nonce" | "audience" | "expired" | "issuer" | "signature" | "azp";

interface Grant {
  clientId: string;
  challenge: string;
  nonce: string;
  redirectUri: string;
  user: IdpUser;
  used: boolean;
}

export class TestIdp {
  user: IdpUser = { preferred_username: "olga", name: "Olga Oidc", email: "olga@example.test", groups: ["cm-auditors"] };
  tamper: Tamper | undefined;
  /** /authorize answers with this error instead of a code (the user declined, say). */
  authorizeError: { error: string; description: string } | undefined;
  /** Every code, token, state, nonce, challenge and verifier the provider saw or made. */
  readonly secrets = new Set<string>();
  /** Why /token refused, in order. */
  readonly refusals: string[] = [];
  private readonly grants = new Map<string, Grant>();
  private jwk!: JWK;
  private privateKey!: CryptoKey;
  private otherKey!: CryptoKey;
  private server!: Server;
  url = "";

  private constructor(
    readonly clientId: string,
    /** When set, /token requires it with HTTP Basic (a confidential client). */
    readonly clientSecret: string | undefined,
  ) {}

  static async start(opts: { clientId?: string; clientSecret?: string } = {}): Promise<TestIdp> {
    const idp = new TestIdp(opts.clientId ?? "openclm-portal", opts.clientSecret);
    const key = await generateKeyPair("RS256", { extractable: true });
    idp.privateKey = key.privateKey;
    idp.otherKey = (await generateKeyPair("RS256")).privateKey;
    idp.jwk = { ...(await exportJWK(key.publicKey)), kid: "idp-1", alg: "RS256", use: "sig" };
    idp.server = createServer((req, res) => {
      idp.handle(req).then(
        ({ status, headers, body }) => {
          res.writeHead(status, headers);
          res.end(body);
        },
        (e: Error) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(e.message);
        },
      );
    });
    await new Promise<void>((r) => idp.server.listen(0, "127.0.0.1", r));
    idp.url = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;
    return idp;
  }

  get issuer(): string {
    return this.url;
  }

  /** `auth.oidc` of a server configuration that trusts this provider (a public client unless `secretEnv`). */
  oidcConfig(opts: { secretEnv?: string; redirectUri?: string } = {}): Record<string, unknown> {
    return {
      issuer: this.issuer,
      audience: "openclm-api",
      jwksUrl: `${this.url}/jwks`,
      clockSkewSeconds: 30,
      portal: {
        clientId: this.clientId,
        authorizationEndpoint: `${this.url}/authorize`,
        tokenEndpoint: `${this.url}/token`,
        ...(opts.secretEnv ? { clientSecretEnv: opts.secretEnv } : {}),
        ...(opts.redirectUri ? { redirectUri: opts.redirectUri } : {}),
      },
    };
  }

  /** The `auth:` block of a server configuration (YAML, which JSON is a subset of). */
  authYaml(opts: { secretEnv?: string; redirectUri?: string; maxFailures?: number; basic?: boolean } = {}): string {
    return [
      `  basic: { enabled: ${opts.basic ?? true} }`,
      `  oidc: ${JSON.stringify(this.oidcConfig(opts))}`,
      `  rateLimit: { maxFailures: ${opts.maxFailures ?? 100}, windowSeconds: 60 }`,
    ].join("\n");
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }

  private remember(...values: string[]): void {
    for (const v of values) if (v) this.secrets.add(v);
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const url = new URL(req.url ?? "/", this.url);
    const json = (status: number, body: unknown) => ({ status, headers: { "content-type": "application/json", "cache-control": "no-store" }, body: JSON.stringify(body) });
    if (req.method === "GET" && url.pathname === "/jwks") return json(200, { keys: [this.jwk] });
    if (req.method === "GET" && url.pathname === "/authorize") return this.authorize(url.searchParams);
    if (req.method === "POST" && url.pathname === "/token") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const refused = (why: string) => {
        this.refusals.push(why);
        return json(400, { error: "invalid_grant", error_description: why });
      };
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      this.remember(form.get("code") ?? "", form.get("code_verifier") ?? "");
      if (this.clientSecret !== undefined) {
        const expected = `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString("base64")}`;
        if (req.headers.authorization !== expected) {
          this.refusals.push("client authentication");
          return json(401, { error: "invalid_client" });
        }
      } else if (form.get("client_id") !== this.clientId) return refused("client_id");
      if (form.get("grant_type") !== "authorization_code") return refused("grant_type");
      const grant = this.grants.get(form.get("code") ?? "");
      if (!grant || grant.used) return refused("unknown or used code");
      grant.used = true;
      if (form.get("redirect_uri") !== grant.redirectUri) return refused("redirect_uri");
      const verifier = form.get("code_verifier") ?? "";
      if (createHash("sha256").update(verifier).digest("base64url") !== grant.challenge) return refused("PKCE verifier");
      const idToken = await this.idToken(grant);
      const accessToken = randomBytes(24).toString("base64url");
      this.remember(idToken, accessToken);
      return json(200, { access_token: accessToken, token_type: "Bearer", expires_in: 300, id_token: idToken });
    }
    return json(404, { error: "not_found" });
  }

  private authorize(q: URLSearchParams) {
    const text = (status: number, body: string) => ({ status, headers: { "content-type": "text/plain" }, body });
    const redirectUri = q.get("redirect_uri") ?? "";
    const state = q.get("state") ?? "";
    const nonce = q.get("nonce") ?? "";
    const challenge = q.get("code_challenge") ?? "";
    this.remember(state, nonce, challenge);
    if (q.get("response_type") !== "code") return text(400, "response_type must be code");
    if (q.get("client_id") !== this.clientId) return text(400, "unknown client");
    if (q.get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return text(400, "PKCE S256 required");
    if (!(q.get("scope") ?? "").split(" ").includes("openid")) return text(400, "scope must include openid");
    if (!redirectUri || !state || !nonce) return text(400, "redirect_uri, state and nonce required");
    const back = new URL(redirectUri);
    if (this.authorizeError) {
      back.searchParams.set("error", this.authorizeError.error);
      back.searchParams.set("error_description", this.authorizeError.description);
    } else {
      const code = randomBytes(24).toString("base64url");
      this.remember(code);
      this.grants.set(code, { clientId: this.clientId, challenge, nonce, redirectUri, user: { ...this.user }, used: false });
      back.searchParams.set("code", code);
    }
    back.searchParams.set("state", state);
    back.searchParams.set("iss", this.issuer);
    return { status: 302, headers: { location: back.toString() }, body: "" };
  }

  private async idToken(grant: Grant): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const t = this.tamper;
    const jwt = new SignJWT({ ...grant.user, nonce: t === "nonce" ? "another-sign-in" : grant.nonce, ...(t === "azp" ? { azp: "another-client" } : {}) })
      .setProtectedHeader({ alg: "RS256", kid: "idp-1", typ: "JWT" })
      .setIssuer(t === "issuer" ? "https://evil.example.test" : this.issuer)
      .setAudience(t === "audience" ? "another-client" : grant.clientId)
      .setSubject(`sub-${grant.user.preferred_username}`)
      .setIssuedAt(t === "expired" ? now - 7200 : now)
      .setExpirationTime(t === "expired" ? now - 3600 : now + 300);
    return jwt.sign(t === "signature" ? this.otherKey : this.privateKey);
  }
}

/** The browser's part of a sign-on, with fetch: redirects followed by hand, cookies carried along. */
export interface SsoStart {
  /** `openclm_oidc=…`, as the browser would send it back. */
  flowCookie: string;
  setCookie: string;
  authorizeUrl: URL;
}

export async function startSso(server: { url: string }): Promise<SsoStart> {
  const res = await fetch(`${server.url}/portal/api/oidc/start`, { redirect: "manual" });
  if (res.status !== 302) throw new Error(`start answered ${res.status}: ${await res.text()}`);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("openclm_oidc="));
  if (!setCookie) throw new Error("start set no sign-on cookie");
  return { flowCookie: setCookie.split(";")[0]!, setCookie, authorizeUrl: new URL(res.headers.get("location")!) };
}

/** The provider's answer: the callback URL it sends the browser to. */
export async function authorize(start: SsoStart): Promise<URL> {
  const res = await fetch(start.authorizeUrl, { redirect: "manual" });
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
  return new URL(res.headers.get("location")!);
}

export interface SsoFinish {
  status: number;
  location: string;
  /** `openclm_session=…` when a session was created. */
  sessionCookie?: string;
  setCookies: string[];
}

/** Follows the callback, on `server` (another process than the one that started it, say). */
export async function finishSso(server: { url: string }, callback: URL, flowCookie?: string): Promise<SsoFinish> {
  const target = new URL(`${callback.pathname}${callback.search}`, server.url);
  const res = await fetch(target, { redirect: "manual", headers: flowCookie ? { cookie: flowCookie } : {} });
  const setCookies = res.headers.getSetCookie();
  const session = setCookies.find((c) => /^openclm_session=[^;]/.test(c));
  return { status: res.status, location: res.headers.get("location") ?? "", sessionCookie: session?.split(";")[0], setCookies };
}

export async function ssoSignIn(server: { url: string }, callbackOn: { url: string } = server): Promise<SsoFinish & { start: SsoStart; callback: URL }> {
  const start = await startSso(server);
  const callback = await authorize(start);
  return { ...(await finishSso(callbackOn, callback, start.flowCookie)), start, callback };
}
