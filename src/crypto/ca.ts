import "reflect-metadata";
import { randomFillSync, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/**
 * Creation of the embedded two-level CA (root → issuing). This runs once per installation,
 * so it uses @peculiar/x509's convenient generator; the per-certificate hot path is issuer.ts.
 */

export interface CaKeyOptions {
  keyType: "rsa2048" | "rsa3072" | "rsa4096" | "p256" | "p384";
  validityDays: number;
  /** RFC 4514-style, written in ASN.1 order as `openssl x509 -subject` prints it. */
  subject: string /* e.g. "CN=OpenCLM Root CA, O=OpenCLM" */;
}

export interface CaMaterial {
  root: { certDer: Buffer; keyPkcs8Der: Buffer };
  issuing: { certDer: Buffer; keyPkcs8Der: Buffer };
}

const crypto = webcrypto;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
// Tolerates clocks of relying parties that run a little behind ours.
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A certificate serial number: 16 octets, the Unix time in milliseconds (48 bits), then 80 bits
 * from the CSPRNG (the CA/Browser Forum's Baseline Requirements ask for at least 64). Serials made
 * moments apart sort together, so recording a certificate touches the last pages of the serial
 * index rather than a random one (as newGuid does for ids): in strace of the server under
 * issuance load, 14.2 -> 12.8 WAL writes per certificate on SQLite. The time it shows is the
 * certificate's notBefore give or take the backdating, which the certificate states anyway.
 * Positive and minimal as a DER INTEGER: the first octet is 0x01 from 2004 to 2039, then 0x02…
 */
export function newSerial(now = Date.now()): Buffer {
  // Memory of its own, not a view into Node's shared pool: the serial is posted to the issuance
  // worker, and a posted view is cloned with the whole 8 KiB block it lies in.
  const serial = Buffer.alloc(SERIAL_OCTETS);
  serial.writeUIntBE(now, 0, TIME_OCTETS);
  takeRandom(serial, TIME_OCTETS);
  // A clock before November 2004 would leave a leading zero octet (not minimal).
  if (serial[0] === 0) serial[0] = 1;
  return serial;
}

const SERIAL_OCTETS = 16;
const TIME_OCTETS = 6;
const RANDOM_OCTETS = SERIAL_OCTETS - TIME_OCTETS;
/**
 * CSPRNG output drawn 4 KiB at a time, each octet used once (as Node does for randomUUID): a
 * call of randomBytes per serial was 13 µs of the event loop per certificate under issuance
 * load, against 0.25 µs for a copy out of the pool.
 */
const randomPool = Buffer.alloc(4096 - (4096 % RANDOM_OCTETS));
let randomTaken = randomPool.length;

function takeRandom(into: Buffer, at: number): void {
  if (randomTaken === randomPool.length) {
    randomFillSync(randomPool);
    randomTaken = 0;
  }
  randomPool.copy(into, at, randomTaken, randomTaken + RANDOM_OCTETS);
  randomTaken += RANDOM_OCTETS;
}

export async function createCaMaterial(opts: { root: CaKeyOptions; issuing: CaKeyOptions }): Promise<CaMaterial> {
  checkOptions(opts.root, "root");
  checkOptions(opts.issuing, "issuing");
  const [rootKeys, issuingKeys] = await Promise.all([generateKeys(opts.root.keyType), generateKeys(opts.issuing.keyType)]);

  const notBefore = new Date(Math.floor((Date.now() - BACKDATE_MS) / 1000) * 1000);
  const rootNotAfter = new Date(notBefore.getTime() + opts.root.validityDays * DAY_MS);
  // A subordinate that outlives its root would only look valid.
  const issuingNotAfter = new Date(
    Math.min(rootNotAfter.getTime(), notBefore.getTime() + opts.issuing.validityDays * DAY_MS),
  );

  const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, crypto);
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerial().toString("hex"),
      name: opts.root.subject,
      notBefore,
      notAfter: rootNotAfter,
      keys: rootKeys,
      signingAlgorithm: signingAlgorithm(opts.root.keyType),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        rootSki,
      ],
    },
    crypto,
  );

  const issuing = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerial().toString("hex"),
      subject: opts.issuing.subject,
      issuer: root.subject,
      notBefore,
      notAfter: issuingNotAfter,
      publicKey: issuingKeys.publicKey,
      signingKey: rootKeys.privateKey,
      signingAlgorithm: signingAlgorithm(opts.root.keyType),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey, false, crypto),
        new x509.AuthorityKeyIdentifierExtension(rootSki.keyId, false),
      ],
    },
    crypto,
  );

  return {
    root: { certDer: Buffer.from(root.rawData), keyPkcs8Der: await exportPkcs8(rootKeys.privateKey) },
    issuing: { certDer: Buffer.from(issuing.rawData), keyPkcs8Der: await exportPkcs8(issuingKeys.privateKey) },
  };
}

function checkOptions(o: CaKeyOptions, which: string): void {
  if (!Number.isInteger(o.validityDays) || o.validityDays < 1) {
    throw new Error(`${which} CA validityDays must be a positive whole number`);
  }
  if (typeof o.subject !== "string" || o.subject.trim() === "") throw new Error(`${which} CA subject must not be empty`);
}

function generateKeys(keyType: CaKeyOptions["keyType"]): Promise<CryptoKeyPair> {
  const usages: webcrypto.KeyUsage[] = ["sign", "verify"];
  switch (keyType) {
    case "rsa2048":
    case "rsa3072":
    case "rsa4096":
      return crypto.subtle.generateKey(
        {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: Number(keyType.slice(3)),
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        },
        true,
        usages,
      );
    case "p256":
      return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, usages);
    case "p384":
      return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, usages);
    default:
      throw new Error(`unsupported CA key type ${String(keyType)}`);
  }
}

// Must agree with signer.ts, which signs everything the issuing CA produces later.
function signingAlgorithm(keyType: CaKeyOptions["keyType"]): webcrypto.Algorithm | webcrypto.EcdsaParams {
  if (keyType === "p256") return { name: "ECDSA", hash: "SHA-256" };
  if (keyType === "p384") return { name: "ECDSA", hash: "SHA-384" };
  return { name: "RSASSA-PKCS1-v1_5" };
}

async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
}
