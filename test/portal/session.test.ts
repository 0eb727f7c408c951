// The portal's server side over plain HTTP: sessions and their cookie, CSRF, the audit of
// sign-ins, and the static files with their caching headers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO, startServer, type TestServer } from "../helpers/server.js";

const SESSION = "/portal/api/session";
const API = "/CertificateManagement/api/v1.0";
const SOFTWARE = "3e8f2a61-7b4c-4d19-a5e0-6c2b9f1d8a47";
const DIST = join(REPO, "dist/portal");

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

const http = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { redirect: "manual", ...init });

async function login(username: string, password = username): Promise<{ cookie: string; csrf: string; body: any; res: Response }> {
  const res = await http(SESSION, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });
  const body = await res.json();
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0]!;
  return { cookie, csrf: body.csrfToken, body, res };
}

describe("portal sessions", () => {
  it("signs in with the directory password and sets an opaque HttpOnly, SameSite=Strict cookie", async () => {
    const { res, body, cookie } = await login("bob");
    expect(res.status).toBe(200);
    const setCookie = res.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^openclm_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/); // plain HTTP here; Secure when the server speaks TLS
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(body.user).toMatchObject({ name: "bob", displayName: "Bob Example", groups: ["cm-approvers"], isAdmin: false, isAuditor: false, isApprover: true });
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie).not.toContain(body.csrfToken);

    const again = await http(SESSION, { headers: { cookie } });
    expect(await again.json()).toMatchObject({ user: { name: "bob" }, csrfToken: body.csrfToken });
  });

  it("answers a wrong password with 401 and no Basic challenge (no browser password dialog)", async () => {
    const { res, body } = await login("alice", "wrong");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Session realm="OpenCLM portal"');
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(body).toMatchObject({ Message: "wrong user name or password", ErrorCode: "NotAuthenticated" });
    expect(body.CorrelationId).toBe(res.headers.get("x-correlation-id"));
    const unknown = await login("nobody-here", "x");
    expect(unknown.res.status).toBe(401);
    expect(unknown.body.Message).toBe(body.Message);
  });

  it("says who is signed in without an error status when nobody is", async () => {
    const res = await http(SESSION);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: null, csrfToken: null, methods: { password: true, oidc: false } });
  });

  it("refuses sign-in posted from another site", async () => {
    const res = await http(SESSION, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ username: "alice", password: "alice" }),
    });
    expect(res.status).toBe(403);
    expect((await res.json()).ErrorCode).toBe("CrossOrigin");
    // A form post cannot send JSON: other content types never reach the password check.
    const form = await http(SESSION, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "username=alice&password=alice" });
    expect(form.status).toBe(415);
  });

  it("authenticates API calls with the cookie and requires the CSRF token on state changes", async () => {
    const { cookie, csrf } = await login("alice");
    const list = await http(`${API}/profiletemplates`, { headers: { cookie } });
    expect(list.status).toBe(200);
    expect((await list.json()).map((t: any) => t.Name)).toContain("Software User");

    const body = JSON.stringify({ type: "Enroll", profiletemplateuuid: SOFTWARE, datacollection: [], comment: "" });
    const headers = { cookie, "content-type": "application/json" };
    const none = await http(`${API}/requests`, { method: "POST", headers, body });
    expect(none.status).toBe(403);
    expect(await none.json()).toMatchObject({ ErrorCode: "CsrfTokenInvalid" });
    const wrong = await http(`${API}/requests`, { method: "POST", headers: { ...headers, "x-csrf-token": wrongToken(csrf) }, body });
    expect(wrong.status).toBe(403);
    const ok = await http(`${API}/requests`, { method: "POST", headers: { ...headers, "x-csrf-token": csrf }, body });
    expect(ok.status).toBe(201);
    const id = ((await ok.json()) as string).split("/").pop();
    const put = await http(`${API}/requests/${id}`, { method: "PUT", headers: { ...headers }, body: JSON.stringify({ status: "Canceled" }) });
    expect(put.status).toBe(403);
    // Basic still works beside sessions, without any token.
    const basic = await http(`${API}/requests/${id}`, { headers: { authorization: `Basic ${Buffer.from("alice:alice").toString("base64")}` } });
    expect(basic.status).toBe(200);
  });

  it("signs out: the cookie is cleared, the session is gone, and the API says so without a Basic challenge", async () => {
    const { cookie, csrf } = await login("carol");
    const refused = await http(SESSION, { method: "DELETE", headers: { cookie } });
    expect(refused.status).toBe(403);
    const out = await http(SESSION, { method: "DELETE", headers: { cookie, "x-csrf-token": csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/openclm_session=;.*Expires=Thu, 01 Jan 1970/);
    const after = await http(`${API}/smartcards`, { headers: { cookie } });
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toBe('Session realm="OpenCLM portal"');
    expect(await after.json()).toMatchObject({ ErrorCode: "SessionExpired" });
    expect(await (await http(SESSION, { headers: { cookie } })).json()).toMatchObject({ user: null });
    // The portal's header alone (no cookie) also gets the session challenge.
    const portalOnly = await http(`${API}/smartcards`, { headers: { "x-openclm-client": "portal" } });
    expect(portalOnly.status).toBe(401);
    expect(portalOnly.headers.get("www-authenticate")).toBe('Session realm="OpenCLM portal"');
    // Without a cookie the API keeps its Basic challenge for other clients.
    expect((await http(`${API}/smartcards`)).headers.get("www-authenticate")).toMatch(/Basic/);
  });

  it("audits sign-ins, failed ones included", async () => {
    await login("dave", "nope");
    await login("dave");
    const res = await http(`${API}/audit?action=portal.login&actor=dave&order=desc`, { headers: { authorization: `Basic ${Buffer.from("dave:dave").toString("base64")}` } });
    expect(res.status).toBe(200);
    const events = (await res.json()) as any[];
    expect(events.map((e) => e.Outcome)).toEqual(expect.arrayContaining(["success", "failure"]));
    expect(JSON.stringify(events)).not.toContain("nope");
  });
});

