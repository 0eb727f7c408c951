import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { readDer } from "../../src/crypto/der-reader.js";
import { commonPublicKey, spkiPartsAt, spkiPartsOf, type SpkiParts } from "../../src/crypto/spki.js";

// The fast SPKI import must give exactly what OpenSSL's own import and export give.

/** The key's parts as asn1js reads them, after checking the strict DER reader reads them alike. */
function spkiBlock(der: Buffer): SpkiParts {
  const parsed = asn1js.fromBER(der);
  if (!(parsed.result instanceof asn1js.Sequence)) throw new Error("not a sequence");
  const parts = spkiPartsOf(parsed.result);
  const root = readDer(der);
  // BER slack is for asn1js alone; what the strict reader takes, it reads as asn1js does.
  if (root) expect(spkiPartsAt(der, root)).toEqual(parts);
  if (!parts) throw new Error("not a plain SubjectPublicKeyInfo");
  return parts;
}

function exported(key: KeyObject): Buffer {
  return key.export({ format: "der", type: "spki" });
}

const KEYS: Array<[string, KeyObject]> = [
  ["RSA-1024 e=3", generateKeyPairSync("rsa", { modulusLength: 1024, publicExponent: 3 }).publicKey],
  ["RSA-2048", generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey],
  ["RSA-3072", generateKeyPairSync("rsa", { modulusLength: 3072 }).publicKey],
  ["RSA-4096 e=65539", generateKeyPairSync("rsa", { modulusLength: 4096, publicExponent: 65539 }).publicKey],
  ["P-256", generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey],
  ["P-384", generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey],
];

describe("commonPublicKey", () => {
  for (const [name, key] of KEYS) {
    it(`${name}: same key and same DER as OpenSSL's import and export`, () => {
      const der = exported(key);
      const fast = commonPublicKey(spkiBlock(der))!;
      expect(fast).toBeDefined();
      expect(fast.key.equals(key)).toBe(true);
      expect(fast.spkiDer).toEqual(der);
      expect(fast.key.asymmetricKeyDetails).toEqual(key.asymmetricKeyDetails);
    });
  }

  it("re-encodes an RSA key sent with BER slack canonically, as the general path does", () => {
    const key = KEYS[1]![1];
    const pkcs1 = key.export({ format: "der", type: "pkcs1" });
    const jwk = key.export({ format: "jwk" });
    const n = Buffer.from(jwk.n!, "base64url");
    const e = Buffer.from(jwk.e!, "base64url");
    const integer = (octets: Buffer, length: number[]) => Buffer.concat([Buffer.of(0x02, ...length), octets]);
    const sequence = (length: number[], ...parts: Buffer[]) => Buffer.concat([Buffer.of(0x30, ...length), ...parts]);
    const withZeros = Buffer.concat([Buffer.of(0, 0), n]);
    const sloppy: Record<string, Buffer> = {
      "extra leading zero octets": sequence([0x82, 0x01, 0x0b], integer(withZeros, [0x82, 0x01, 0x02]), integer(e, [0x03])),
      "no sign octet before the modulus": sequence([0x82, 0x01, 0x09], integer(n, [0x82, 0x01, 0x00]), integer(e, [0x03])),
      "long-form lengths": sequence([0x84, 0, 0, 0x01, 0x0d], integer(Buffer.concat([Buffer.of(0), n]), [0x84, 0, 0, 0x01, 0x01]), integer(e, [0x81, 0x03])),
      "indefinite length": Buffer.concat([sequence([0x80], pkcs1.subarray(4)), Buffer.of(0, 0)]),
    };
    for (const [what, body] of Object.entries(sloppy)) {
      const spki = new asn1js.Sequence({
        value: [
          new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: "1.2.840.113549.1.1.1" }), new asn1js.Null()] }),
          new asn1js.BitString({ valueHex: new Uint8Array(body).buffer }),
        ],
      });
      const der = Buffer.from(spki.toBER());
      const fast = commonPublicKey(spkiBlock(der));
      expect(fast, what).toBeDefined();
      expect(fast!.spkiDer, what).toEqual(exported(key));
      expect(fast!.key.equals(key), what).toBe(true);
      // The general path reads it the same way.
      expect(exported(createPublicKey({ key: der, format: "der", type: "spki" })), what).toEqual(exported(key));
    }
  });

  it("leaves compressed points, other curves and off-curve points to the general path", () => {
    const p256 = KEYS[4]![1];
    const der = exported(p256);
    const compressed = createPublicKey({ key: der, format: "der", type: "spki" });
    const jwk = compressed.export({ format: "jwk" });
    const y = Buffer.from(jwk.y!, "base64url");
    const compressedPoint = Buffer.concat([Buffer.of(y[y.length - 1]! & 1 ? 3 : 2), Buffer.from(jwk.x!, "base64url")]);
    const withPoint = (point: Buffer, curve = "1.2.840.10045.3.1.7") =>
      spkiBlock(
        Buffer.from(
          new asn1js.Sequence({
            value: [
              new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: "1.2.840.10045.2.1" }), new asn1js.ObjectIdentifier({ value: curve })] }),
              new asn1js.BitString({ valueHex: new Uint8Array(point).buffer }),
            ],
          }).toBER(),
        ),
      );
    expect(commonPublicKey(withPoint(compressedPoint))).toBeUndefined();
    const secp256k1 = exported(generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey);
    expect(commonPublicKey(spkiBlock(secp256k1))).toBeUndefined();
    const offCurve = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.alloc(32, 7)]);
    expect(commonPublicKey(withPoint(offCurve))).toBeUndefined();
    const ed25519 = exported(generateKeyPairSync("ed25519").publicKey);
    expect(commonPublicKey(spkiBlock(ed25519))).toBeUndefined();
  });
});
