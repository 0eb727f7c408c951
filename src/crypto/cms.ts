import * as asn1js from "asn1js";
import { PreEncoded, SlotTemplates, toDer } from "./der.js";

const ID_DATA = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA = "1.2.840.113549.1.7.2";

/**
 * A "certs-only" CMS SignedData (RFC 5652 §5, degenerate case): no signers, no content, just
 * certificates — the PKCS#7 that Windows enrolment and `openssl crl2pkcs7 -nocrl` exchange.
 * Certificates keep the order given (end entity first, then its chain). They are inserted as the
 * DER they already are: this runs once per issued certificate, and parsing each certificate
 * only to write the same bytes back cost more than signing it.
 */
export function certsOnlyPkcs7(certsDer: Buffer[]): Buffer {
  certsDer.forEach(checkCertificate);
  return encodeCertsOnly(certsDer);
}

/**
 * certsOnlyPkcs7([certificate, ...chainDer]) for each certificate an issuing CA signs: the
 * SignedData around them is encoded once per length of certificate (SlotTemplates).
 */
export function certsOnlyPkcs7ForChain(chainDer: Buffer[]): (certificateDer: Buffer) => Buffer {
  chainDer.forEach((d, i) => checkCertificate(d, i + 1));
  const templates = new SlotTemplates(256);
  return (certificateDer) => {
    checkCertificate(certificateDer, 0);
    return templates.fill("certs-only", certificateDer, (p) => encodeCertsOnly([p, ...chainDer]));
  };
}

function checkCertificate(der: Buffer, i: number): void {
  if (der.length < 2 || der[0] !== 0x30) throw new Error(`certificate ${i} is not a DER X.509 certificate`);
}

function encodeCertsOnly(certsDer: Buffer[]): Buffer {
  const signedData = new asn1js.Sequence({
    value: [
      SIGNED_DATA_HEAD,
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: certsDer.map((d) => new PreEncoded(d)) }),
      NO_SIGNERS,
    ],
  });
  const contentInfo = new asn1js.Sequence({
    value: [SIGNED_DATA_OID, new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [signedData] })],
  });
  return Buffer.from(contentInfo.toBER(false));
}

// The parts every certs-only SignedData shares, encoded once: building them per answer cost more
// than the rest of it.
const SIGNED_DATA_OID = new PreEncoded(toDer(new asn1js.ObjectIdentifier({ value: ID_SIGNED_DATA })));
// version 1, no digestAlgorithms, encapContentInfo without content
const SIGNED_DATA_HEAD = new PreEncoded(
  Buffer.concat([
    toDer(new asn1js.Integer({ value: 1 })),
    toDer(new asn1js.Set({ value: [] })),
    toDer(new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ID_DATA })] })),
  ]),
);
const NO_SIGNERS = new PreEncoded(toDer(new asn1js.Set({ value: [] })));
