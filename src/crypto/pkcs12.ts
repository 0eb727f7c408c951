import { createHash, generateKeyPair as nodeGenerateKeyPair, webcrypto } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { parseSingle, toArrayBuffer } from "./der.js";

/**
 * Server-generated keys and their PKCS#12 delivery (SPEC §8). The PFX matches what OpenSSL 3
 * writes by default, so `openssl pkcs12` and Windows open it without legacy algorithms:
 * PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for the key and for the certificates, 2048
 * iterations, and an HMAC-SHA256 MAC.
 */

const ITERATIONS = 2048;
const ID_PKCS8_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2";
const ID_CERT_BAG = "1.2.840.113549.1.12.10.1.3";
const ID_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1";
const ID_FRIENDLY_NAME = "1.2.840.113549.1.9.20";
const ID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21";
const PASSWORD_BASED = 1;
const PLAIN = 0;

// An engine of our own rather than pkijs.setEngine: no global state shared with other modules.
const engine = new pkijs.CryptoEngine({
  name: "node",
  crypto: webcrypto as unknown as pkijs.CryptoEngineParameters["crypto"],
});
const pbes2 = {
  contentEncryptionAlgorithm: { name: "AES-CBC", length: 256 } as webcrypto.AesKeyAlgorithm,
  hmacHashAlgorithm: "SHA-256",
  iterationCount: ITERATIONS,
};

export async function buildPfx(opts: {
  keyPkcs8Der: Buffer;
  certDer: Buffer;
  chainDer: Buffer[];
  password: string;
  friendlyName?: string;
}): Promise<Buffer> {
  if (typeof opts.password !== "string") throw new Error("PFX password must be a string");
  const password = toArrayBuffer(Buffer.from(opts.password, "utf8"));
  // OpenSSL's choice, and what Windows expects: the key and its certificate share SHA-1(cert).
  const localKeyId = createHash("sha1").update(opts.certDer).digest();
  const ownAttributes = [
    ...(opts.friendlyName !== undefined
      ? [new pkijs.Attribute({ type: ID_FRIENDLY_NAME, values: [new asn1js.BmpString({ value: opts.friendlyName })] })]
      : []),
    new pkijs.Attribute({ type: ID_LOCAL_KEY_ID, values: [new asn1js.OctetString({ valueHex: localKeyId })] }),
  ];

  const keyBag = new pkijs.PKCS8ShroudedKeyBag({
    parsedValue: new pkijs.PrivateKeyInfo({ schema: parse(opts.keyPkcs8Der, "private key") }),
  });
  await keyBag.makeInternalValues({ password, ...pbes2 }, engine);

  const certBags = [opts.certDer, ...opts.chainDer].map(
    (der, i) =>
      new pkijs.SafeBag({
        bagId: ID_CERT_BAG,
        bagValue: new pkijs.CertBag({
          certId: ID_X509_CERTIFICATE,
          parsedValue: new pkijs.Certificate({ schema: parse(der, "certificate") }),
        }),
        ...(i === 0 ? { bagAttributes: ownAttributes } : {}),
      }),
  );

  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    parsedValue: {
      safeContents: [
        { privacyMode: PASSWORD_BASED, value: new pkijs.SafeContents({ safeBags: certBags }) },
        {
          privacyMode: PLAIN,
          value: new pkijs.SafeContents({
            safeBags: [new pkijs.SafeBag({ bagId: ID_PKCS8_SHROUDED_KEY_BAG, bagValue: keyBag, bagAttributes: ownAttributes })],
          }),
        },
      ],
    },
  });
  await authenticatedSafe.makeInternalValues({ safeContents: [{ password, ...pbes2 }, {}] }, engine);

  const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
  await pfx.makeInternalValues(
    { password, iterations: ITERATIONS, pbkdf2HashAlgorithm: "SHA-256", hmacHashAlgorithm: "SHA-256" },
    engine,
  );
  return Buffer.from(pfx.toSchema().toBER(false));
}

export function generateKeyPair(
  alg: "RSA" | "ECDSA_P256" | "ECDSA_P384",
  size: number,
): Promise<{ spkiDer: Buffer; pkcs8Der: Buffer }> {
  const encodings = {
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, spkiDer: Buffer, pkcs8Der: Buffer) => (err ? reject(err) : resolve({ spkiDer, pkcs8Der }));
    switch (alg) {
      case "RSA":
        if (!Number.isInteger(size) || size < 2048 || size > 16384 || size % 8 !== 0) {
          return reject(new Error("RSA key size must be a multiple of 8 between 2048 and 16384"));
        }
        return nodeGenerateKeyPair("rsa", { modulusLength: size, publicExponent: 65537, ...encodings }, done);
      case "ECDSA_P256":
      case "ECDSA_P384": {
        const [curve, bits] = alg === "ECDSA_P256" ? ["prime256v1", 256] : ["secp384r1", 384];
        if (size !== bits) return reject(new Error(`${alg} keys are ${bits} bits`));
        return nodeGenerateKeyPair("ec", { namedCurve: curve, ...encodings }, done);
      }
      default:
        return reject(new Error(`unsupported key algorithm ${String(alg)}`));
    }
  });
}

function parse(der: Buffer, what: string): asn1js.AsnType {
  try {
    return parseSingle(der, what);
  } catch {
    throw new Error(`${what} is not valid DER`);
  }
}
