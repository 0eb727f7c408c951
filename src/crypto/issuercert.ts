import { createHash } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { parseSingle } from "./der.js";

const SUBJECT_KEY_IDENTIFIER = "2.5.29.14";

/** What a CA certificate contributes to everything it signs. */
export interface IssuerIdentity {
  /** The subject Name exactly as encoded in the CA certificate: path building compares bytes. */
  subjectDer: Buffer;
  /** The CA's SKI, which becomes the AKI keyIdentifier of what it signs. */
  keyIdentifier: Buffer;
  spkiDer: Buffer;
  notAfter: Date;
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifierOf(spki: pkijs.PublicKeyInfo): Buffer {
  return createHash("sha1").update(spki.subjectPublicKey.valueBlock.valueHexView).digest();
}

export function issuerIdentity(certDer: Buffer): IssuerIdentity {
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema: parseSingle(certDer, "CA certificate") });
  } catch {
    throw new Error("CA certificate is not a valid DER X.509 certificate");
  }
  const ski = cert.extensions?.find((e) => e.extnID === SUBJECT_KEY_IDENTIFIER);
  let keyIdentifier: Buffer;
  if (ski) {
    const inner = asn1js.fromBER(ski.extnValue.valueBlock.valueHexView);
    if (inner.offset === -1 || !(inner.result instanceof asn1js.OctetString)) {
      throw new Error("CA certificate has a malformed subjectKeyIdentifier");
    }
    keyIdentifier = Buffer.from(inner.result.valueBlock.valueHexView);
  } else {
    keyIdentifier = keyIdentifierOf(cert.subjectPublicKeyInfo);
  }
  return {
    subjectDer: Buffer.from(cert.subject.valueBeforeDecode),
    keyIdentifier,
    spkiDer: Buffer.from(cert.subjectPublicKeyInfo.toSchema().toBER(false)),
    notAfter: cert.notAfter.value,
  };
}
