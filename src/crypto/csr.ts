import { constants, createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { childrenOf, contentsOf, encodingOf, oidReader, readDer, TAG } from "./der-reader.js";
import { commonPublicKey, spkiPartsAt, spkiPartsOf, type SpkiParts } from "./spki.js";

/**
 * PKCS#10 intake (SPEC §8): decode, check proof of possession, classify the key. Whether the
 * key and hash are acceptable is the certificate template's decision, not made here.
 * Every failure is a CsrError whose message can be shown to the API caller as is: it never
 * quotes the input.
 */

export class CsrError extends Error {
  override readonly name = "CsrError";
}

export interface ParsedCsr {
  der: Buffer;
  spkiDer: Buffer;
  keyAlgorithm: "RSA" | "ECDSA_P256" | "ECDSA_P384" | "ECDSA_OTHER" | "OTHER";
  keySize: number;
  signatureHash: "SHA1" | "SHA256" | "SHA384" | "SHA512" | "OTHER";
  fingerprint: string /* sha256 hex of der */;
}

/** What issuance decides on and records about a request: its key, its signature's hash, its fingerprint; not its bytes. */
export type CsrFacts = Omit<ParsedCsr, "der" | "spkiDer">;

/** What a certificate template asks of a request's key and signature (the template decides; see issuance). */
export interface KeyRequirement {
  keyAlgorithm: ParsedCsr["keyAlgorithm"];
  keySize: number;
  signatureHashes: readonly string[];
}

export function meetsRequirement(csr: CsrFacts, r: KeyRequirement): boolean {
  return csr.keyAlgorithm === r.keyAlgorithm && csr.keySize === r.keySize && r.signatureHashes.includes(csr.signatureHash);
}

// Far above any real CSR (an RSA-16384 request is ~5 KiB); bounds the work garbage can cause.
const MAX_INPUT_CHARS = 256 * 1024;
const MAX_RSA_BITS = 16384;

type Hash = "sha1" | "sha224" | "sha256" | "sha384" | "sha512";
type SignatureFamily = "rsa" | "rsa-pss" | "ecdsa" | "ed25519" | "ed448";

const SIGNATURE_ALGORITHMS: Record<string, { family: SignatureFamily; hash: Hash | null }> = {
  "1.2.840.113549.1.1.5": { family: "rsa", hash: "sha1" },
  "1.2.840.113549.1.1.14": { family: "rsa", hash: "sha224" },
  "1.2.840.113549.1.1.11": { family: "rsa", hash: "sha256" },
  "1.2.840.113549.1.1.12": { family: "rsa", hash: "sha384" },
  "1.2.840.113549.1.1.13": { family: "rsa", hash: "sha512" },
  "1.2.840.113549.1.1.10": { family: "rsa-pss", hash: null },
  "1.2.840.10045.4.1": { family: "ecdsa", hash: "sha1" },
  "1.2.840.10045.4.3.1": { family: "ecdsa", hash: "sha224" },
  "1.2.840.10045.4.3.2": { family: "ecdsa", hash: "sha256" },
  "1.2.840.10045.4.3.3": { family: "ecdsa", hash: "sha384" },
  "1.2.840.10045.4.3.4": { family: "ecdsa", hash: "sha512" },
  "1.3.101.112": { family: "ed25519", hash: null },
  "1.3.101.113": { family: "ed448", hash: null },
};

const HASH_OIDS: Record<string, Hash> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const MGF1 = "1.2.840.113549.1.1.8";

const CURVE_BITS: Record<string, number> = {
  prime256v1: 256,
  secp384r1: 384,
  secp521r1: 521,
  secp256k1: 256,
  secp224r1: 224,
  prime192v1: 192,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
};

export function parseCsr(input: string): ParsedCsr {
  const der = decodeText(input);
  const csr = decodeRequest(der);
  const { key, spkiDer } = publicKeyOf(csr);
  const { keyAlgorithm, keySize } = classifyKey(key);
  const hash = verifyProofOfPossession(csr, key);
  return {
    der,
    spkiDer,
    keyAlgorithm,
    keySize,
    signatureHash: reportedHash(hash),
    fingerprint: createHash("sha256").update(der).digest("hex"),
  };
}

function decodeText(input: string): Buffer {
  if (typeof input !== "string" || input.length === 0) throw new CsrError("CSR is empty");
  if (input.length > MAX_INPUT_CHARS) throw new CsrError("CSR is too large");
  let body = input;
  if (input.includes("-----BEGIN")) {
    const armour =
      /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END (NEW )?CERTIFICATE REQUEST-----/.exec(input);
    if (!armour) throw new CsrError("CSR PEM armour must be BEGIN/END CERTIFICATE REQUEST");
    body = armour[2]!;
  }
  const base64 = body.replace(/[\r\n\t ]+/g, "");
  if (base64.length === 0) throw new CsrError("CSR is empty");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 === 1 || (base64.includes("=") && base64.length % 4 !== 0)) {
    throw new CsrError("CSR is not valid base64");
  }
  return Buffer.from(base64, "base64");
}

