// openssl views of what the server publishes: chain, CRL, certificates, PFX.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { call, type TestServer } from "./server.js";

export function tempDir(prefix = "openclm-pki-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/** Writes root.pem, issuing.pem and crl.pem of the server into dir. */
export async function fetchPki(server: TestServer, dir: string): Promise<void> {
  const chain = pemBlocks((await call(server, "GET", "/ca/certificates")).text);
  writeFileSync(join(dir, "issuing.pem"), chain[0]!);
  writeFileSync(join(dir, "root.pem"), chain[1]!);
  const crl = Buffer.from(await (await fetch(`${server.url}/CertificateManagement/api/v1.0/ca/crl`)).arrayBuffer());
  writeFileSync(join(dir, "crl.der"), crl);
  execFileSync("openssl", ["crl", "-inform", "DER", "-in", join(dir, "crl.der"), "-out", join(dir, "crl.pem")]);
}

export interface CrlView {
  number: number;
  entries: Map<string, string>; // serial (upper hex) → reason text ("" when none)
  text: string;
}

export async function readCrl(server: TestServer): Promise<CrlView> {
  const dir = tempDir();
  await fetchPki(server, dir);
  const text = execFileSync("openssl", ["crl", "-in", join(dir, "crl.pem"), "-noout", "-text", "-CAfile", join(dir, "issuing.pem")], {
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
  const entries = new Map<string, string>();
  const re = /Serial Number: ([0-9A-F]+)\s+Revocation Date: [^\n]+(?:\s+CRL entry extensions:\s+X509v3 CRL Reason Code:\s+([^\n]+))?/g;
  for (const m of text.matchAll(re)) entries.set(m[1]!.toUpperCase(), (m[2] ?? "").trim());
  const number = Number(/X509v3 CRL Number:\s+(\d+)/.exec(text)?.[1] ?? "-1");
  return { number, entries, text };
}

/** The leaf of a certs-only PKCS#7 (base64 DER) as PEM. */
export function leafOfPkcs7(pkcs7: Buffer): string {
  const dir = tempDir();
  writeFileSync(join(dir, "p.p7b"), pkcs7);
  return pemBlocks(execFileSync("openssl", ["pkcs7", "-inform", "DER", "-in", join(dir, "p.p7b"), "-print_certs"]).toString())[0]!;
}

/** `openssl verify -crl_check`: true when the certificate is accepted. */
export async function verifyWithCrl(server: TestServer, leafPem: string): Promise<{ ok: boolean; output: string }> {
  const dir = tempDir();
  await fetchPki(server, dir);
  writeFileSync(join(dir, "leaf.pem"), leafPem);
  const r = spawnSync("openssl", ["verify", "-crl_check", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "issuing.pem"), "-CRLfile", join(dir, "crl.pem"), join(dir, "leaf.pem")], {
    encoding: "utf8",
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export function serialOf(pem: string): string {
  return execFileSync("openssl", ["x509", "-noout", "-serial"], { input: pem }).toString().trim().replace(/^serial=/, "").toUpperCase();
}
