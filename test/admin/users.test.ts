// The user directory: `openclm admin user|group …` on the database (the first administrator is
// created before the server ever ran), the same over the API for admins, and the effect of a
// change on the next request — a disabled user or a changed password stops working at once,
// and display name, e-mail and UPN are what the next certificate carries.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type TestServer } from "../helpers/server.js";
import { admin, configYaml, personas, prepareDatabase, secret, VPN, writeConfig } from "../security/support.js";

const P = personas();
const rootPassword = secret("root");
let dataDir: string;
let config: string;
let server: TestServer;
const cli = (args: string[], opts: { env?: Record<string, string>; input?: string } = {}) => admin({ dataDir }, config, args, opts);
const as = (user: string, password: string) => ({ user, password });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "openclm-admin-"));
  config = writeConfig(configYaml(Object.values(P)));
  await prepareDatabase(dataDir);
  const add = cli(["user", "add", "root", "--group", "cm-admins", "--display-name", "Root Admin", "--password-env", "ROOT_PW"], { env: { ROOT_PW: rootPassword } });
  expect(add.status, add.stderr).toBe(0);
  expect(add.stdout).toMatch(/^created user root \([0-9a-f-]{36}\)/);
  server = await startServer({ demo: false, dataDir, args: ["--config", config] });
}, 180_000);
afterAll(async () => {
  await server?.stop();
});

describe("openclm admin user", () => {
  it("created the first administrator before the server ever ran", async () => {
    const r = await call(server, "GET", "/admin/users/root", as("root", rootPassword));
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ Name: "root", DisplayName: "Root Admin", Groups: ["cm-admins"], Disabled: false, Source: "local", HasPassword: true });
    expect(r.body).not.toHaveProperty("PasswordHash");
    const trail = await call(server, "GET", "/audit?action=user.create&target=root", as("root", rootPassword));
    expect(trail.body[0].ActorName).toMatch(/^cli:/);
  });

  it("adds, shows, lists, changes and groups users", () => {
    const pw = secret("kim");
    const add = cli(["user", "add", "kim", "--display-name", "Kim Example", "--email", "kim@example.test", "--upn", "kim@corp.example.test", "--group", "cm-users", "--group", "vpn", "--password-stdin", "--json"], {
      input: `${pw}\n`,
    });
    expect(add.status, add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ Name: "kim", DisplayName: "Kim Example", Email: "kim@example.test", Upn: "kim@corp.example.test", Groups: ["cm-users", "vpn"] });
    expect(add.stdout + add.stderr).not.toContain(pw);

    const show = JSON.parse(cli(["user", "show", "kim", "--json"]).stdout);
    expect(show).toMatchObject({ Name: "kim", HasPassword: true, Disabled: false });
    expect(cli(["user", "show", show.Uuid]).stdout).toMatch(/^Name: kim$/m);

    expect(cli(["user", "set", "kim", "--display-name", "Kim Renamed", "--email", ""]).status).toBe(0);
    expect(JSON.parse(cli(["user", "show", "kim", "--json"]).stdout)).toMatchObject({ DisplayName: "Kim Renamed", Email: "" });

    expect(cli(["user", "groups", "kim", "--add", "cm-approvers", "--remove", "vpn"]).stdout.trim().split("\n")).toEqual(["cm-approvers", "cm-users"]);
    expect(cli(["user", "groups", "kim", "--set", "cm-users"]).stdout.trim()).toBe("cm-users");
    expect(cli(["user", "groups", "kim"]).stdout.trim()).toBe("cm-users");

    const members = JSON.parse(cli(["user", "list", "--group", "cm-users", "--json"]).stdout).map((u: any) => u.Name);
    expect(members).toEqual(["alice", "grace", "kim"]);
    const groups = JSON.parse(cli(["group", "list", "--json"]).stdout);
    expect(groups).toEqual(expect.arrayContaining([{ name: "cm-users", members: 3 }, { name: "cm-admins", members: 2 }]));
    expect(cli(["user", "list"]).stdout).toMatch(/^kim\tenabled\tKim Renamed\tcm-users$/m);
  });

  it("refuses bad input with a message and exit code, never echoing a password", () => {
    const weak = cli(["user", "add", "lee", "--password-env", "PW"], { env: { PW: "short" } });
    expect(weak.status).toBe(2);
    expect(weak.stderr).toMatch(/password: 8 to 1024 characters/);
    expect(weak.stderr).not.toContain("short");
    const duplicate = cli(["user", "add", "kim", "--no-password"]);
    expect(duplicate.status).toBe(2);
    expect(duplicate.stderr).toMatch(/a user named kim exists already/);
    expect(cli(["user", "add", "lee", "--no-password", "--email", "not an address"]).stderr).toMatch(/email: empty, or an ASCII address/);
    expect(cli(["user", "add", "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1", "--no-password"]).stderr).toMatch(/name: must not be a GUID/);
    expect(cli(["user", "add", "lee"]).stderr).toMatch(/no password given: use --password-env VAR or --password-stdin/);
    const missing = cli(["user", "disable", "nobody"]);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toMatch(/user not found/);
    const oidcOnly = cli(["user", "add", "lee", "--no-password", "--json"]);
    expect(JSON.parse(oidcOnly.stdout)).toMatchObject({ Name: "lee", HasPassword: false });
  });
});

