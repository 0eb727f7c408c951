import { createHash } from "node:crypto";
import * as asn1js from "asn1js";
import { EncodedCache, encodeTime, parseSingle, PreEncoded, sequenceAround, SlotTemplates, toDer, unsignedInteger } from "./der.js";
import {
  authorityInfoAccessCaIssuers,
  authorityKeyIdentifier,
  checkEmail,
  checkUpn,
  crlDistributionPoint,
  emailName,
  endEntityBasicConstraints,
  extendedKeyUsage,
  keyUsage,
  subjectAltName,
  subjectAltNameOf,
  subjectKeyIdentifier,
  upnName,
  type KeyUsageName,
  type SubjectAltNames,
} from "./extensions.js";
import { readDer } from "./der-reader.js";
import { spkiPartsAt } from "./spki.js";
import { issuerIdentity } from "./issuercert.js";
import { nameDer, type NameAttribute } from "./name.js";
import { caSignerFromPkcs8, type CaSigner } from "./signer.js";

/**
 * End-entity issuance, the hot path. Everything that depends only on the CA is encoded once
 * in the constructor and spliced in as DER; per certificate only the variable fields are
 * encoded, and signing runs on the libuv threadpool.
 */

export interface IssueSpec {
  /** Unsigned big-endian; encoded as a positive INTEGER of at most 20 octets. */
  serial: Buffer;
  /** In ASN.1 order (first element = first RDN, as `openssl x509 -subject` prints). May be empty. */
  subject: Array<NameAttribute>;
  spkiDer: Buffer;
  notBefore: Date;
  /** Clamped to the issuing CA's notAfter, as AD CS does. */
  notAfter: Date;
  keyUsage: Array<KeyUsageName>;
  extendedKeyUsages: string[] /* OIDs */;
  san?: SubjectAltNames;
  crlDistributionPoint?: string;
  caIssuersUrl?: string;
}

// [0] EXPLICIT INTEGER 2 (v3): identical in every certificate.
const VERSION_V3 = toDer(new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Integer({ value: 2 })] }));
const BASIC_CONSTRAINTS = toDer(endEntityBasicConstraints());

export class CertificateIssuer {
  private readonly signer: CaSigner;
  private readonly chain: Buffer[];
  private readonly issuerName: Buffer;
  private readonly authorityKeyId: Buffer;
  private readonly caNotAfter: Date;
  // Per-template extensions (few), and validity times: under load many certificates share a second.
  private readonly extensions = new EncodedCache(512);
  private readonly times = new EncodedCache(64);
  // Everything else per certificate: the same DER around values (or parts) of one length.
  private readonly slots = new SlotTemplates(1024);

  constructor(opts: { issuingCertDer: Buffer; issuingKeyPkcs8Der: Buffer; chainDer: Buffer[] /* issuing, then root */ }) {
    const identity = issuerIdentity(opts.issuingCertDer);
    this.signer = caSignerFromPkcs8(opts.issuingKeyPkcs8Der, identity.spkiDer);
    this.issuerName = identity.subjectDer;
    this.authorityKeyId = toDer(authorityKeyIdentifier(identity.keyIdentifier));
    this.caNotAfter = identity.notAfter;
    this.chain = opts.chainDer.map((d) => Buffer.from(d));
  }

  get chainDer(): Buffer[] {
    return this.chain.map((d) => Buffer.from(d));
  }

