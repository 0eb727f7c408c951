// The bench's own database chores: a throw-away PostgreSQL database for the `--database`
// variant, and reading the issuing CA key back (sealed under the KEK the bench chose) so the
// signing-rate bound is measured on the very key the server signs with.
import { createDecipheriv, randomBytes } from "node:crypto";
import { join } from "node:path";

// The layout of src/crypto/envelope.ts: version (1) | nonce (12) | ciphertext | tag (16), AES-256-GCM.
const ISSUING_AAD = "openclm:ca:issuing";

function unseal(kek: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed[0] !== 1) throw new Error("unknown sealed-key format version");
  const nonce = sealed.subarray(1, 13);
  const body = sealed.subarray(13, sealed.length - 16);
  const d = createDecipheriv("aes-256-gcm", kek, nonce, { authTagLength: 16 });
  d.setAAD(Buffer.from(aad, "utf8"));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(body), d.final()]);
}

/** The connection URL without the server's own query parameters (pool_max, …). */
function adminUrl(url: string): string {
  const u = new URL(url);
  u.search = "";
  return u.toString();
}

async function pgClient(url: string) {
  const pg = (await import("pg")).default;
  const client = new pg.Client({ connectionString: adminUrl(url) });
  await client.connect();
  return client;
}

export interface BenchDatabase {
  /** what the server gets as --database */
  serverUrl: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates `openclm_bench_<random>` on the server `url` points at. */
export async function createPgDatabase(url: string): Promise<BenchDatabase> {
  const name = `openclm_bench_${randomBytes(5).toString("hex")}`;
  const client = await pgClient(url);
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  let dropped = false;
  return {
    serverUrl: u.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = await pgClient(url);
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** PKCS#8 DER of the issuing CA key, read from the server's database and opened with the KEK. */
export async function readIssuingKey(opts: { kek: Buffer; dataDir: string; pgUrl?: string }): Promise<Buffer> {
  let sealed: Buffer;
  if (opts.pgUrl) {
    const client = await pgClient(opts.pgUrl);
    try {
      const r = await client.query<{ sealed_key: Buffer }>("select sealed_key from ca_keys where role = 'issuing'");
      if (!r.rows[0]) throw new Error("no issuing CA key in the database");
      sealed = r.rows[0].sealed_key;
    } finally {
      await client.end();
    }
  } else {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(opts.dataDir, "openclm.db"), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("select sealed_key from ca_keys where role = 'issuing'").get() as { sealed_key: Buffer } | undefined;
      if (!row) throw new Error("no issuing CA key in the database");
      sealed = row.sealed_key;
    } finally {
      db.close();
    }
  }
  return unseal(opts.kek, sealed, ISSUING_AAD);
}