/** The parts of a PKCS#10 request the checks need, located in the DER as it was sent. */
export interface DecodedRequest {
  tbs: Buffer;
  spki: Buffer;
  /** For commonPublicKey; undefined sends the key down OpenSSL's general import. */
  spkiParts: SpkiParts | undefined;
  signatureAlgorithm: string;
  /** asn1js's reading of the parameters, for RSA-PSS; the strict reader leaves PSS to asn1js. */
  signatureParams: asn1js.AsnType | undefined;
  signature: Buffer;
  unusedBits: number;
}

/** Strict DER first (der-reader.ts): nearly every request is; anything else goes to asn1js. */
export function decodeRequest(der: Buffer): DecodedRequest {
  return decodeStrictDer(der) ?? decodeGeneral(der);
}

const readOid = oidReader(Object.keys(SIGNATURE_ALGORITHMS));
const PSS = "1.2.840.113549.1.1.10";
const CONTEXT_0_CONSTRUCTED = 0xa0;

/**
 * The request as decodeGeneral reads it, or undefined for anything decodeGeneral would refuse
 * or might read differently: then decodeGeneral decides, with its own error.
 */
export function decodeStrictDer(der: Buffer): DecodedRequest | undefined {
  const root = readDer(der);
  if (root?.tag !== TAG.SEQUENCE) return undefined;
  const top = childrenOf(der, root);
  if (top.length !== 3) return undefined;
  const [info, algorithm, signature] = top as [typeof root, typeof root, typeof root];
  if (info.tag !== TAG.SEQUENCE || algorithm.tag !== TAG.SEQUENCE || signature.tag !== TAG.BIT_STRING) return undefined;
  const fields = childrenOf(der, info);
  const [version, subject, spki, attributes] = fields;
  if (fields.length < 3 || fields.length > 4 || version!.tag !== TAG.INTEGER || subject!.tag !== TAG.SEQUENCE || spki!.tag !== TAG.SEQUENCE) return undefined;
  if (attributes && attributes.tag !== CONTEXT_0_CONSTRUCTED) return undefined;
  const v = contentsOf(der, version!);
  if (v.length !== 1 || v[0] !== 0) return undefined;
  const [oid, ...params] = childrenOf(der, algorithm);
  if (oid?.tag !== TAG.OBJECT_IDENTIFIER || params.length > 1) return undefined;
  const name = readOid(der, oid);
  if (name === PSS) return undefined;
  const bits = contentsOf(der, signature);
  return {
    tbs: encodingOf(der, info),
    spki: encodingOf(der, spki!),
    spkiParts: spkiPartsAt(der, spki!),
    signatureAlgorithm: name,
    signatureParams: undefined,
    signature: bits.subarray(1),
    unusedBits: bits[0]!,
  };
}

/**
 * Walks the request's structure as asn1js decodes it (RFC 2986 §4), BER liberties included;
 * a full schema comparison cost more than the signature check it precedes.
 */
export function decodeGeneral(der: Buffer): DecodedRequest {
  // The contents of BIT and OCTET STRINGs stay unparsed: asn1js otherwise tries each as nested
  // ASN.1 (the key, the signature's random bytes, each extension value), which was a third of
  // this decoding, and nothing here reads those results (the key is decoded in spki.ts).
  const parsed = asn1js.fromBER(der, { parseEmbedded: false });
  if (parsed.offset === -1) throw new CsrError("CSR is not valid DER (truncated or malformed)");
  if (parsed.offset !== der.length) throw new CsrError("CSR has unexpected data after the DER structure");
  const notPkcs10 = () => new CsrError("CSR is not a PKCS#10 certification request");
  const root = parsed.result;
  if (!(root instanceof asn1js.Sequence) || root.valueBlock.value.length !== 3) throw notPkcs10();
  const [info, algorithm, signature] = root.valueBlock.value;
  if (!(info instanceof asn1js.Sequence) || !(algorithm instanceof asn1js.Sequence) || !(signature instanceof asn1js.BitString)) throw notPkcs10();
  const [version, subject, spki, attributes, ...rest] = info.valueBlock.value;
  if (!(version instanceof asn1js.Integer) || !(subject instanceof asn1js.Sequence) || !(spki instanceof asn1js.Sequence) || rest.length > 0)
    throw notPkcs10();
  if (attributes && !(attributes.idBlock.tagClass === 3 && attributes.idBlock.tagNumber === 0)) throw notPkcs10();
  const [oid, params, ...extra] = algorithm.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier) || extra.length > 0) throw notPkcs10();
  if (version.valueBlock.valueDec !== 0) throw new CsrError("CSR version is not supported (only PKCS#10 v1)");
  return {
    tbs: Buffer.from(info.valueBeforeDecodeView),
    spki: Buffer.from(spki.valueBeforeDecodeView),
    spkiParts: spkiPartsOf(spki),
    signatureAlgorithm: oid.getValue(),
    signatureParams: params,
    signature: Buffer.from(signature.valueBlock.valueHexView),
    unusedBits: signature.valueBlock.unusedBits,
  };
}

