// Like a TPM's storage root key, one device key per card directory wraps every card secret, so
// a card file copied elsewhere (backup, another machine) holds nothing usable on its own.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CardFormatError } from "./errors.js";

export const DEVICE_KEY_FILE = "device.key";
const KEY_BYTES = 32;

export interface WrappedSecret {
  alg: "A256GCM";
  iv: string;
  ct: string;
  tag: string;
}

export class DeviceKey {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new CardFormatError(`a device key is ${KEY_BYTES} bytes`);
    this.#key = Buffer.from(key);
  }

  /** `context` is bound as AAD so a wrapped secret cannot be moved to another card or slot. */
  wrap(plain: Uint8Array, context: string): WrappedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return { alg: "A256GCM", iv: iv.toString("base64"), ct: ct.toString("base64"), tag: cipher.getAuthTag().toString("base64") };
  }

  unwrap(wrapped: WrappedSecret, context: string): Buffer {
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(wrapped.iv, "base64"));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(Buffer.from(wrapped.tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(wrapped.ct, "base64")), decipher.final()]);
    } catch {
      throw new CardFormatError(
        "a card secret cannot be decrypted: the card file was altered or belongs to another card directory (device.key)",
      );
    }
  }
}

/** Loads the directory's device key, creating it (0600) on first use. */
export function loadOrCreateDeviceKey(dir: string): DeviceKey {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, DEVICE_KEY_FILE);
  try {
    return readDeviceKey(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  // Written aside then hard-linked into place: link() never replaces an existing file, so two
  // processes racing here agree on one key, and nobody ever reads a half-written one.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, randomBytes(KEY_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readDeviceKey(path);
}

function readDeviceKey(path: string): DeviceKey {
  const key = readFileSync(path);
  if (key.length !== KEY_BYTES) {
    throw new CardFormatError(`${path} is not a device key (${key.length} bytes, expected ${KEY_BYTES})`);
  }
  return new DeviceKey(key);
}
