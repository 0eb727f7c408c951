import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { link, open as openFile, unlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { makeDirectory, syncDirectory } from "../sync-directory.js";

/**
 * Secrets at rest (SPEC §12): AES-256-GCM under a key-encryption key (KEK).
 * Sealed layout: version (1 byte, = 1) | nonce (12) | ciphertext | tag (16).
 * Error messages name the source of a bad KEK but never print key material.
 */

const KEK_BYTES = 32;
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export async function loadKek(opts: { env: string; file: string }, dataDir: string): Promise<Buffer> {
  const fromEnv = process.env[opts.env];
  if (fromEnv !== undefined) return parseKekText(fromEnv, opts.env);
  const path = resolve(dataDir, opts.file);
  return (await readKekFile(path)) ?? (await createKekFile(path));
}

export function seal(kek: Buffer, plaintext: Buffer, aad: string): Buffer {
  checkKek(kek);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", kek, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
}

export function open(kek: Buffer, sealed: Buffer, aad: string): Buffer {
  checkKek(kek);
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES) throw new Error("sealed secret is truncated");
  if (sealed[0] !== VERSION) throw new Error("sealed secret has an unknown format version");
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", kek, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // Tampering, the wrong KEK and the wrong context are indistinguishable here, by design.
    throw new Error("sealed secret failed authentication (tampered, wrong key or wrong context)");
  }
}

function checkKek(kek: Buffer): void {
  if (!Buffer.isBuffer(kek) || kek.length !== KEK_BYTES) throw new Error("key-encryption key must be 32 bytes");
}

function parseKekText(text: string, envName: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, "hex");
  if (/^[A-Za-z0-9+/]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, "base64");
    // Rejects encodings whose unused trailing bits are set, which Buffer would silently drop.
    if (key.length === KEK_BYTES && key.toString("base64").replace(/=$/, "") === trimmed.replace(/=$/, "")) {
      return key;
    }
  }
  throw new Error(
    `environment variable ${envName} must hold a 32-byte key-encryption key as base64 or 64 hex digits`,
  );
}

async function readKekFile(path: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await openFile(path, fsConstants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read key-encryption key file ${path}: ${(err as Error).message}`);
  }
  try {
    // fstat on the open descriptor: the checks apply to the very file that is read.
    const info = await handle.stat();
    if (!info.isFile()) throw new Error(`key-encryption key file ${path} is not a regular file`);
    if ((info.mode & 0o077) !== 0) {
      throw new Error(
        `key-encryption key file ${path} is accessible by group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
      );
    }
    if (info.size !== KEK_BYTES) throw new Error(`key-encryption key file ${path} must be exactly ${KEK_BYTES} bytes`);
    const key = Buffer.alloc(KEK_BYTES);
    const { bytesRead } = await handle.read(key, 0, KEK_BYTES, 0);
    if (bytesRead !== KEK_BYTES) throw new Error(`key-encryption key file ${path} must be exactly ${KEK_BYTES} bytes`);
    return key;
  } finally {
    await handle.close();
  }
}

/**
 * Writes the new key to a private temporary file and hard-links it into place: link() fails
 * if the target exists, so concurrent first starts agree on one key and no process can ever
 * read a half-written file.
 */
async function createKekFile(path: string): Promise<Buffer> {
  makeDirectory(dirname(path), 0o700);
  const key = randomBytes(KEK_BYTES);
  const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await openFile(temp, "wx", 0o600);
  try {
    await handle.writeFile(key);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const existing = await readKekFile(path);
    if (!existing) throw new Error(`key-encryption key file ${path} vanished while being created`);
    return existing;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  // The sealed CA key is useless without this file: its name must survive a power cut as well.
  syncDirectory(dirname(path));
  return key;
}
