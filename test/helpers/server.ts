// Starts the real server the way a user does (`openclm serve --demo …`) in its own process.
// With OPENCLM_TEST_ENGINE=postgres every data directory gets its own PostgreSQL database.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");

export const ENGINE: "sqlite" | "postgres" = process.env.OPENCLM_TEST_ENGINE === "postgres" ? "postgres" : "sqlite";
/** The PostgreSQL server the tests create their databases on (its database is only the maintenance connection). */
export const PG_URL = process.env.OPENCLM_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
/** Test databases are named `openclm_t_<run>_…`; the global setup drops its run's at the end. */
export const TEST_DB_PREFIX = "openclm_t_";
const RUN = process.env.OPENCLM_TEST_RUN ?? `${Math.floor(Date.now() / 1000).toString(36)}_${randomBytes(2).toString("hex")}`;

/** The database for a data directory: the same directory (a restart) gives the same database. */
export function testDatabaseName(key: string): string {
  return `${TEST_DB_PREFIX}${RUN}_${createHash("sha256").update(key).digest("hex").slice(0, 12)}`;
}

export function testDatabaseUrl(name: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates the database unless it exists; returns its URL. */
export async function ensureTestDatabase(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`create database "${name}"`);
        break;
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "42P04" || code === "23505") break; // exists already (a restart, or a racing creator)
        // template1 briefly in use by another CREATE DATABASE
        if (code === "55006" && attempt < 20) {
          await new Promise((r) => setTimeout(r, 200 * attempt));
          continue;
        }
        throw e;
      }
    }
  } finally {
    await client.end();
  }
  return testDatabaseUrl(name);
}

export interface TestServer {
  url: string;
  dataDir: string;
  logFile: string;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServer(
  opts: { demo?: boolean; dataDir?: string; env?: Record<string, string>; args?: string[] } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "openclm-test-"));
  const logFile = join(dataDir, `server-${Date.now()}-${randomBytes(3).toString("hex")}.log`);
  const log = createWriteStream(logFile);
  const extra = [...(opts.args ?? [])];
  if (ENGINE === "postgres" && !extra.includes("--database")) extra.push("--database", await ensureTestDatabase(testDatabaseName(resolve(dataDir))));
  const args = [CLI, "serve", ...(opts.demo === false ? [] : ["--demo"]), "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...extra];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, OPENCLM_LOG_LEVEL: "info", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    log.write(chunk);
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`server did not start; log in ${logFile}`)), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      log.write(chunk);
      buf += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr.slice(-2000)}`));
    });
  });
  return {
    url,
    dataDir,
    logFile,
    process: child,
    stop(signal: NodeJS.Signals = "SIGTERM") {
      return new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
        child.once("exit", (code) => res(code));
        child.kill(signal);
      });
    },
  };
}

export const BASE_PATH = "/CertificateManagement/api/v1.0";

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** One HTTP call as a CM client makes it; the body is sent verbatim when it is a string. */
export async function call(
  server: { url: string },
  method: string,
  path: string,
  opts: { user?: string; password?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.user) headers.authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password ?? opts.user}`).toString("base64")}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const url = path.startsWith("/") && !path.startsWith(BASE_PATH) && !path.toLowerCase().startsWith("/certificatemanagement") && !path.startsWith("/healthz") && !path.startsWith("/readyz") && !path.startsWith("/openapi")
    ? `${server.url}${BASE_PATH}${path}`
    : `${server.url}${path}`;
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}
