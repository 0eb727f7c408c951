import * as asn1js from "asn1js";
import { isIP } from "node:net";
import { BOOLEAN_TRUE, oid as oidBlock } from "./der.js";

/**
 * Encoders for the X.509 v3 extensions OpenCLM writes (RFC 5280 §4.2), as asn1js blocks so
 * callers can pre-encode the constant ones once per CA.
 */

export const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  crlDistributionPoints: "2.5.29.31",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  caIssuers: "1.3.6.1.5.5.7.48.2",
  upn: "1.3.6.1.4.1.311.20.2.3",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
} as const;

export type KeyUsageName = "digitalSignature" | "nonRepudiation" | "keyEncipherment" | "dataEncipherment" | "keyAgreement";

const KEY_USAGE_BIT: Record<KeyUsageName, number> = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
};

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } */
export function extension(oid: string, critical: boolean, value: asn1js.BaseBlock): asn1js.Sequence {
  const parts: asn1js.BaseBlock[] = [oidBlock(oid)];
  // DER omits a BOOLEAN equal to its DEFAULT.
  if (critical) parts.push(BOOLEAN_TRUE);
  parts.push(new asn1js.OctetString({ valueHex: value.toBER(false) }));
  return new asn1js.Sequence({ value: parts });
}

export function endEntityBasicConstraints(): asn1js.Sequence {
  return extension(OID.basicConstraints, true, new asn1js.Sequence({ value: [] }));
}

/** Always critical: RFC 5280 §4.2.1.3 says conforming CAs SHOULD mark it so. */
export function keyUsage(usages: readonly KeyUsageName[]): asn1js.Sequence {
  let bits = 0;
  for (const u of usages) {
    const bit = KEY_USAGE_BIT[u];
    if (bit === undefined) throw new Error(`unknown key usage ${String(u)}`);
    bits |= 0x80 >> bit;
  }
  if (bits === 0) throw new Error("key usage needs at least one bit");
  // DER NamedBitList: trailing zero bits are dropped and counted as unused.
  let unusedBits = 0;
  while (((bits >> unusedBits) & 1) === 0) unusedBits++;
  return extension(
    OID.keyUsage,
    true,
    new asn1js.BitString({ valueHex: Uint8Array.of(bits).buffer, unusedBits }),
  );
}

export function extendedKeyUsage(oids: readonly string[]): asn1js.Sequence {
  return extension(
    OID.extKeyUsage,
    false,
    new asn1js.Sequence({ value: oids.map((oid) => oidBlock(checkOid(oid))) }),
  );
}

export interface SubjectAltNames {
  email?: string;
  upn?: string;
  /** dNSName: ASCII host names (A-labels), optionally a leading `*.` wildcard label. */
  dns?: string[];
  /** iPAddress: IPv4 or IPv6 literals. */
  ip?: string[];
}

export function subjectAltName(san: SubjectAltNames, critical: boolean): asn1js.Sequence {
  const names: asn1js.BaseBlock[] = [];
  for (const host of san.dns ?? []) names.push(contextPrimitive(2, Buffer.from(checkDnsName(host), "ascii")));
  for (const address of san.ip ?? []) names.push(contextPrimitive(7, ipAddressBytes(address)));
  if (san.email !== undefined) names.push(emailName(Buffer.from(checkEmail(san.email), "ascii")));
  if (san.upn !== undefined) names.push(upnName(checkUpn(san.upn)));
  if (names.length === 0) throw new Error("subject alternative name needs at least one name");
  return subjectAltNameOf(names, critical);
}

/** The extension around GeneralNames already made (by the functions below, or pre-encoded). */
export function subjectAltNameOf(names: asn1js.BaseBlock[], critical: boolean): asn1js.Sequence {
  return extension(OID.subjectAltName, critical, new asn1js.Sequence({ value: names }));
}

/** rfc822Name [1] IA5String, from checkEmail's octets. */
export function emailName(ascii: Uint8Array): asn1js.BaseBlock {
  return contextPrimitive(1, ascii);
}

