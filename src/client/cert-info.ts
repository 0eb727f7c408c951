// The few certificate facts the client shows and prints as JSON.
import { X509Certificate } from "node:crypto";

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Upper-case hex SHA-1 of the DER, as the CM API spells thumbprints. */
  thumbprint: string;
}

const oneLine = (dn: string) => dn.split("\n").join(", ");

export function certificateInfo(cert: X509Certificate | Uint8Array): CertificateInfo {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(Buffer.from(cert));
  return {
    subject: oneLine(x509.subject),
    issuer: oneLine(x509.issuer),
    serialNumber: x509.serialNumber.toUpperCase(),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    thumbprint: x509.fingerprint.replace(/:/g, "").toUpperCase(),
  };
}
