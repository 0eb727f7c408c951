import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadKek, open, seal } from "../../src/crypto/envelope.js";

const dirs: string[] = [];
const envNames: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), "openclm-kek-"));
  dirs.push(d);
  return d;
};
const envName = () => {
  const n = `OPENCLM_TEST_KEK_${randomBytes(6).toString("hex").toUpperCase()}`;
  envNames.push(n);
  return n;
};
afterEach(() => {
  for (const n of envNames.splice(0)) delete process.env[n];
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("seal / open", () => {
  const kek = randomBytes(32);

  it("round-trips and uses the documented layout", () => {
    for (const size of [0, 1, 15, 16, 17, 1000]) {
      const plaintext = randomBytes(size);
      const sealed = seal(kek, plaintext, "ctx");
      expect(sealed).toHaveLength(1 + 12 + size + 16);
      expect(sealed[0]).toBe(1);
      expect(open(kek, sealed, "ctx")).toEqual(plaintext);
    }
  });

  it("uses a fresh nonce each time", () => {
    const a = seal(kek, Buffer.from("same"), "ctx");
    const b = seal(kek, Buffer.from("same"), "ctx");
    expect(a.subarray(1, 13)).not.toEqual(b.subarray(1, 13));
    expect(a).not.toEqual(b);
  });

  it("detects tampering anywhere", () => {
    const sealed = seal(kek, Buffer.from("the CA private key"), "openclm:ca:issuing");
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed);
      tampered[i] = tampered[i]! ^ 0x01;
      expect(() => open(kek, tampered, "openclm:ca:issuing")).toThrow();
    }
    expect(() => open(kek, sealed.subarray(0, sealed.length - 1), "openclm:ca:issuing")).toThrow();
    expect(() => open(kek, sealed.subarray(0, 20), "openclm:ca:issuing")).toThrow(/truncated/);
    expect(() => open(kek, Buffer.concat([sealed, Buffer.of(0)]), "openclm:ca:issuing")).toThrow();
  });

  it("binds the ciphertext to its context (AAD)", () => {
    const sealed = seal(kek, Buffer.from("master secret v1"), "template:A:v1");
    expect(() => open(kek, sealed, "template:B:v1")).toThrow(/failed authentication/);
    expect(() => open(kek, sealed, "")).toThrow(/failed authentication/);
  });

  it("rejects the wrong key and keys of the wrong size", () => {
    const sealed = seal(kek, Buffer.from("x"), "ctx");
    expect(() => open(randomBytes(32), sealed, "ctx")).toThrow(/failed authentication/);
    expect(() => seal(randomBytes(16), Buffer.from("x"), "ctx")).toThrow(/32 bytes/);
    expect(() => open(randomBytes(31), sealed, "ctx")).toThrow(/32 bytes/);
  });

  it("refuses an unknown format version", () => {
    const sealed = seal(kek, Buffer.from("x"), "ctx");
    sealed[0] = 2;
    expect(() => open(kek, sealed, "ctx")).toThrow(/version/);
  });
});

describe("loadKek from the environment", () => {
  it("accepts 64 hex digits and base64 of 32 bytes, and ignores the file", async () => {
    const key = randomBytes(32);
    const dir = dataDir();
    const env = envName();
    process.env[env] = key.toString("hex");
    expect(await loadKek({ env, file: "kek.key" }, dir)).toEqual(key);
    process.env[env] = key.toString("base64");
    expect(await loadKek({ env, file: "kek.key" }, dir)).toEqual(key);
    process.env[env] = `  ${key.toString("base64").replace(/=$/, "")}\n`;
    expect(await loadKek({ env, file: "kek.key" }, dir)).toEqual(key);
    expect(existsSync(join(dir, "kek.key"))).toBe(false);
  });

  it.each([
    ["too short hex", randomBytes(16).toString("hex")],
    ["too long base64", randomBytes(33).toString("base64")],
    ["not an encoding", "correct horse battery staple correct horse!!"],
    ["empty", ""],
  ])("rejects %s without echoing the value", async (_label, value) => {
    const env = envName();
    process.env[env] = value;
    const err = await loadKek({ env, file: "kek.key" }, dataDir()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(env);
    if (value.length > 0) expect((err as Error).message).not.toContain(value);
  });
});

describe("loadKek from a file", () => {
  it("creates a 32-byte 0600 file on first use and reads the same key afterwards", async () => {
    const dir = dataDir();
    const opts = { env: envName(), file: "keys/kek.key" };
    const key = await loadKek(opts, dir);
    const path = join(dir, "keys/kek.key");
    expect(key).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).size).toBe(32);
    expect(await loadKek(opts, dir)).toEqual(key);
    expect(readdirSync(join(dir, "keys"))).toEqual(["kek.key"]);
  });

  it("uses absolute paths as given", async () => {
    const dir = dataDir();
    const path = join(dataDir(), "absolute.key");
    await loadKek({ env: envName(), file: path }, dir);
    expect(statSync(path).size).toBe(32);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("agrees on one key when several starts race to create it", async () => {
    const dir = dataDir();
    const opts = { env: envName(), file: "kek.key" };
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadKek(opts, dir)));
    for (const k of keys) expect(k).toEqual(keys[0]);
    expect(readdirSync(dir)).toEqual(["kek.key"]);
  });

  it("refuses a file readable by group or others", async () => {
    const dir = dataDir();
    const path = join(dir, "kek.key");
    writeFileSync(path, randomBytes(32), { mode: 0o600 });
    for (const mode of [0o640, 0o604, 0o660]) {
      chmodSync(path, mode);
      await expect(loadKek({ env: envName(), file: "kek.key" }, dir)).rejects.toThrow(/chmod 600/);
    }
  });

  it("refuses a file that is not 32 bytes", async () => {
    const dir = dataDir();
    writeFileSync(join(dir, "kek.key"), randomBytes(31), { mode: 0o600 });
    await expect(loadKek({ env: envName(), file: "kek.key" }, dir)).rejects.toThrow(/exactly 32 bytes/);
    writeFileSync(join(dir, "kek.key"), "", { mode: 0o600 });
    await expect(loadKek({ env: envName(), file: "kek.key" }, dir)).rejects.toThrow(/exactly 32 bytes/);
  });

  it("refuses a directory in place of the file", async () => {
    const dir = dataDir();
    mkdirSync(join(dir, "kek.key"), { mode: 0o700 });
    await expect(loadKek({ env: envName(), file: "kek.key" }, dir)).rejects.toThrow(/not a regular file/);
  });
});
