// Acceptance (issue 5): OpenID Connect bearer tokens, signed by a test JWKS served on loopback.
// Valid → 200; expired, not yet valid, wrong issuer, wrong audience, unknown key, `alg: none`,
// tampered payload (and a few more forgeries) → 401. Basic authentication is switched off.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from "jose";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { admin, basic, configYaml, personas, writeConfig } from "./support.js";

const ISSUER = "https://idp.example.test/realms/openclm";
const AUDIENCE = "openclm-api";

type Key = Awaited<ReturnType<typeof generateKeyPair>> & { kid: string; alg: string };
let jwksServer: Server;
let published: JWK[] = [];
let jwksFetches = 0;
let k1: Key, k2: Key, stranger: Key, ec: Key;
let server: TestServer;
let config: string;

async function key(kid: string, alg = "RS256"): Promise<Key> {
  return { ...(await generateKeyPair(alg, { extractable: true })), kid, alg };
}
async function publish(...keys: Key[]): Promise<void> {
  published = await Promise.all(keys.map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: "sig" })));
}

const now = () => Math.floor(Date.now() / 1000);
async function token(k: Key, claims: JWTPayload = {}, opts: { exp?: number | null; nbf?: number; iss?: string; aud?: string; kid?: string } = {}): Promise<string> {
  const jwt = new SignJWT({ preferred_username: "olga", name: "Olga Oidc", email: "olga@example.test", ...claims })
    .setProtectedHeader({ alg: k.alg, kid: opts.kid ?? k.kid, typ: "JWT" })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt();
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 300);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(k.privateKey);
}
const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

beforeAll(async () => {
  [k1, k2, stranger, ec] = await Promise.all([key("k1"), key("k2"), key("k1"), key("e1", "ES256")]);
  await publish(k1, ec);
  jwksServer = createServer((req, res) => {
    jwksFetches++;
    res.writeHead(req.url === "/jwks" ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: published }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
  const P = personas();
  config = writeConfig(
    configYaml([P.dave, P.alice], {
      auth: `  basic: { enabled: false }
  oidc: { issuer: "${ISSUER}", audience: ${AUDIENCE}, jwksUrl: "${jwksUrl}", clockSkewSeconds: 30 }
  rateLimit: { maxFailures: 100, windowSeconds: 60 }`,
    }),
  );
  server = await startServer({ demo: false, args: ["--config", config] });
});
afterAll(async () => {
  await server?.stop();
  jwksServer?.close();
});

describe("OIDC bearer tokens", () => {
  it("accepts a valid token, provisions its user on first sight, and maps the groups claim", async () => {
    const r = await call(server, "GET", "/requests", bearer(await token(k1)));
    expect(r.status, r.text).toBe(200);
    expect((await call(server, "GET", "/requests", bearer(await token(ec)))).status).toBe(200);
    // A local user named by the claim is that user, with the groups the directory gives them.
    const asDave = await call(server, "GET", "/admin/users/olga", bearer(await token(k1, { preferred_username: "dave" })));
    expect(asDave.status, asDave.text).toBe(200);
    expect(asDave.body).toMatchObject({ Name: "olga", DisplayName: "Olga Oidc", Email: "olga@example.test", Source: "oidc", HasPassword: false, Groups: [] });
    // Groups from the token count: olga as an auditor through the claim alone.
    expect((await call(server, "GET", "/audit", bearer(await token(k1)))).status).toBe(403);
    const audit = await call(server, "GET", "/audit?action=user.provision", bearer(await token(k1, { groups: ["cm-auditors"] })));
    expect(audit.status).toBe(200);
    expect(audit.body.map((e: any) => e.ActorName)).toContain("olga");
    // Within the clock skew an expired token still passes.
    expect((await call(server, "GET", "/requests", bearer(await token(k1, {}, { exp: now() - 10 })))).status).toBe(200);
  });

  it("refuses expired, not yet valid, foreign, forged and unsigned tokens with 401", async () => {
    const valid = await token(k1);
    const [h, p, s] = valid.split(".");
    const hs256 = await new SignJWT({ preferred_username: "dave" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(published[0])));
    const cases: Record<string, string> = {
      expired: await token(k1, {}, { exp: now() - 3600 }),
      "not yet valid": await token(k1, {}, { nbf: now() + 3600 }),
      "wrong issuer": await token(k1, {}, { iss: "https://evil.example.test" }),
      "wrong audience": await token(k1, {}, { aud: "another-api" }),
      "unknown key": await token(stranger, {}, { kid: "k9" }),
      "same kid, other key": await token(stranger),
      "alg none": `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ preferred_username: "dave", iss: ISSUER, aud: AUDIENCE, exp: now() + 300 })}.`,
      "tampered payload": `${h}.${b64url({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), preferred_username: "dave" })}.${s}`,
      "HMAC with the public key": hs256,
      "no exp": await token(k1, {}, { exp: null }),
      "no user claim": await token(k1, { preferred_username: undefined }),
      garbage: "not-a-jwt",
    };
    for (const [name, t] of Object.entries(cases)) {
      const r = await call(server, "GET", "/requests", bearer(t));
      expect(r.status, `${name}: ${r.text}`).toBe(401);
      expect(r.headers.get("www-authenticate"), name).toBe('Bearer realm="OpenCLM"');
      expect(r.body.ErrorCode).toBe("NotAuthenticated");
    }
    const trail = await call(server, "GET", "/audit?action=auth.failure&top=100", bearer(await token(k1, { groups: ["cm-auditors"] })));
    const reasons = trail.body.map((e: any) => e.Details.reason).join("\n");
    for (const code of ["ERR_JWT_EXPIRED", "ERR_JWT_CLAIM_VALIDATION_FAILED (nbf)", "(iss)", "(aud)", "ERR_JWKS_NO_MATCHING_KEY", "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "ERR_JOSE_ALG_NOT_ALLOWED"])
      expect(reasons).toContain(code);
  });

  it("switches Basic authentication off", async () => {
    const r = await call(server, "GET", "/requests", { headers: basic("dave", "anything") });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe('Bearer realm="OpenCLM"');
  });

  it("fetches the JWKS again for an unknown key id (rotation), but not more than every few seconds", async () => {
    const before = jwksFetches;
    await publish(k1, k2);
    // Still cooling down from the last fetch: an unknown kid cannot make the server fetch at once.
    await new Promise((r) => setTimeout(r, 5_500));
    const rotated = await call(server, "GET", "/requests", bearer(await token(k2)));
    expect(rotated.status, rotated.text).toBe(200);
    expect(jwksFetches).toBe(before + 1);
    for (let i = 0; i < 5; i++) expect((await call(server, "GET", "/requests", bearer(await token(stranger, {}, { kid: `random-${i}` })))).status).toBe(401);
    expect(jwksFetches).toBe(before + 1);
  });

  it("refuses a valid token of a disabled user at once, and accepts it again once enabled", async () => {
    const t = await token(k1);
    expect((await call(server, "GET", "/requests", bearer(t))).status).toBe(200);
    const off = admin(server, config, ["user", "disable", "olga"]);
    expect(off.status, off.stderr).toBe(0);
    expect((await call(server, "GET", "/requests", bearer(t))).status).toBe(401);
    expect(admin(server, config, ["user", "enable", "olga"]).status).toBe(0);
    expect((await call(server, "GET", "/requests", bearer(t))).status).toBe(200);
  });
});
