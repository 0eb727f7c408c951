import { createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { SlotTemplates, toArrayBuffer, toDer } from "./der.js";
import { childrenOf, contentsOf, oidReader, TAG, type DerElement } from "./der-reader.js";

/**
 * The fast road for the public keys nearly every CSR carries (RSA, ECDSA P-256/P-384 with an
 * uncompressed point). OpenSSL 3 imports a DER SubjectPublicKeyInfo through its generic decoder
 * chain, which cost more per request than the CA's own signature. An RSA key's BIT STRING is
 * itself a PKCS#1 RSAPublicKey, which OpenSSL imports directly and exports as canonical DER; an
 * EC key is imported from its coordinates as a JWK (OpenSSL still checks the point lies on its
 * curve) and its canonical DER is encoded here. Anything else answers undefined and takes the
 * general path.
 */

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVES: Record<string, { crv: "P-256" | "P-384"; coordinateBytes: number }> = {
  "1.2.840.10045.3.1.7": { crv: "P-256", coordinateBytes: 32 },
  "1.3.132.0.34": { crv: "P-384", coordinateBytes: 48 },
};

/**
 * A SubjectPublicKeyInfo's parts as commonPublicKey needs them, from either decoder: asn1js's
 * (spkiPartsOf) or the strict DER reader's (spkiPartsAt). Undefined when it is not the plain
 * shape: an algorithm with at most one parameter, and a key of whole octets.
 */
export interface SpkiParts {
  algorithm: string;
  /** NULL (RSA), a named curve (EC), or anything else. */
  parameters: { kind: "null" } | { kind: "oid"; oid: string } | { kind: "other" };
  publicKey: Buffer;
}

export function spkiPartsOf(spki: asn1js.Sequence): SpkiParts | undefined {
  const [algorithm, bits, ...rest] = spki.valueBlock.value;
  if (rest.length > 0 || !(algorithm instanceof asn1js.Sequence) || !(bits instanceof asn1js.BitString)) return undefined;
  if (bits.valueBlock.unusedBits !== 0) return undefined;
  const [oid, params, ...more] = algorithm.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier) || more.length > 0) return undefined;
  return {
    algorithm: oid.getValue(),
    parameters:
      params instanceof asn1js.Null ? { kind: "null" } : params instanceof asn1js.ObjectIdentifier ? { kind: "oid", oid: params.getValue() } : { kind: "other" },
    publicKey: Buffer.from(bits.valueBlock.valueHexView),
  };
}

const readOid = oidReader([RSA_ENCRYPTION, EC_PUBLIC_KEY, ...Object.keys(CURVES)]);

/** spkiPartsOf for an element of DER that readDer accepted. */
export function spkiPartsAt(der: Uint8Array, spki: DerElement): SpkiParts | undefined {
  const parts = spki.tag === TAG.SEQUENCE ? childrenOf(der, spki) : [];
  const [algorithm, bits] = parts;
  if (parts.length !== 2 || algorithm!.tag !== TAG.SEQUENCE || bits!.tag !== TAG.BIT_STRING) return undefined;
  const [oid, params, ...more] = childrenOf(der, algorithm!);
  if (oid?.tag !== TAG.OBJECT_IDENTIFIER || more.length > 0) return undefined;
  return {
    algorithm: readOid(der, oid),
    parameters: params?.tag === TAG.NULL ? { kind: "null" } : params?.tag === TAG.OBJECT_IDENTIFIER ? { kind: "oid", oid: readOid(der, params) } : { kind: "other" },
    // readDer admits BIT STRINGs of whole octets only: the first octet is 0 unused bits.
    publicKey: contentsOf(der, bits!).subarray(1),
  };
}

export function commonPublicKey(spki: SpkiParts): { key: KeyObject; spkiDer: Buffer } | undefined {
  switch (spki.algorithm) {
    case RSA_ENCRYPTION:
      return spki.parameters.kind === "null" ? rsaKey(spki.publicKey) : undefined;
    case EC_PUBLIC_KEY:
      return spki.parameters.kind === "oid" ? ecKey(spki.parameters.oid, spki.publicKey) : undefined;
    default:
      return undefined;
  }
}

function rsaKey(rsaPublicKey: Buffer): { key: KeyObject; spkiDer: Buffer } | undefined {
  // OpenSSL reads the RSAPublicKey's numbers as unsigned and takes BER slack (leading zero octets,
  // long or indefinite lengths); its export is the canonical DER of those numbers. About 10 µs,
  // against 55 µs for decoding the numbers with asn1js and importing them as a JWK.
  let key: KeyObject;
  try {
    key = createPublicKey({ key: rsaPublicKey, format: "der", type: "pkcs1" });
  } catch {
    return undefined;
  }
  return { key, spkiDer: key.export({ format: "der", type: "spki" }) };
}

function ecKey(curveOid: string, point: Buffer): { key: KeyObject; spkiDer: Buffer } | undefined {
  const curve = CURVES[curveOid];
  // Compressed points would need decompressing first; they are rare and take the general path.
  if (!curve || point.length !== 1 + 2 * curve.coordinateBytes || point[0] !== 0x04) return undefined;
  const x = point.subarray(1, 1 + curve.coordinateBytes);
  const y = point.subarray(1 + curve.coordinateBytes);
  const key = importJwk({ kty: "EC", crv: curve.crv, x: x.toString("base64url"), y: y.toString("base64url") });
  if (!key) return undefined;
  return { key, spkiDer: ecSpkis.fill(curveOid, point, (p) => encodeSpki([new asn1js.ObjectIdentifier({ value: EC_PUBLIC_KEY }), new asn1js.ObjectIdentifier({ value: curveOid })], p)) };
}

// An EC key's DER is the same for every point on its curve but the point: encoded once per curve.
const ecSpkis = new SlotTemplates(8);

function importJwk(jwk: Record<string, string>): KeyObject | undefined {
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    // Not a valid key (an EC point off its curve, say): the general path gives the error.
    return undefined;
  }
}

function encodeSpki(algorithm: asn1js.BaseBlock[], subjectPublicKey: Uint8Array): Buffer {
  return toDer(
    new asn1js.Sequence({
      value: [new asn1js.Sequence({ value: algorithm }), new asn1js.BitString({ valueHex: toArrayBuffer(subjectPublicKey) })],
    }),
  );
}
