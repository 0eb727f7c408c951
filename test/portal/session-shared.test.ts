// Two server processes on one database (one SQLite file in WAL mode here; one PostgreSQL database
// in the PostgreSQL pass) share portal sessions: signed in on A, the cookie and CSRF token work
// on B, a sign-out on B ends the session on A; a single sign-on started on A finishes on B and
// cannot be replayed on A. The table holds the cookie's hash, never the cookie.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type TestServer } from "../helpers/server.js";
import { clusterConfig } from "../pg/support.js";
import { rawSql } from "../security/support.js";
import { BALANCER, cookieHash, passwordSessionAcross, ssoAcross } from "./cross-process.js";
import { TestIdp } from "./idp.js";

let idp: TestIdp;
let A: TestServer;
let B: TestServer;

beforeAll(async () => {
  idp = await TestIdp.start();
  const dataDir = mkdtempSync(join(tmpdir(), "openclm-shared-"));
  const config = clusterConfig(dataDir, (c) => {
    c.auth.oidc = idp.oidcConfig({ redirectUri: `${BALANCER}/portal/api/oidc/callback` });
  });
  // One after the other: the first creates the CA and the users, the second finds them.
  A = await startServer({ demo: false, dataDir, args: ["--config", config] });
  B = await startServer({ demo: false, dataDir, args: ["--config", config] });
});
afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop()]);
  await idp?.close();
});

describe("portal sessions across server processes", () => {
  it("a password session made on A works on B with its CSRF token, and a sign-out on B ends it on A", async () => {
    const { cookie } = await passwordSessionAcross(A, B, "alice");
    expect(await rawSql(A.dataDir, "select id from portal_sessions where id = ?", [cookieHash(cookie)])).toEqual([]);
  });

  it("a single sign-on started on A finishes on B, once", async () => {
    const { cookie } = await ssoAcross(A, B, idp);
    const rows = await rawSql(A.dataDir, "select * from portal_sessions where method = 'oidc'");
    expect(rows.map((r) => r.id)).toEqual([cookieHash(cookie)]);
    expect(JSON.stringify(rows)).not.toContain(cookie.split("=")[1]);
    expect(await rawSql(A.dataDir, "select state_hash from oidc_used_states")).toHaveLength(1);
  });
});
