import * as pkijs from "pkijs";
import { parseSingle } from "./der.js";

const ID_DATA = "1.2.840.113549.1.7.1";
const ID_SIGNED_DATA = "1.2.840.113549.1.7.2";

/**
 * A "certs-only" CMS SignedData (RFC 5652 §5, degenerate case): no signers, no content, just
 * certificates — the PKCS#7 that Windows enrolment and `openssl crl2pkcs7 -nocrl` exchange.
 * Certificates keep the order given (end entity first, then its chain).
 */
export function certsOnlyPkcs7(certsDer: Buffer[]): Buffer {
  const certificates = certsDer.map((der, i) => {
    try {
      return new pkijs.Certificate({ schema: parseSingle(der, "certificate") });
    } catch {
      throw new Error(`certificate ${i} is not a valid DER X.509 certificate`);
    }
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: ID_DATA }),
    certificates,
    signerInfos: [],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: ID_SIGNED_DATA, content: signedData.toSchema(true) });
  return Buffer.from(contentInfo.toSchema().toBER(false));
}
