// The certificate the server presents over HTTPS: read from operator-supplied files, or issued
// by the server's own CA for the names it is reached by (`--tls-self`). A self-issued key lives
// only in memory, and the certificate is re-issued well before it expires so a long-running
// server never serves an expired one.
import { generateKeyPairSync, randomUUID, X509Certificate } from "node:crypto";
import type { Server as HttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { createSecureContext } from "node:tls";
import { newSerial } from "./crypto/ca.js";
import { EKU_OIDS } from "./config/eku.js";
import type { Logger } from "pino";
import type { CertificateAuthority } from "./domain/services/ca.js";
import type { Store } from "./store/store.js";
import { recordAudit } from "./domain/audit.js";

export interface TlsMaterial {
  key: Buffer;
  /** PEM: the server certificate, then the CA certificates a client needs to build the chain. */
  cert: Buffer;
}

export const SELF_ISSUED_VALIDITY_DAYS = 30;
/** Re-issue at a third of the validity, leaving two thirds as margin for clock skew and restarts. */
export const SELF_ISSUED_RENEW_MS = (SELF_ISSUED_VALIDITY_DAYS / 3) * 86_400_000;

/** Reads and checks a PEM certificate (chain) and its private key; messages never quote the key. */
export function loadTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = readTlsFile(certFile, "certificate");
  const key = readTlsFile(keyFile, "private key");
  try {
    new X509Certificate(cert);
  } catch {
    throw new Error(`${certFile}: not a PEM certificate`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new Error(`${keyFile}: ${/MISMATCH/i.test(code + (e as Error).message) ? "the private key does not belong to the certificate" : "not a usable PEM private key"}`);
  }
  return { cert, key };
}

function readTlsFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/** The names a server listening on `host` is reached by: that host, loopback, and public names. */
export function serverNames(listenHost: string, publicBaseUrl?: string): { dns: string[]; ip: string[] } {
  const dns = new Set<string>(["localhost"]);
  const ip = new Set<string>(["127.0.0.1", "::1"]);
  const add = (h: string) => {
    const host = h.replace(/^\[|\]$/g, "");
    if (host === "" || host === "0.0.0.0" || host === "::") return;
    if (isIP(host)) ip.add(host);
    else if (/^[A-Za-z0-9.-]+$/.test(host)) dns.add(host.toLowerCase());
  };
  add(listenHost);
  // Listening on every address: clients use the machine's name.
  if (listenHost === "0.0.0.0" || listenHost === "::" || listenHost === "") add(hostname());
  if (publicBaseUrl) {
    try {
      add(new URL(publicBaseUrl).hostname);
    } catch {
      // An unparsable base URL names no host; the loader reports it.
    }
  }
  return { dns: [...dns], ip: [...ip] };
}

/** A server-authentication certificate from the issuing CA, with an ECDSA P-256 key. */
export async function issueServerCertificate(ca: CertificateAuthority, names: { dns: string[]; ip: string[] }): Promise<TlsMaterial> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const now = Date.now();
  const der = await ca.issue({
    serial: newSerial(),
    subject: [
      { type: "O", value: "OpenCLM" },
      { type: "CN", value: names.dns.find((d) => d !== "localhost") ?? names.ip[0] ?? "localhost" },
    ],
    spkiDer: publicKey.export({ type: "spki", format: "der" }),
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + SELF_ISSUED_VALIDITY_DAYS * 86_400_000),
    keyUsage: ["digitalSignature"],
    extendedKeyUsages: [EKU_OIDS.serverAuth],
    san: { dns: names.dns, ip: names.ip },
  });
  const pem = [der, ca.issuingCertDer].map((d) => new X509Certificate(d).toString()).join("");
  return { key: Buffer.from(privateKey.export({ type: "pkcs8", format: "pem" })), cert: Buffer.from(pem) };
}

/** Issues (and audits) a fresh server certificate for these names each time it is called. */
export function selfIssuer(ca: CertificateAuthority, store: Store, names: { dns: string[]; ip: string[] }): () => Promise<TlsMaterial> {
  return async () => {
    const material = await issueServerCertificate(ca, names);
    await recordAudit(store, {
      actorUuid: null,
      actorName: "server",
      action: "tls.issue",
      targetType: "server",
      correlationId: randomUUID(),
      outcome: "success",
      details: { serial: new X509Certificate(material.cert).serialNumber, dns: names.dns, ip: names.ip },
    });
    return material;
  };
}

/** Swaps in a newly issued certificate for new connections every SELF_ISSUED_RENEW_MS. */
export function renewPeriodically(issue: () => Promise<TlsMaterial>, server: unknown, logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    issue()
      .then((m) => (server as HttpsServer).setSecureContext(m))
      .catch((err) => logger.error({ err }, "renewing the server's TLS certificate failed"));
  }, SELF_ISSUED_RENEW_MS);
  timer.unref();
  return timer;
}
