// PKCS#10 requests whose signature is made by the card: the request info is encoded here, the
// card signs it, so the private key never has to leave the card for proof of possession.
import "reflect-metadata";
import { Name } from "@peculiar/x509";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import type { HashName, KeyAlgorithm } from "./card/keys.js";

const RSA_SIGNATURE_OIDS: Record<HashName, string> = {
  SHA1: "1.2.840.113549.1.1.5",
  SHA256: "1.2.840.113549.1.1.11",
  SHA384: "1.2.840.113549.1.1.12",
  SHA512: "1.2.840.113549.1.1.13",
};

const ECDSA_SIGNATURE_OIDS: Record<HashName, string> = {
  SHA1: "1.2.840.10045.4.1",
  SHA256: "1.2.840.10045.4.3.2",
  SHA384: "1.2.840.10045.4.3.3",
  SHA512: "1.2.840.10045.4.3.4",
};

export interface CsrInput {
  /** Subject DN in string form ("CN=alice, O=Contoso"); empty for an empty subject. */
  subject: string;
  subjectPublicKeyInfo: Uint8Array;
  algorithm: KeyAlgorithm;
  hash: HashName;
  /** Signs the DER CertificationRequestInfo; on the card, behind the PIN. */
  sign: (tbs: Uint8Array) => Uint8Array | Promise<Uint8Array>;
}

function fromDer<T>(der: Uint8Array, parse: (schema: asn1js.AsnType) => T, what: string): T {
  const asn1 = asn1js.fromBER(Uint8Array.from(der));
  if (asn1.offset === -1) throw new Error(`cannot parse ${what}`);
  return parse(asn1.result);
}

function signatureAlgorithm(algorithm: KeyAlgorithm, hash: HashName): pkijs.AlgorithmIdentifier {
  // RSA algorithm identifiers carry an explicit NULL, ECDSA ones no parameters (RFC 4055, 5758).
  return algorithm === "RSA"
    ? new pkijs.AlgorithmIdentifier({ algorithmId: RSA_SIGNATURE_OIDS[hash], algorithmParams: new asn1js.Null() })
    : new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SIGNATURE_OIDS[hash] });
}

/** Returns the DER encoding of a signed PKCS#10 CertificationRequest. */
export async function buildCsr(input: CsrInput): Promise<Buffer> {
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject = fromDer(
    new Uint8Array(new Name(input.subject.trim()).toArrayBuffer()),
    (schema) => new pkijs.RelativeDistinguishedNames({ schema }),
    "subject",
  );
  csr.subjectPublicKeyInfo = fromDer(input.subjectPublicKeyInfo, (schema) => new pkijs.PublicKeyInfo({ schema }), "public key");
  // CertificationRequestInfo; the attributes [0] set is mandatory even when empty (RFC 2986).
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      csr.subject.toSchema(),
      csr.subjectPublicKeyInfo.toSchema(),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [] }),
    ],
  });
  csr.tbsView = new Uint8Array(info.toBER());
  const signature = await input.sign(csr.tbsView);
  csr.signatureAlgorithm = signatureAlgorithm(input.algorithm, input.hash);
  csr.signatureValue = new asn1js.BitString({ valueHex: Uint8Array.from(signature) });
  return Buffer.from(csr.toSchema().toBER());
}

/**
 * The server writes the real subject (SPEC §8), so one this client cannot encode is sent empty
 * rather than failing the enrollment (the parser silently yields an empty name for non-DNs).
 */
export function encodableSubject(subject: string): string {
  const trimmed = subject.trim();
  try {
    return new Name(trimmed).toString() === "" ? "" : trimmed;
  } catch {
    return "";
  }
}

export function csrToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
}