  issue(spec: IssueSpec): Promise<Buffer> {
    let tbs: Buffer;
    try {
      tbs = this.encodeTbsCertificate(spec);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.signer.signStructure(tbs);
  }

  /** issue(spec) on the calling thread, for a thread that does nothing else (the issuance workers). */
  issueSync(spec: IssueSpec): Buffer {
    return this.signer.signStructureSync(this.encodeTbsCertificate(spec));
  }

  /** The validity issue(spec) writes: clamped to the CA's notAfter, in whole seconds as encoded. */
  validity(spec: Pick<IssueSpec, "notBefore" | "notAfter">): { notBefore: Date; notAfter: Date } {
    const notAfter = spec.notAfter.getTime() > this.caNotAfter.getTime() ? this.caNotAfter : spec.notAfter;
    return { notBefore: wholeSeconds(spec.notBefore), notAfter: wholeSeconds(notAfter) };
  }

  private encodeTbsCertificate(spec: IssueSpec): Buffer {
    const notAfter = spec.notAfter.getTime() > this.caNotAfter.getTime() ? this.caNotAfter : spec.notAfter;
    if (!(spec.notBefore.getTime() < notAfter.getTime())) throw new Error("certificate validity is empty");
    const keyBits = subjectPublicKeyBits(spec.spkiDer);

    const extensions: Uint8Array[] = [BASIC_CONSTRAINTS];
    if (spec.keyUsage.length > 0) {
      extensions.push(this.extensions.get(`ku:${[...spec.keyUsage].sort().join(",")}`, () => keyUsage(spec.keyUsage)).bytes);
    }
    if (spec.extendedKeyUsages.length > 0) {
      extensions.push(this.extensions.get(`eku:${spec.extendedKeyUsages.join(",")}`, () => extendedKeyUsage(spec.extendedKeyUsages)).bytes);
    }
    const san = spec.san;
    const hasSan = san !== undefined && (san.email !== undefined || san.upn !== undefined || !!san.dns?.length || !!san.ip?.length);
    if (spec.subject.length === 0 && !hasSan) {
      throw new Error("a certificate with an empty subject needs a subject alternative name");
    }
    // RFC 5280 §4.2.1.6: with an empty subject the SAN carries the identity and must be critical.
    if (hasSan) extensions.push(this.sanExtension(san!, spec.subject.length === 0));
    const keyId = createHash("sha1").update(keyBits).digest();
    extensions.push(this.slots.fill("ski", keyId, (p) => toDer(subjectKeyIdentifier(p))));
    extensions.push(this.authorityKeyId);
    if (spec.crlDistributionPoint !== undefined) {
      const uri = spec.crlDistributionPoint;
      extensions.push(this.extensions.get(`cdp:${uri}`, () => crlDistributionPoint(uri)).bytes);
    }
    if (spec.caIssuersUrl !== undefined) {
      const uri = spec.caIssuersUrl;
      extensions.push(this.extensions.get(`aia:${uri}`, () => authorityInfoAccessCaIssuers(uri)).bytes);
    }

    // Every structure below is spliced from DER parts into a template per length (SlotTemplates).
    return this.slots.fill(
      "tbs",
      [
        VERSION_V3,
        this.serialNumber(spec.serial),
        this.signer.algorithmIdentifierDer,
        this.issuerName,
        this.slots.fill("validity", [this.time(spec.notBefore).bytes, this.time(notAfter).bytes], sequenceAround),
        nameDer(spec.subject),
        spec.spkiDer,
        this.slots.fill("extensions", extensions, explicitExtensions),
      ],
      sequenceAround,
    );
  }

  private serialNumber(serial: Buffer): Uint8Array {
    // A first octet from 1 to 0x7f is kept as it is (no leading zero to drop, none to add).
    if (serial.length === 0 || serial[0]! === 0 || serial[0]! >= 0x80) return toDer(unsignedInteger(serial));
    return this.slots.fill("serial", serial, (p) => toDer(unsignedInteger(p)));
  }

  /**
   * subjectAltName(san, critical) for the names users get (e-mail, UPN), through the templates.
   * The caller has checked that the SAN names something.
   */
  private sanExtension(san: SubjectAltNames, critical: boolean): Uint8Array {
    if (san.dns?.length || san.ip?.length) return toDer(subjectAltName(san, critical));
    const names: Buffer[] = [];
    if (san.email !== undefined) {
      names.push(this.slots.fill("gn-email", Buffer.from(checkEmail(san.email), "ascii"), (p) => toDer(emailName(p))));
    }
    if (san.upn !== undefined) {
      // The placeholder's octets are ASCII, so as a string they encode to themselves.
      names.push(this.slots.fill("gn-upn", Buffer.from(checkUpn(san.upn), "utf8"), (p) => toDer(upnName(p.toString("latin1")))));
    }
    return this.slots.fill(`san:${critical}`, names, (p) => toDer(subjectAltNameOf([new PreEncoded(p)], critical)));
  }

  private time(date: Date): PreEncoded {
    return this.times.get(String(Math.floor(date.getTime() / 1000)), () => encodeTime(date));
  }
}

/** [3] EXPLICIT Extensions (RFC 5280 §4.1), around the extensions' DER as it is. */
function explicitExtensions(extensions: Uint8Array): Buffer {
  return toDer(
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 3 }, value: [new asn1js.Sequence({ value: [new PreEncoded(extensions)] })] }),
  );
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** The BIT STRING contents of an SPKI, after checking the SPKI is one well-formed structure. */
function subjectPublicKeyBits(spkiDer: Buffer): Uint8Array {
  // The keys issuance gets are nearly always canonical DER, which the strict reader takes in place.
  const root = readDer(spkiDer);
  const strict = root && spkiPartsAt(spkiDer, root);
  if (strict) return strict.publicKey;
  let spki: asn1js.AsnType;
  try {
    spki = parseSingle(spkiDer, "subject public key");
  } catch {
    throw new Error("subject public key is not a DER SubjectPublicKeyInfo");
  }
  const parts = spki instanceof asn1js.Sequence ? spki.valueBlock.value : [];
  const bits = parts[1];
  if (parts.length !== 2 || !(parts[0] instanceof asn1js.Sequence) || !(bits instanceof asn1js.BitString)) {
    throw new Error("subject public key is not a DER SubjectPublicKeyInfo");
  }
  return bits.valueBlock.valueHexView;
}
