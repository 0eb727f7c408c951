// Portal sessions on PostgreSQL with several server processes (issue 8): a session made on one
// process is the same session on the other, CSRF token included; a sign-out on one ends it on all;
// a single sign-on may start on one process and finish on another, and its state works once.
// The database holds hashes only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../helpers/server.js";
import { BALANCER, cookieHash, passwordSessionAcross, ssoAcross } from "../portal/cross-process.js";
import { TestIdp } from "../portal/idp.js";
import { PG_AVAILABLE, query, SKIP_REASON, startCluster, type Cluster } from "./support.js";

describe.skipIf(!PG_AVAILABLE)(`portal sessions shared by server processes on PostgreSQL${SKIP_REASON}`, () => {
  let idp: TestIdp;
  let cluster: Cluster;
  let A: TestServer;
  let B: TestServer;

  beforeAll(async () => {
    idp = await TestIdp.start();
    cluster = await startCluster(2, {
      edit: (c) => {
        c.auth.oidc = idp.oidcConfig({ redirectUri: `${BALANCER}/portal/api/oidc/callback` });
      },
    });
    [A, B] = cluster.servers as [TestServer, TestServer];
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
    await idp?.close();
  });

  it("signed in on A, served by B with the same CSRF token, signed out on B, refused by A", async () => {
    const { cookie } = await passwordSessionAcross(A, B, "u1");
    expect(await query(cluster.dbUrl, "select id from portal_sessions where id = $1", [cookieHash(cookie)])).toEqual([]);
    // Both ways round.
    await passwordSessionAcross(B, A, "u2");
  });

  it("a single sign-on started on A finishes on B, and its state cannot be used again anywhere", async () => {
    const { cookie } = await ssoAcross(A, B, idp);
    const rows = await query(cluster.dbUrl, "select * from portal_sessions where method = 'oidc'");
    expect(rows.map((r) => r.id)).toEqual([cookieHash(cookie)]);
    expect(JSON.stringify(rows)).not.toContain(cookie.split("=")[1]);
    expect(await query(cluster.dbUrl, "select state_hash from oidc_used_states")).toHaveLength(1);
  });

  it("ends every process's view of a session when its user is disabled", async () => {
    const login = await fetch(`${A.url}/portal/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "u3", password: "u3" }) });
    const cookie = login.headers.getSetCookie()[0]!.split(";")[0]!;
    const who = async (s: TestServer) => (await (await fetch(`${s.url}/portal/api/session`, { headers: { cookie } })).json()).user;
    expect(await who(B)).toMatchObject({ name: "u3" });
    await query(cluster.dbUrl, "update users set disabled = 1 where name = 'u3'");
    expect(await who(B)).toBeNull();
    await query(cluster.dbUrl, "update users set disabled = 0 where name = 'u3'");
    expect(await who(A)).toBeNull();
  });
});
