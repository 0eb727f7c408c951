// Checks that two server processes on one database share portal sessions and sign-ons: shared by
// session-shared.test.ts (two processes on one SQLite file, or one PostgreSQL database in the
// PostgreSQL pass) and test/pg/sessions.test.ts (a cluster on PostgreSQL).
import { createHash } from "node:crypto";
import { expect } from "vitest";
import { authorize, finishSso, startSso, type TestIdp } from "./idp.js";

const SESSION = "/portal/api/session";
const API = "/CertificateManagement/api/v1.0";

/** A load balancer's address the provider sends browsers back to; the tests pick the process. */
export const BALANCER = "http://127.0.0.1:9";

interface Server {
  url: string;
}

const http = (s: Server, path: string, init: RequestInit = {}) => fetch(`${s.url}${path}`, { redirect: "manual", ...init });

export function cookieHash(cookie: string): string {
  return createHash("sha256").update(cookie.replace(/^openclm_session=/, "")).digest("base64url");
}

/** Password sign-in on A; then B serves the session, its CSRF token, a change, and the sign-out that A then honours. */
export async function passwordSessionAcross(A: Server, B: Server, user: string, password = user): Promise<{ cookie: string }> {
  const login = await http(A, SESSION, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: user, password }) });
  expect(login.status).toBe(200);
  const { csrfToken } = await login.json();
  const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;

  const onB = await (await http(B, SESSION, { headers: { cookie } })).json();
  expect(onB).toMatchObject({ user: { name: user }, csrfToken });
  const headers = { cookie, "content-type": "application/json" };
  const body = JSON.stringify({ type: "Enroll", profiletemplateuuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1", datacollection: [{ "Request Reason": "cross-process" }], comment: "" });
  expect((await http(B, `${API}/requests`, { method: "POST", headers, body })).status).toBe(403); // no CSRF token
  const created = await http(B, `${API}/requests`, { method: "POST", headers: { ...headers, "x-csrf-token": csrfToken }, body });
  expect(created.status, await created.clone().text()).toBe(201);
  expect((await http(A, `${API}/smartcards`, { headers: { cookie } })).status).toBe(200);

  expect((await http(B, SESSION, { method: "DELETE", headers: { cookie, "x-csrf-token": csrfToken } })).status).toBe(204);
  const afterOnA = await http(A, `${API}/smartcards`, { headers: { cookie } });
  expect(afterOnA.status).toBe(401);
  expect((await afterOnA.json()).ErrorCode).toBe("SessionExpired");
  expect((await (await http(A, SESSION, { headers: { cookie } })).json()).user).toBeNull();
  return { cookie };
}

/** Single sign-on started on A and finished on B; the same answer replayed to A is refused. */
export async function ssoAcross(A: Server, B: Server, idp: TestIdp): Promise<{ cookie: string }> {
  const start = await startSso(A);
  expect(start.authorizeUrl.searchParams.get("redirect_uri")).toBe(`${BALANCER}/portal/api/oidc/callback`);
  const callback = await authorize(start);
  const done = await finishSso(B, callback, start.flowCookie);
  expect(done.location).toBe("/portal/");
  const cookie = done.sessionCookie!;
  expect((await (await http(A, SESSION, { headers: { cookie } })).json()).user).toMatchObject({ name: idp.user.preferred_username });
  const replay = await finishSso(A, callback, start.flowCookie);
  expect(new URL(replay.location, "http://x").searchParams.get("sso_error")).toBe("state");
  expect(replay.sessionCookie).toBeUndefined();
  return { cookie };
}
