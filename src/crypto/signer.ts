import { createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { sequenceAround, SlotTemplates, toDer } from "./der.js";

/**
 * The one place that decides which signature algorithm a CA key signs with, so that
 * certificates and CRLs from the same CA always agree: RSA → sha256WithRSAEncryption,
 * EC → ECDSA with the hash matching the curve's strength.
 */
export interface CaSigner {
  readonly hash: "sha256" | "sha384" | "sha512";
  readonly algorithmIdentifierDer: Buffer;
  /** Signs on the libuv threadpool, so issuance does not stall the event loop. */
  sign(data: Buffer): Promise<Buffer>;
  /** SEQUENCE { toBeSigned, signatureAlgorithm, BIT STRING signature }. */
  signStructure(toBeSignedDer: Buffer): Promise<Buffer>;
  /** The same on the calling thread: for a thread that does nothing else (the issuance workers). */
  signStructureSync(toBeSignedDer: Buffer): Buffer;
}

const RSA_SHA256 = "1.2.840.113549.1.1.11";
const ECDSA_BY_CURVE: Record<string, { hash: CaSigner["hash"]; oid: string }> = {
  prime256v1: { hash: "sha256", oid: "1.2.840.10045.4.3.2" },
  secp384r1: { hash: "sha384", oid: "1.2.840.10045.4.3.3" },
  secp521r1: { hash: "sha512", oid: "1.2.840.10045.4.3.4" },
};

/**
 * `certificateSpkiDer` is the public key of the CA certificate the key will sign for: a
 * mismatch would produce signatures nobody can verify, so it is refused up front.
 */
export function caSignerFromPkcs8(pkcs8Der: Buffer, certificateSpkiDer: Buffer): CaSigner {
  let key: KeyObject;
  let matches: boolean;
  try {
    key = createPrivateKey({ key: pkcs8Der, format: "der", type: "pkcs8" });
    const fromKey = createPublicKey(key).export({ type: "spki", format: "der" });
    const fromCert = createPublicKey({ key: certificateSpkiDer, format: "der", type: "spki" }).export({ type: "spki", format: "der" });
    matches = fromKey.equals(fromCert);
  } catch {
    throw new Error("CA private key or certificate is unreadable");
  }
  if (!matches) throw new Error("CA private key does not belong to the CA certificate");
  let hash: CaSigner["hash"];
  let algorithmIdentifier: asn1js.Sequence;
  if (key.asymmetricKeyType === "rsa") {
    hash = "sha256";
    // RFC 4055 §5: the parameters of the PKCS#1 v1.5 signature OIDs are an explicit NULL.
    algorithmIdentifier = new asn1js.Sequence({
      value: [new asn1js.ObjectIdentifier({ value: RSA_SHA256 }), new asn1js.Null()],
    });
  } else if (key.asymmetricKeyType === "ec") {
    const choice = ECDSA_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ""];
    if (!choice) throw new Error("CA key uses an unsupported elliptic curve");
    hash = choice.hash;
    // RFC 5758 §3.2: ECDSA signature AlgorithmIdentifiers carry no parameters at all.
    algorithmIdentifier = new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: choice.oid })] });
  } else {
    throw new Error("CA key type is not supported (RSA or ECDSA only)");
  }
  const algorithmIdentifierDer = toDer(algorithmIdentifier);

  const sign = (data: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      nodeSign(hash, data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
    });

  // The BIT STRING around a signature and the SEQUENCE around the whole depend only on their lengths.
  const templates = new SlotTemplates(64);
  const signed = (toBeSignedDer: Buffer, signature: Buffer): Buffer => {
    const bits = templates.fill("signature", signature, (p) => toDer(new asn1js.BitString({ valueHex: p })));
    return templates.fill("signed", [toBeSignedDer, algorithmIdentifierDer, bits], sequenceAround);
  };

  return {
    hash,
    algorithmIdentifierDer,
    sign,
    async signStructure(toBeSignedDer: Buffer): Promise<Buffer> {
      return signed(toBeSignedDer, await sign(toBeSignedDer));
    },
    signStructureSync(toBeSignedDer: Buffer): Buffer {
      return signed(toBeSignedDer, nodeSign(hash, toBeSignedDer, key));
    },
  };
}
