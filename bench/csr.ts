// The fast card's key material: key pairs generated before the timed part, and PKCS#10 requests
// built with a few lines of DER (no dependency on the server's code or its libraries).
import { generateKeyPair, sign, type KeyObject } from "node:crypto";

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), len(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const OID_CN = Buffer.from("0603550403", "hex"); // 2.5.4.3
const SHA256_RSA = seq(Buffer.from("06092a864886f70d01010b", "hex"), Buffer.from("0500", "hex")); // 1.2.840.113549.1.1.11, NULL
const ECDSA_SHA256 = seq(Buffer.from("06082a8648ce3d040302", "hex")); // 1.2.840.10045.4.3.2

export type KeyKind = "rsa2048" | "p256";

export interface PoolEntry {
  /** base64 of the DER CSR, as `certificatedata` takes it. */
  csrB64: string;
  /** The same CSR as PEM, as CFSSL takes it. */
  csrPem: string;
}

/** A PKCS#10 request signed with SHA-256; the server ignores the subject and takes the key. */
export function buildCsr(privateKey: KeyObject, publicKey: KeyObject, kind: KeyKind, commonName: string): Buffer {
  const spki = publicKey.export({ type: "spki", format: "der" });
  const name = seq(tlv(0x31, seq(OID_CN, tlv(0x0c, Buffer.from(commonName, "utf8")))));
  const info = seq(Buffer.from("020100", "hex"), name, spki, Buffer.from("a000", "hex"));
  const signature = sign("sha256", info, privateKey); // RSA: PKCS#1 v1.5; EC: DER ECDSA-Sig-Value
  return seq(info, kind === "rsa2048" ? SHA256_RSA : ECDSA_SHA256, tlv(0x03, Buffer.of(0), signature));
}

export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function newKeyPair(kind: KeyKind): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) => (err ? reject(err) : resolve({ publicKey, privateKey }));
    if (kind === "rsa2048") generateKeyPair("rsa", { modulusLength: 2048 }, cb);
    else generateKeyPair("ec", { namedCurve: "prime256v1" }, cb);
  });
}

/** `size` fresh key pairs of one kind (on the libuv threadpool, in parallel) and their CSRs. */
export async function makePool(kind: KeyKind, size: number): Promise<PoolEntry[]> {
  const pairs = await Promise.all(Array.from({ length: size }, () => newKeyPair(kind)));
  return pairs.map(({ privateKey, publicKey }, i) => {
    const der = buildCsr(privateKey, publicKey, kind, `OpenCLM bench card ${kind} ${i}`);
    return { csrB64: der.toString("base64"), csrPem: toPem(der, "CERTIFICATE REQUEST") };
  });
}
