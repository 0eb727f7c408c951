import { createPublicKey, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { toArrayBuffer, toDer } from "./der.js";

/**
 * The fast road for the public keys nearly every CSR carries (RSA, ECDSA P-256/P-384 with an
 * uncompressed point). OpenSSL 3 imports a DER SubjectPublicKeyInfo through its generic decoder
 * chain, which cost more per request than the CA's own signature; a JWK import of the same numbers
 * builds the same key directly (OpenSSL still checks an EC point lies on its curve), and the
 * canonical DER is encoded here from those numbers. Anything else answers undefined and takes
 * the general path.
 */

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVES: Record<string, { crv: "P-256" | "P-384"; coordinateBytes: number }> = {
  "1.2.840.10045.3.1.7": { crv: "P-256", coordinateBytes: 32 },
  "1.3.132.0.34": { crv: "P-384", coordinateBytes: 48 },
};

export function commonPublicKey(spki: asn1js.Sequence): { key: KeyObject; spkiDer: Buffer } | undefined {
  const [algorithm, bits, ...rest] = spki.valueBlock.value;
  if (rest.length > 0 || !(algorithm instanceof asn1js.Sequence) || !(bits instanceof asn1js.BitString)) return undefined;
  if (bits.valueBlock.unusedBits !== 0) return undefined;
  const [oid, params, ...more] = algorithm.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier) || more.length > 0) return undefined;
  const keyBytes = Buffer.from(bits.valueBlock.valueHexView);
  switch (oid.getValue()) {
    case RSA_ENCRYPTION:
      return params instanceof asn1js.Null ? rsaKey(keyBytes) : undefined;
    case EC_PUBLIC_KEY:
      return params instanceof asn1js.ObjectIdentifier ? ecKey(params.getValue(), keyBytes) : undefined;
    default:
      return undefined;
  }
}

function rsaKey(rsaPublicKey: Buffer): { key: KeyObject; spkiDer: Buffer } | undefined {
  const parsed = asn1js.fromBER(rsaPublicKey);
  if (parsed.offset !== rsaPublicKey.length || !(parsed.result instanceof asn1js.Sequence)) return undefined;
  const [n, e, ...rest] = parsed.result.valueBlock.value;
  if (rest.length > 0 || !(n instanceof asn1js.Integer) || !(e instanceof asn1js.Integer)) return undefined;
  const modulus = magnitude(n);
  const exponent = magnitude(e);
  if (!modulus || !exponent) return undefined;
  const key = importJwk({ kty: "RSA", n: modulus.toString("base64url"), e: exponent.toString("base64url") });
  if (!key) return undefined;
  const body = new asn1js.Sequence({ value: [positiveInteger(modulus), positiveInteger(exponent)] });
  return { key, spkiDer: encodeSpki([new asn1js.ObjectIdentifier({ value: RSA_ENCRYPTION }), new asn1js.Null()], toDer(body)) };
}

function ecKey(curveOid: string, point: Buffer): { key: KeyObject; spkiDer: Buffer } | undefined {
  const curve = CURVES[curveOid];
  // Compressed points would need decompressing first; they are rare and take the general path.
  if (!curve || point.length !== 1 + 2 * curve.coordinateBytes || point[0] !== 0x04) return undefined;
  const x = point.subarray(1, 1 + curve.coordinateBytes);
  const y = point.subarray(1 + curve.coordinateBytes);
  const key = importJwk({ kty: "EC", crv: curve.crv, x: x.toString("base64url"), y: y.toString("base64url") });
  if (!key) return undefined;
  const algorithm = [new asn1js.ObjectIdentifier({ value: EC_PUBLIC_KEY }), new asn1js.ObjectIdentifier({ value: curveOid })];
  return { key, spkiDer: encodeSpki(algorithm, point) };
}

function importJwk(jwk: Record<string, string>): KeyObject | undefined {
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    // Not a valid key (an EC point off its curve, say): the general path gives the error.
    return undefined;
  }
}

/** A positive INTEGER's magnitude without leading zero octets; undefined for zero or negative. */
function magnitude(i: asn1js.Integer): Buffer | undefined {
  const bytes = Buffer.from(i.valueBlock.valueHexView);
  if (bytes.length === 0 || bytes[0]! & 0x80) return undefined;
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  return start === bytes.length ? undefined : bytes.subarray(start);
}

function positiveInteger(mag: Buffer): asn1js.Integer {
  const octets = mag[0]! & 0x80 ? Buffer.concat([Buffer.of(0), mag]) : mag;
  return new asn1js.Integer({ valueHex: toArrayBuffer(octets) });
}

function encodeSpki(algorithm: asn1js.BaseBlock[], subjectPublicKey: Uint8Array): Buffer {
  return toDer(
    new asn1js.Sequence({
      value: [new asn1js.Sequence({ value: algorithm }), new asn1js.BitString({ valueHex: toArrayBuffer(subjectPublicKey) })],
    }),
  );
}
