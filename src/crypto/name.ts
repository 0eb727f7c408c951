import * as asn1js from "asn1js";
import { EncodedCache, oid, sequenceAround, SlotTemplates, toDer, type PreEncoded } from "./der.js";

/** X.501 Name encoding for end-entity subjects: one attribute per RDN, in the order given. */

export type NameAttributeType = "CN" | "O" | "OU" | "E" | "C" | "L" | "ST" | "DC" | "UID";
export interface NameAttribute {
  type: NameAttributeType;
  value: string;
}

// String types: UTF8String (RFC 5280 §4.1.2.4 MUST for new DirectoryStrings) except where the
// attribute's own syntax fixes another: countryName is PrintableString (X.520), emailAddress
// (PKCS#9) and domainComponent (RFC 4519) are IA5String.
const ATTRIBUTES: Record<NameAttributeType, { oid: string; kind: "utf8" | "printable" | "ia5" }> = {
  CN: { oid: "2.5.4.3", kind: "utf8" },
  O: { oid: "2.5.4.10", kind: "utf8" },
  OU: { oid: "2.5.4.11", kind: "utf8" },
  E: { oid: "1.2.840.113549.1.9.1", kind: "ia5" },
  C: { oid: "2.5.4.6", kind: "printable" },
  L: { oid: "2.5.4.7", kind: "utf8" },
  ST: { oid: "2.5.4.8", kind: "utf8" },
  DC: { oid: "0.9.2342.19200300.100.1.25", kind: "ia5" },
  UID: { oid: "0.9.2342.19200300.100.1.1", kind: "utf8" },
};

const MAX_VALUE_CHARS = 1024;

// Template-level attributes (O, OU, DC, C) repeat in every certificate; caching each RDN
// spares their encoding. Per-user values merely cycle through the bounded cache.
const rdns = new EncodedCache(4096);

export function encodeName(attributes: readonly NameAttribute[]): asn1js.Sequence {
  return new asn1js.Sequence({ value: attributes.map(rdn) });
}

// The SEQUENCE around the RDNs depends only on their total length.
const names = new SlotTemplates(256);
const EMPTY_NAME = toDer(encodeName([]));

/** encodeName's DER, spliced from the cached RDNs (the issuance path). */
export function nameDer(attributes: readonly NameAttribute[]): Buffer {
  return attributes.length === 0 ? Buffer.from(EMPTY_NAME) : names.fill("name", attributes.map((a) => rdn(a).bytes), sequenceAround);
}

function rdn({ type, value }: NameAttribute): PreEncoded {
  return rdns.get(`${type}\u0000${value}`, () => {
    const atv = new asn1js.Sequence({ value: [oid(attributeOf(type).oid), stringValue(type, value)] });
    return new asn1js.Set({ value: [atv] });
  });
}

function attributeOf(type: NameAttributeType) {
  const attribute = ATTRIBUTES[type];
  if (!attribute) throw new Error(`unsupported subject attribute ${String(type)}`);
  return attribute;
}

function stringValue(type: NameAttributeType, value: string): asn1js.BaseBlock {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_VALUE_CHARS || value.includes("\u0000")) {
    throw new Error(`subject ${type} must be a non-empty string of at most ${MAX_VALUE_CHARS} characters`);
  }
  switch (attributeOf(type).kind) {
    case "printable":
      if (!/^[A-Za-z]{2}$/.test(value)) throw new Error("subject C must be a two-letter country code");
      return new asn1js.PrintableString({ value: value.toUpperCase() });
    case "ia5":
      if (!/^[\x20-\x7e]+$/.test(value)) throw new Error(`subject ${type} must be printable ASCII`);
      return new asn1js.IA5String({ value });
    default:
      return new asn1js.Utf8String({ value });
  }
}

// OpenSSL's short names, as X509Certificate#subject prints them (XN_FLAG_FN_SN).
const PRINTED_NAMES: Record<NameAttributeType, string> = {
  CN: "CN",
  O: "O",
  OU: "OU",
  E: "emailAddress",
  C: "C",
  L: "L",
  ST: "ST",
  DC: "DC",
  UID: "UID",
};

/**
 * The Name as node:crypto's X509Certificate#subject prints it (RFC 2253 escaping, control
 * characters as \XX, UTF-8 kept), with ", " between attributes: the form certificate records
 * keep. Written out from the attributes so issuance need not parse the certificate it just made.
 */
export function nameText(attributes: readonly NameAttribute[]): string {
  return attributes.map(({ type, value }) => `${PRINTED_NAMES[type]}=${escapeValue(type === "C" ? value.toUpperCase() : value)}`).join(", ");
}

function escapeValue(value: string): string {
  let out = "";
  const last = value.length - 1;
  for (let i = 0; i <= last; i++) {
    const ch = value[i]!;
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, "0")}`;
    else if (',+"\\<>;'.includes(ch) || (i === 0 && (ch === " " || ch === "#")) || (i === last && ch === " ")) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}
