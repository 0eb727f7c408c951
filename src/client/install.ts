// Installing a certificate answer: certs-only PKCS#7 (what OpenCLM sends) and a CMC full PKI
// response (what a Microsoft CA sends) both keep the certificates in SignedData.certificates,
// so one reader serves both; the content type is deliberately not checked.
import { X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { VirtualSmartCard } from "./card/virtual-card.js";

const SIGNED_DATA_OID = "1.2.840.113549.1.7.2";

function derFromText(input: Uint8Array | string): Buffer {
  if (typeof input !== "string") return Buffer.from(input);
  const body = input.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, "").replace(/\s+/g, "");
  return Buffer.from(body, "base64");
}

/** Every X.509 certificate in a CMS SignedData (DER, or base64/PEM text); a bare certificate is accepted too. */
export function certificatesFromCms(input: Uint8Array | string): Buffer[] {
  const der = derFromText(input);
  const asn1 = asn1js.fromBER(Uint8Array.from(der));
  if (asn1.offset === -1) throw new Error("the certificate answer is not DER");
  let contentInfo: pkijs.ContentInfo;
  try {
    contentInfo = new pkijs.ContentInfo({ schema: asn1.result });
  } catch {
    try {
      new X509Certificate(der);
      return [der];
    } catch {
      throw new Error("the certificate answer is neither a CMS SignedData nor a certificate");
    }
  }
  if (contentInfo.contentType !== SIGNED_DATA_OID) {
    throw new Error(`the certificate answer is CMS content ${contentInfo.contentType}, not SignedData`);
  }
  const signedData = new pkijs.SignedData({ schema: contentInfo.content });
  return (signedData.certificates ?? [])
    .filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate)
    .map((c) => Buffer.from(c.toSchema().toBER()));
}

export interface ClassifiedCertificates {
  endEntity: Buffer[];
  ca: Buffer[];
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return issuer.fingerprint256 !== subject.fingerprint256 && subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** A certificate is a CA one if it says so (basic constraints) or signed another one in the set. */
export function classifyCertificates(ders: Uint8Array[]): ClassifiedCertificates {
  const certs = ders.map((d) => ({ der: Buffer.from(d), x509: new X509Certificate(Buffer.from(d)) }));
  const result: ClassifiedCertificates = { endEntity: [], ca: [] };
  for (const c of certs) {
    const isCa = c.x509.ca || certs.some((o) => issued(c.x509, o.x509));
    (isCa ? result.ca : result.endEntity).push(c.der);
  }
  return result;
}

export interface InstalledCertificate {
  containerId: string;
  certificate: X509Certificate;
}

export interface InstallOptions {
  /** SmartcardConfig.DoNotInstallCaCertificates turns this off. */
  installCaCertificates: boolean;
}

export class CertificateMismatchError extends Error {
  override name = "CertificateMismatchError";
}

/**
 * Puts each end-entity certificate of the answer into the key container holding its key,
 * matched by public key (never by order or name). The card must have the PIN verified.
 */
export function installCertificateAnswer(
  card: VirtualSmartCard,
  answer: Uint8Array | string,
  opts: InstallOptions,
): InstalledCertificate[] {
  const { endEntity, ca } = classifyCertificates(certificatesFromCms(answer));
  if (endEntity.length === 0) throw new CertificateMismatchError("the answer holds no end-entity certificate");
  const installed: InstalledCertificate[] = [];
  for (const der of endEntity) {
    const x509 = new X509Certificate(der);
    const spki = x509.publicKey.export({ type: "spki", format: "der" });
    const container = card.findContainerByPublicKey(spki);
    if (!container) {
      throw new CertificateMismatchError(`certificate ${x509.serialNumber} (${x509.subject.replace(/\n/g, ", ")}) matches no key on the card`);
    }
    card.installCertificate(container.id, der);
    installed.push({ containerId: container.id, certificate: x509 });
  }
  if (opts.installCaCertificates && ca.length > 0) card.addCaCertificates(ca);
  return installed;
}
