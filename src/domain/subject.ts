// Certificate subjects and key usages come from the certificate template and the directory,
// never from the CSR (SPEC §8).
import type { CertificateTemplateConfig } from "../config/types.js";
import { KeyUsageBits } from "./enums.js";
import type { Caller } from "./caller.js";

export type RdnType = "CN" | "O" | "OU" | "E" | "C" | "L" | "ST" | "DC" | "UID";
const RDN_TYPES: readonly string[] = ["CN", "O", "OU", "E", "C", "L", "ST", "DC", "UID"];

export interface UserAttributes {
  name: string;
  displayName: string;
  email: string;
  upn: string;
}

export function userAttributes(u: Caller | UserAttributes): UserAttributes {
  return { name: u.name, displayName: u.displayName, email: u.email, upn: u.upn };
}

/** "CN={displayName},O=Example" → RDNs; placeholders are filled after splitting so values stay values. */
export function renderSubject(pattern: string, user: UserAttributes): Array<{ type: RdnType; value: string }> {
  if (pattern.trim() === "") return [];
  return pattern
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => {
      const eq = part.indexOf("=");
      const type = part.slice(0, eq).trim().toUpperCase();
      if (eq < 1 || !RDN_TYPES.includes(type)) throw new Error(`subject pattern: unsupported attribute in "${part}"`);
      const value = part
        .slice(eq + 1)
        .trim()
        .replace(/\{(name|displayName|email|upn)\}/g, (_m, k: keyof UserAttributes) => user[k]);
      return { type: type as RdnType, value };
    })
    .filter((rdn) => rdn.value !== "");
}

/** The subject as generation options show it, in the usual "CN=…, O=…" form. */
export function subjectText(rdns: Array<{ type: RdnType; value: string }>): string {
  return rdns.map((r) => `${r.type}=${r.value}`).join(", ");
}

export type KeyUsageName = "digitalSignature" | "nonRepudiation" | "keyEncipherment" | "dataEncipherment" | "keyAgreement";

/** The template's CM KeyUsages bits as X.509 key usages for the key's algorithm. */
export function x509KeyUsages(t: CertificateTemplateConfig): KeyUsageName[] {
  const out = new Set<KeyUsageName>();
  const rsa = t.keyAlgorithm === "RSA";
  if (t.keyUsages & KeyUsageBits.Signing) out.add("digitalSignature");
  if (t.keyUsages & KeyUsageBits.Decryption) out.add(rsa ? "keyEncipherment" : "keyAgreement");
  if (t.keyUsages & KeyUsageBits.KeyAgreement) out.add("keyAgreement");
  if (out.size === 0) out.add("digitalSignature");
  return [...out];
}

export function sanOf(t: CertificateTemplateConfig, user: UserAttributes): { email?: string; upn?: string } | undefined {
  const san: { email?: string; upn?: string } = {};
  if (t.subjectAltNames.includes("email") && user.email) san.email = user.email;
  if (t.subjectAltNames.includes("upn") && user.upn) san.upn = user.upn;
  return san.email || san.upn ? san : undefined;
}