describe.skipIf(!existsSync(join(DIST, "index.html")))("portal static files", () => {
  const asset = () => readdirSync(join(DIST, "assets")).find((f) => f.endsWith(".js"))!;

  it("serves index.html revalidated on every load, with a strict content security policy", async () => {
    const res = await http("/portal/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('<div id="root">');
    expect(html).not.toMatch(/https?:\/\//);
    const etag = res.headers.get("etag")!;
    expect((await http("/portal/", { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await http("/portal")).headers.get("location")).toBe("/portal/");
  });

  it("caches hashed assets for a year and answers unknown portal paths with the application", async () => {
    const js = await http(`/portal/assets/${asset()}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const css = readdirSync(join(DIST, "assets")).find((f) => f.endsWith(".css"))!;
    expect((await http(`/portal/assets/${css}`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await http("/portal/favicon.svg")).headers.get("content-type")).toBe("image/svg+xml");
    const route = await http("/portal/requests/1234");
    expect(route.status).toBe(200);
    expect(route.headers.get("content-type")).toMatch(/text\/html/);
    expect(route.headers.get("cache-control")).toBe("no-cache");
  });

  it("gives real 404s for missing files and never leaves dist/portal", async () => {
    expect((await http("/portal/assets/missing-abc123.js")).status).toBe(404);
    expect((await http("/portal/missing.css")).status).toBe(404);
    for (const p of ["/portal/..%2f..%2fpackage.json", "/portal/%2e%2e/%2e%2e/package.json", "/portal/assets/..%2f..%2f..%2fpackage.json", "/portal/.%2e/cli/main.js", "/portal/%2e%2e%5c..%5cpackage.json"]) {
      const res = await http(p);
      expect(res.status, p).toBe(404);
      expect(await res.text(), p).not.toContain('"name": "openclm"');
    }
    const api = await http("/portal/api/nothing");
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ ErrorCode: "NotFound" });
  });
});

/** The token with its first character changed (never equal to it, unlike a fixed replacement). */
function wrongToken(token: string): string {
  return `${token[0] === "A" ? "B" : "A"}${token.slice(1)}`;
}