describe("a directory change takes effect on the next request", () => {
  it("a disabled user can do nothing, even with credentials the server had just verified", async () => {
    const alice = as(P.alice.user, P.alice.password);
    const carol = as(P.carol.user, P.carol.password);
    expect((await call(server, "GET", "/requests", alice)).status).toBe(200);
    const agentRequest = await call(server, "POST", "/requests", { ...carol, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "", target: "alice" } });
    const agentRequestId = (agentRequest.body as string).split("/").pop();
    const off = await call(server, "PUT", "/admin/users/alice", { ...as("root", rootPassword), body: { disabled: true } });
    expect(off.status, off.text).toBe(200);
    expect(off.body.Disabled).toBe(true);
    for (const path of ["/requests", "/profiletemplates", "/smartcards"]) expect((await call(server, "GET", path, alice)).status).toBe(401);
    expect((await call(server, "POST", "/requests", { ...alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "" } })).status).toBe(401);
    // Nobody can start anything for a disabled user either.
    const forAlice = await call(server, "POST", "/requests", { ...carol, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "", target: "alice" } });
    expect(forAlice.status).toBe(400);
    // …and an agent's request started before does not issue anything for her now.
    const options = await call(server, "GET", `/requests/${agentRequestId}/certificaterequestgenerationoptions`, carol);
    expect(options.status).toBe(409);
    expect(options.body.ErrorCode).toBe("UserDisabled");
    expect(cli(["user", "enable", "alice"]).status).toBe(0);
    expect((await call(server, "GET", "/requests", alice)).status).toBe(200);
  });

  it("a new password replaces the old one at once", async () => {
    const next = secret("grace");
    expect((await call(server, "GET", "/requests", as("grace", P.grace.password))).status).toBe(200);
    expect(cli(["user", "passwd", "grace", "--password-env", "PW"], { env: { PW: next } }).status).toBe(0);
    expect((await call(server, "GET", "/requests", as("grace", P.grace.password))).status).toBe(401);
    expect((await call(server, "GET", "/requests", as("grace", next))).status).toBe(200);
  });

  it("group changes and a disable made by another process (the admin CLI) apply to credentials the server holds cached", async () => {
    const root = as("root", rootPassword);
    expect((await call(server, "GET", "/admin/users", root)).status).toBe(200);
    expect(cli(["user", "groups", "root", "--remove", "cm-admins"]).status).toBe(0);
    expect((await call(server, "GET", "/admin/users", root)).status).toBe(403);
    expect(cli(["user", "groups", "root", "--add", "cm-admins"]).status).toBe(0);
    expect((await call(server, "GET", "/admin/users", root)).status).toBe(200);
    const frank = as(P.frank.user, P.frank.password);
    expect((await call(server, "GET", "/requests", frank)).status).toBe(200);
    expect(cli(["user", "disable", P.frank.user]).status).toBe(0);
    expect((await call(server, "GET", "/requests", frank)).status).toBe(401);
    expect(cli(["user", "enable", P.frank.user]).status).toBe(0);
    expect((await call(server, "GET", "/requests", frank)).status).toBe(200);
  });

  it("display name, e-mail and UPN are what the next certificate is made of", async () => {
    const upd = await call(server, "PUT", "/admin/users/bob", { ...as("root", rootPassword), body: { displayname: "Robert Tables", email: "robert@example.test" } });
    expect(upd.status, upd.text).toBe(200);
    const bob = as(P.bob.user, P.bob.password);
    const created = await call(server, "POST", "/requests", { ...bob, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "" } });
    const id = (created.body as string).split("/").pop();
    const options = await call(server, "GET", `/requests/${id}/certificaterequestgenerationoptions`, bob);
    expect(options.body[0].Subject).toBe("CN=Robert Tables");
  });

  it("the admin API validates, refuses self-lockout, and tells unknown from forbidden only to admins", async () => {
    const root = as("root", rootPassword);
    const post = (body: unknown) => call(server, "POST", "/admin/users", { ...root, body });
    const made = await post({ name: "mona", password: secret("mona"), groups: ["cm-users"], upn: "mona@corp.example.test" });
    expect(made.status, made.text).toBe(201);
    expect(made.headers.get("location")).toBe("/CertificateManagement/api/v1.0/admin/users/mona");
    expect((await post({ name: "mona" })).status).toBe(409);
    expect((await post({ name: "x", email: "bad" })).status).toBe(400);
    expect((await post({ name: "x", password: "short" })).body.Message).not.toContain("short");
    expect((await call(server, "PUT", "/admin/users/root", { ...root, body: { disabled: true } })).status).toBe(409);
    expect((await call(server, "GET", "/admin/users/nobody", root)).status).toBe(404);
    expect((await call(server, "GET", "/admin/users/nobody", as(P.alice.user, P.alice.password))).status).toBe(403);
    const listed = await call(server, "GET", "/admin/users?group=cm-admins", root);
    expect(listed.body.map((u: any) => u.Name)).toEqual(["dave", "root"]);
    expect(JSON.stringify(listed.body)).not.toMatch(/scrypt/);
    const groups = await call(server, "GET", "/admin/groups", root);
    expect(groups.body).toEqual(expect.arrayContaining([{ Name: "cm-admins", Members: 2 }]));
  });
});