/**
 * The certificate gets a canonical encoding of exactly the key whose signature was checked,
 * whatever BER liberties the client took: re-encoded from the key's numbers for RSA and the
 * NIST curves, re-exported by OpenSSL for anything else.
 */
function publicKeyOf(csr: DecodedRequest): { key: KeyObject; spkiDer: Buffer } {
  const common = csr.spkiParts && commonPublicKey(csr.spkiParts);
  if (common) return common;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: csr.spki, format: "der", type: "spki" });
  } catch {
    throw new CsrError("CSR public key is malformed or of an unsupported algorithm");
  }
  return { key, spkiDer: key.export({ format: "der", type: "spki" }) };
}

function classifyKey(key: KeyObject): Pick<ParsedCsr, "keyAlgorithm" | "keySize"> {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa": {
      const bits = details.modulusLength ?? 0;
      if (bits > MAX_RSA_BITS) throw new CsrError(`CSR RSA keys above ${MAX_RSA_BITS} bits are not supported`);
      return { keyAlgorithm: "RSA", keySize: bits };
    }
    case "rsa-pss": {
      const bits = details.modulusLength ?? 0;
      if (bits > MAX_RSA_BITS) throw new CsrError(`CSR RSA keys above ${MAX_RSA_BITS} bits are not supported`);
      return { keyAlgorithm: "OTHER", keySize: bits };
    }
    case "ec": {
      const curve = details.namedCurve;
      // RFC 5480 §2.1.1: PKIX keys name their curve; explicit parameters are not accepted.
      if (!curve) throw new CsrError("CSR elliptic-curve key must use a named curve");
      if (curve === "prime256v1") return { keyAlgorithm: "ECDSA_P256", keySize: 256 };
      if (curve === "secp384r1") return { keyAlgorithm: "ECDSA_P384", keySize: 384 };
      return { keyAlgorithm: "ECDSA_OTHER", keySize: CURVE_BITS[curve] ?? 0 };
    }
    case "ed25519":
      return { keyAlgorithm: "OTHER", keySize: 256 };
    case "ed448":
      return { keyAlgorithm: "OTHER", keySize: 456 };
    default:
      throw new CsrError("CSR public key algorithm is not supported");
  }
}

/** Returns the hash the request was signed with (null for EdDSA). */
function verifyProofOfPossession(csr: DecodedRequest, key: KeyObject): Hash | null {
  const algorithm = SIGNATURE_ALGORITHMS[csr.signatureAlgorithm];
  if (!algorithm) throw new CsrError("CSR signature algorithm is not supported");
  const keyType = key.asymmetricKeyType;
  const compatible =
    (algorithm.family === "rsa" && keyType === "rsa") ||
    (algorithm.family === "rsa-pss" && (keyType === "rsa" || keyType === "rsa-pss")) ||
    (algorithm.family === "ecdsa" && keyType === "ec") ||
    algorithm.family === keyType;
  if (!compatible) throw new CsrError("CSR signature algorithm does not match its public key");

  if (csr.unusedBits !== 0) throw new CsrError("CSR signature is malformed");
  const signature = csr.signature;
  const data = csr.tbs;

  let hash = algorithm.hash;
  let ok: boolean;
  try {
    if (algorithm.family === "rsa-pss") {
      const pss = pssParameters(csr.signatureParams);
      hash = pss.hash;
      ok = verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
    } else {
      ok = verify(hash, data, key, signature);
    }
  } catch (err) {
    if (err instanceof CsrError) throw err;
    ok = false;
  }
  if (!ok) throw new CsrError("CSR signature does not verify (proof of possession failed)");
  return hash;
}

function pssParameters(params: unknown): { hash: Hash; saltLength: number } {
  let parsed: pkijs.RSASSAPSSParams;
  try {
    parsed = new pkijs.RSASSAPSSParams(params instanceof asn1js.Sequence ? { schema: params } : {});
  } catch {
    throw new CsrError("CSR RSA-PSS parameters are malformed");
  }
  const hash = HASH_OIDS[parsed.hashAlgorithm.algorithmId];
  const mgf = parsed.maskGenAlgorithm;
  let mgfHash: Hash | undefined;
  try {
    mgfHash =
      mgf.algorithmId === MGF1
        ? HASH_OIDS[new pkijs.AlgorithmIdentifier({ schema: mgf.algorithmParams }).algorithmId]
        : undefined;
  } catch {
    mgfHash = undefined;
  }
  // Node's PSS verification uses the message hash for MGF1 too; other combinations are exotic.
  if (!hash || mgfHash !== hash || parsed.trailerField !== 1) {
    throw new CsrError("CSR RSA-PSS parameters are not supported");
  }
  return { hash, saltLength: parsed.saltLength };
}

function reportedHash(hash: Hash | null): ParsedCsr["signatureHash"] {
  switch (hash) {
    case "sha1":
      return "SHA1";
    case "sha256":
      return "SHA256";
    case "sha384":
      return "SHA384";
    case "sha512":
      return "SHA512";
    default:
      return "OTHER";
  }
}
