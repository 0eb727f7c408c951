import * as asn1js from "asn1js";

/**
 * Reading strict DER in place, for hot paths that only locate a few elements of input they must
 * otherwise accept whole (a CSR, a public key). asn1js builds an object graph of every element,
 * 3–4 µs each here, which made decoding a CSR a fifth of the cost of signing its certificate.
 *
 * `readDer` accepts only a narrow form: definite lengths in their shortest form (X.690 §10.1),
 * primitive strings (§10.2), low tag numbers, and universal primitive types from a short list
 * whose contents are checked as DER requires. For anything else it answers undefined, and the
 * caller takes asn1js's general decoder, which then gives its result or its error: being
 * stricter than asn1js here never changes an answer, only which decoder gave it.
 */

export interface DerElement {
  /** The identifier octet (class, constructed bit, tag number below 31). */
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const CONSTRUCTED = 0x20;
const CLASS_MASK = 0xc0;
// A CSR nests about six deep; this bounds the recursion garbage can cause.
const MAX_DEPTH = 32;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The one element that fills `der` exactly, with its whole tree checked; undefined otherwise. */
export function readDer(der: Uint8Array): DerElement | undefined {
  const root = headerAt(der, 0, der.length);
  if (!root || root.end !== der.length || !wellFormed(der, root, 0)) return undefined;
  return root;
}

/** The elements inside a constructed element of a tree `readDer` accepted. */
export function childrenOf(der: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = headerAt(der, at, parent.end)!;
    children.push(child);
    at = child.end;
  }
  return children;
}

export function contentsOf(der: Uint8Array, e: DerElement): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + e.contentStart, e.end - e.contentStart);
}

export function encodingOf(der: Uint8Array, e: DerElement): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + e.start, e.end - e.start);
}

function headerAt(der: Uint8Array, at: number, limit: number): DerElement | undefined {
  if (at + 2 > limit) return undefined;
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = der[at + 1]!;
  let contentStart = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // 0 is the indefinite form; more than three octets would be 16 MiB, far above any input here.
    if (octets === 0 || octets > 3 || contentStart + octets > limit || der[contentStart] === 0) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[contentStart + i]!;
    if (length < 0x80) return undefined;
    contentStart += octets;
  }
  const end = contentStart + length;
  return end > limit ? undefined : { tag, start: at, contentStart, end };
}

function wellFormed(der: Uint8Array, e: DerElement, depth: number): boolean {
  if (e.tag & CONSTRUCTED) {
    // Universal constructed types other than SEQUENCE and SET are BER's constructed strings.
    if ((e.tag & CLASS_MASK) === 0 && e.tag !== TAG.SEQUENCE && e.tag !== TAG.SET) return false;
    if (depth >= MAX_DEPTH) return false;
    for (let at = e.contentStart; at < e.end; ) {
      const child = headerAt(der, at, e.end);
      if (!child || !wellFormed(der, child, depth + 1)) return false;
      at = child.end;
    }
    return true;
  }
  if ((e.tag & CLASS_MASK) !== 0) return true; // an implicitly tagged primitive: opaque octets
  return primitiveContentsOk(e.tag, der.subarray(e.contentStart, e.end));
}

function primitiveContentsOk(tag: number, c: Uint8Array): boolean {
  switch (tag) {
    case 0x01: // BOOLEAN
      return c.length === 1 && (c[0] === 0 || c[0] === 0xff);
    case TAG.INTEGER:
      return c.length > 0 && !(c.length > 1 && ((c[0] === 0 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80)));
    case TAG.BIT_STRING:
      // Only whole octets: every BIT STRING a CSR or key carries, and no trailing-bit rules to check.
      return c.length > 0 && c[0] === 0;
    case TAG.OCTET_STRING:
      return true;
    case TAG.NULL:
      return c.length === 0;
    case TAG.OBJECT_IDENTIFIER:
      return objectIdentifierOk(c);
    case 0x0c: // UTF8String
      return validUtf8(c);
    case 0x13: // PrintableString
    case 0x16: // IA5String
      return c.every((b) => b < 0x80);
    case 0x1e: // BMPString
      return c.length % 2 === 0;
    default:
      return false;
  }
}

function objectIdentifierOk(c: Uint8Array): boolean {
  if (c.length === 0 || c[c.length - 1]! & 0x80) return false;
  // Each sub-identifier in its shortest form: none starts with the octet 0x80.
  for (let i = 0; i < c.length; i++) if (c[i] === 0x80 && (i === 0 || !(c[i - 1]! & 0x80))) return false;
  return true;
}

function validUtf8(c: Uint8Array): boolean {
  try {
    utf8.decode(c);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads OBJECT IDENTIFIERs (dotted) of an accepted tree. The expected ones are looked up by their
 * octets, made once by asn1js; any other is decoded by asn1js, which is slower but rare.
 */
export function oidReader(expected: Iterable<string>): (der: Uint8Array, e: DerElement) => string {
  const byOctets = new Map<string, string>();
  for (const name of expected) {
    const encoded = new Uint8Array(new asn1js.ObjectIdentifier({ value: name }).toBER(false));
    const element = headerAt(encoded, 0, encoded.length)!;
    byOctets.set(Buffer.from(encoded.subarray(element.contentStart)).toString("latin1"), name);
  }
  return (der, e) => {
    if (e.tag !== TAG.OBJECT_IDENTIFIER) throw new Error("not an OBJECT IDENTIFIER");
    const known = byOctets.get(contentsOf(der, e).toString("latin1"));
    if (known !== undefined) return known;
    const decoded = asn1js.fromBER(encodingOf(der, e)).result;
    if (!(decoded instanceof asn1js.ObjectIdentifier)) throw new Error("not an OBJECT IDENTIFIER");
    return decoded.getValue();
  };
}
