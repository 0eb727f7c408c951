// Independent checks with the openssl command line, so the card is not only tested against itself.
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] });
}

export function opensslDes3Ecb(keyHex: string, block: Buffer): Buffer {
  return openssl(["enc", "-des-ede3", "-nopad", "-K", keyHex], block);
}

export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/**
 * `openssl req -verify` on a DER CSR. OpenSSL 3.0 exits 0 even when the signature is bad, so
 * the verdict is read from its message; throws unless it says "verify OK".
 */
export function opensslVerifyCsr(dir: string, der: Uint8Array): string {
  const file = join(dir, `csr-${Date.now()}-${Math.random().toString(16).slice(2)}.der`);
  writeFileSync(file, der);
  const r = spawnSync("openssl", ["req", "-inform", "DER", "-in", file, "-verify", "-noout"], { encoding: "utf8" });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 || !/verify OK/.test(out) || /failure/i.test(out)) throw new Error(`openssl req -verify: ${out.trim()}`);
  return out;
}
