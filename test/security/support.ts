// Shared pieces of the security tests: a full test configuration with separate users per role
// and random passwords, direct database access (to tamper with it), and the admin CLI.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { CLI, ENGINE, ensureTestDatabase, testDatabaseName, testDatabaseUrl, type TestServer } from "../helpers/server.js";

export const VPN = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
export const LOGON = "5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d";
export const SOFTWARE = "3e8f2a61-7b4c-4d19-a5e0-6c2b9f1d8a47";
export const PIN_CARD = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
export const VPN_KEY = "010203040506070801020304050607080102030405060708";

/** A value that occurs nowhere unless something leaked it. */
export function secret(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString("base64url")}`;
}

export interface Persona {
  user: string;
  password: string;
  groups: string[];
}

/** One user per role, so every role can be tested on its own. */
export function personas(): Record<"alice" | "grace" | "bob" | "carol" | "erin" | "frank" | "dave" | "zed", Persona> {
  const p = (user: string, groups: string[]): Persona => ({ user, password: secret(`pw-${user}`), groups });
  return {
    alice: p("alice", ["cm-users"]), // the target user
    grace: p("grace", ["cm-users"]), // another user
    bob: p("bob", ["cm-approvers"]),
    carol: p("carol", ["cm-agents"]),
    erin: p("erin", ["cm-helpdesk"]),
    frank: p("frank", ["cm-auditors"]),
    dave: p("dave", ["cm-admins"]),
    zed: p("zed", []), // only ever changed by the admin tests
  };
}

export function configYaml(users: Persona[], extra: { auth?: string } = {}): string {
  const userLines = users
    .map(
      (u) =>
        `  - name: ${u.user}\n    password: "${u.password}"\n    displayName: ${u.user[0]!.toUpperCase()}${u.user.slice(1)} Test\n` +
        `    email: ${u.user}@example.test\n    upn: ${u.user}@example.test\n    groups: [${u.groups.join(", ")}]`,
    )
    .join("\n");
  const agentPolicy = `{ authorizedEnrollmentAgent: [group:cm-agents], authorizedHelpdesk: [group:cm-helpdesk] }`;
  return `# written by test/security/support.ts
server:
  listen: "127.0.0.1:0"
auth:
${extra.auth ?? "  rateLimit: { maxFailures: 100, windowSeconds: 60 }"}
roles:
  admin: [group:cm-admins]
  auditor: [group:cm-auditors]
users:
${userLines}
certificateTemplates:
  - name: VPN
    extendedKeyUsages: [clientAuth]
    subject: "CN={displayName}"
    subjectAltNames: [email]
  - name: SmartcardLogon
    extendedKeyUsages: [clientAuth, smartcardLogon]
    subject: "CN={displayName}"
    subjectAltNames: [upn]
  - name: SoftwareUser
    extendedKeyUsages: [clientAuth]
    subject: "CN={displayName}"
    serverGeneratesKey: true
    archiveKey: true
    exportable: true
profileTemplates:
  - name: Virtual Smartcard VPN
    uuid: ${VPN}
    kind: virtualSmartcard
    certificateTemplates: [VPN]
    smartcard: { defaultAdminKeyHex: "${VPN_KEY}", diversifyAdminKey: true }
    policies:
      enroll: ${agentPolicy}
      unblock: ${agentPolicy}
      offlineUnblock: ${agentPolicy}
      retire: ${agentPolicy}
      revoke: ${agentPolicy}
  - name: Smart Card Logon
    uuid: ${LOGON}
    kind: smartcard
    certificateTemplates: [SmartcardLogon]
    smartcard: { defaultAdminKeyHex: "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718", diversifyAdminKey: true }
    policies:
      enroll: { approvalsNeeded: 1, authorizedApprover: [group:cm-approvers], authorizedEnrollmentAgent: [group:cm-agents] }
  - name: PIN Card
    uuid: ${PIN_CARD}
    kind: virtualSmartcard
    certificateTemplates: [VPN]
    smartcard:
      defaultAdminKeyHex: "${VPN_KEY}"
      userPinOption: ServerDistributed
      userPinPolicy: { minLength: 16, maxLength: 32, characterSet: alphanumeric }
    policies:
      enroll: {}
  - name: Software User
    uuid: ${SOFTWARE}
    kind: software
    certificateTemplates: [SoftwareUser]
    policies:
      enroll: { authorizedEnrollmentAgent: [group:cm-agents] }
      recover: { authorizedEnrollmentAgent: [group:cm-agents] }
`;
}

/** Writes a configuration outside any data directory (the secret scans read data directories). */
export function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "openclm-seccfg-")), "openclm.yaml");
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** `--database` for the admin CLI when the tests run on PostgreSQL. */
export function databaseArgs(dataDir: string): string[] {
  return ENGINE === "postgres" ? ["--database", testDatabaseUrl(testDatabaseName(resolve(dataDir)))] : [];
}

/** Creates the data directory's PostgreSQL database when the tests run there (before a CLI uses it). */
export async function prepareDatabase(dataDir: string): Promise<void> {
  if (ENGINE === "postgres") await ensureTestDatabase(testDatabaseName(resolve(dataDir)));
}

/** Runs SQL on the server's database behind its back (`?` placeholders). */
export async function rawSql(dataDir: string, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  if (ENGINE === "postgres") {
    const client = new pg.Client({ connectionString: testDatabaseUrl(testDatabaseName(resolve(dataDir))) });
    await client.connect();
    try {
      let i = 0;
      return (await client.query(text.replace(/\?/g, () => `$${++i}`), params)).rows;
    } finally {
      await client.end();
    }
  }
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(join(dataDir, "openclm.db"));
  try {
    const stmt = db.prepare(text);
    return stmt.reader ? (stmt.all(...params) as Record<string, unknown>[]) : (stmt.run(...params), []);
  } finally {
    db.close();
  }
}

export function cli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, ...opts.env },
    input: opts.input,
  });
}

/** `openclm admin …` on a test server's data directory and configuration. */
export function admin(server: TestServer | { dataDir: string }, config: string | undefined, args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  const where = ["--data-dir", server.dataDir, ...(config ? ["--config", config] : ["--demo"]), ...databaseArgs(server.dataDir)];
  return cli(["admin", ...args, ...where], opts);
}

export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

/** `openclm serve` with any arguments, waiting for its `listening on` line (http or https). */
export async function serve(args: string[], dataDir = mkdtempSync(join(tmpdir(), "openclm-tls-"))): Promise<{ url: string; dataDir: string; line: string; stop(): Promise<void> }> {
  const { spawn } = await import("node:child_process");
  const { createWriteStream } = await import("node:fs");
  const log = createWriteStream(join(dataDir, `server-${Date.now()}-${randomBytes(3).toString("hex")}.log`));
  const child = spawn(process.execPath, [CLI, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...(await databaseArgsIfPg(dataDir)), ...args], {
    env: { ...process.env, OPENCLM_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr.pipe(log);
  const line = await new Promise<string>((res, rej) => {
    let out = "";
    const timer = setTimeout(() => rej(new Error("server did not start")), 60_000);
    child.stdout.on("data", (c: Buffer) => {
      log.write(c);
      out += c.toString();
      const m = /^listening on .*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[0]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`server exited with ${code}`));
    });
  });
  return {
    url: line.replace("listening on ", ""),
    dataDir,
    line,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once("exit", () => res());
        child.kill("SIGTERM");
      }),
  };
}

async function databaseArgsIfPg(dataDir: string): Promise<string[]> {
  return ENGINE === "postgres" ? ["--database", await ensureTestDatabase(testDatabaseName(resolve(dataDir)))] : [];
}