/** otherName [0] { type-id, value [0] EXPLICIT UTF8String }, as Windows smart card logon expects. */
export function upnName(upn: string): asn1js.BaseBlock {
  return new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: [
      oidBlock(OID.upn),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [new asn1js.Utf8String({ value: upn })],
      }),
    ],
  });
}

export function checkEmail(email: string): string {
  if (!/^[\x21-\x7e]+@[\x21-\x7e]+$/.test(email)) throw new Error("SAN e-mail must be an ASCII mailbox address");
  return email;
}

export function checkUpn(upn: string): string {
  if (upn.length === 0 || upn.includes("\u0000")) throw new Error("SAN UPN must be a non-empty string");
  return upn;
}

export function subjectKeyIdentifier(keyId: Uint8Array): asn1js.Sequence {
  return extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: keyId }));
}

export function authorityKeyIdentifier(keyId: Uint8Array): asn1js.Sequence {
  return extension(
    OID.authorityKeyIdentifier,
    false,
    new asn1js.Sequence({ value: [contextPrimitive(0, keyId)] }),
  );
}

/** One DistributionPoint whose fullName is the URI; no reasons, no cRLIssuer. */
export function crlDistributionPoint(uri: string): asn1js.Sequence {
  return extension(
    OID.crlDistributionPoints,
    false,
    new asn1js.Sequence({
      value: [
        new asn1js.Sequence({
          value: [
            // distributionPoint [0] (a CHOICE, so explicit) holding fullName [0] GeneralNames.
            new asn1js.Constructed({
              idBlock: { tagClass: 3, tagNumber: 0 },
              value: [new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [uriName(uri)] })],
            }),
          ],
        }),
      ],
    }),
  );
}

export function authorityInfoAccessCaIssuers(uri: string): asn1js.Sequence {
  return extension(
    OID.authorityInfoAccess,
    false,
    new asn1js.Sequence({
      value: [new asn1js.Sequence({ value: [oidBlock(OID.caIssuers), uriName(uri)] })],
    }),
  );
}

function checkDnsName(host: string): string {
  const labels = host.split(".");
  const ok =
    host.length <= 253 &&
    labels.every((l, i) => (i === 0 && l === "*" && labels.length > 2) || /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
  if (!ok) throw new Error(`SAN DNS name must be an ASCII host name: ${JSON.stringify(host.slice(0, 64))}`);
  return host;
}

/** RFC 5280 §4.2.1.6: four octets for IPv4, sixteen for IPv6, in network byte order. */
function ipAddressBytes(address: string): Buffer {
  const text = address.replace(/^\[|\]$/g, "");
  const kind = text.includes("%") ? 0 : isIP(text);
  if (kind === 4) return Buffer.from(text.split(".").map(Number));
  if (kind === 6) {
    // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
    let groups = text.split("::").map((half) => (half === "" ? [] : half.split(":")));
    groups = groups.map((g) => g.flatMap((part) => (part.includes(".") ? ipv4AsGroups(part) : [part])));
    const head = groups[0]!;
    const tail = groups[1] ?? [];
    const all = groups.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail] : head;
    const out = Buffer.alloc(16);
    all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  }
  throw new Error(`SAN IP address must be an IPv4 or IPv6 literal: ${JSON.stringify(address.slice(0, 64))}`);
}

function ipv4AsGroups(v4: string): string[] {
  const b = v4.split(".").map(Number);
  return [((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16)];
}

function uriName(uri: string): asn1js.Primitive {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:[\x21-\x7e]+$/.test(uri)) throw new Error("URI must be an absolute ASCII URI");
  return contextPrimitive(6, Buffer.from(uri, "ascii"));
}

function contextPrimitive(tagNumber: number, bytes: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber }, valueHex: bytes });
}

function checkOid(oid: string): string {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new Error(`not an object identifier: ${oid}`);
  return oid;
}
