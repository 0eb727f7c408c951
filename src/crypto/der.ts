import * as asn1js from "asn1js";

const EMPTY = new ArrayBuffer(0);

/**
 * A block that emits DER produced earlier (by asn1js, or taken verbatim from a parsed
 * structure). It lets hot paths encode constant parts once instead of once per object;
 * asn1js's own RawData cannot be nested because it ignores the parent's writer.
 */
export class PreEncoded extends asn1js.BaseBlock {
  private readonly der: ArrayBuffer;

  constructor(der: Uint8Array | ArrayBuffer) {
    super();
    this.der = toArrayBuffer(der instanceof Uint8Array ? der : new Uint8Array(der));
  }

  override toBER(_sizeOnly?: boolean, writer?: asn1js.ViewWriter): ArrayBuffer {
    if (writer) {
      writer.write(this.der);
      return EMPTY;
    }
    return this.der;
  }

  /** The DER itself, for splicing into a template (SlotTemplates). */
  get bytes(): Uint8Array {
    return new Uint8Array(this.der);
  }
}

export function toDer(block: { toBER(sizeOnly?: boolean): ArrayBuffer }): Buffer {
  return Buffer.from(block.toBER(false));
}

/**
 * Copies bytes into an ArrayBuffer of their own. Not `slice()`: on a Buffer that is a view of
 * Node's shared pool, whose `.buffer` would drag unrelated memory along.
 */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/**
 * RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds only
 * (asn1js would otherwise write fractional seconds, which X.509 forbids).
 */
export function encodeTime(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  const t = date.getTime();
  if (!Number.isFinite(t)) throw new Error("invalid date");
  const whole = new Date(Math.floor(t / 1000) * 1000);
  const year = whole.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error("date out of the range X.509 can express");
  return year < 2050 ? new asn1js.UTCTime({ valueDate: whole }) : new asn1js.GeneralizedTime({ valueDate: whole });
}

/**
 * INTEGER from an unsigned big-endian magnitude, as serial numbers and CRL numbers are:
 * minimal octets, with a leading zero only where the top bit would make it negative.
 */
export function unsignedInteger(magnitude: Uint8Array, maxOctets = 20): asn1js.Integer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  if (start === magnitude.length) throw new Error("serial number must not be zero");
  const body = magnitude.subarray(start);
  const octets = body[0]! & 0x80 ? Buffer.concat([Buffer.of(0), body]) : Buffer.from(body);
  if (octets.length > maxOctets) throw new Error(`integer longer than ${maxOctets} octets`);
  return new asn1js.Integer({ valueHex: toArrayBuffer(octets) });
}

/**
 * Parses DER that must be exactly one element with nothing after it. Contents of BIT and
 * OCTET STRINGs are left undecoded: callers that want them parse them explicitly.
 */
export function parseSingle(der: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(der, { parseEmbedded: false });
  if (parsed.offset === -1) throw new Error(`${what}: malformed ASN.1`);
  if (parsed.offset !== der.length) throw new Error(`${what}: trailing bytes after the structure`);
  return parsed.result;
}

/**
 * DER fragments by key, for parts that repeat across objects. When full it simply starts
 * over: the working set (a few templates, the current second) refills it at once.
 */
export class EncodedCache {
  private readonly entries = new Map<string, PreEncoded>();

  constructor(private readonly limit: number) {}

  get(key: string, make: () => asn1js.BaseBlock): PreEncoded {
    let block = this.entries.get(key);
    if (!block) {
      const made = make();
      block = made instanceof PreEncoded ? made : new PreEncoded(toDer(made));
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(key, block);
    }
    return block;
  }
}

/**
 * DER that repeats from one object to the next except for one run of bytes, where the length of
 * that run alone decides the encoding around it: the contents of an OCTET STRING or of a UTF8String,
 * the octets of a positive INTEGER whose first octet is below 0x80. asn1js encodes it once per shape
 * and length, twice, with two placeholders of that length; the octets where the two encodings
 * differ are the slot, and each object's DER is the same bytes with its own run in the slot.
 * asn1js spent about 4 µs per element it encoded (ArrayBuffers for each identifier, length and
 * value), and the issuance path encoded some thirty elements per certificate.
 */
export class SlotTemplates {
  private readonly entries = new Map<string, { before: Buffer; after: Buffer }>();

  constructor(private readonly limit: number) {}

  /**
   * `encode(placeholder)` with `value` in the placeholder's place; a value given in parts is
   * their concatenation, copied once. `encode` must copy its argument's octets into the output as
   * they are, and `shape` name everything else it encodes.
   */
  fill(shape: string, value: Uint8Array | readonly Uint8Array[], encode: (placeholder: Buffer) => Uint8Array): Buffer {
    const parts = value instanceof Uint8Array ? [value] : value;
    let length = 0;
    for (const part of parts) length += part.length;
    const key = `${shape}\u0000${length}`;
    let template = this.entries.get(key);
    if (!template) {
      template = slotOf(encode(Buffer.alloc(length, 0x41)), encode(Buffer.alloc(length, 0x42)), length);
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(key, template);
    }
    return Buffer.concat([template.before, ...parts, template.after]);
  }
}

/** A SEQUENCE whose contents are `contents` as they are: a template's encoder (SlotTemplates) for a SEQUENCE of DER parts. */
export function sequenceAround(contents: Uint8Array): Buffer {
  return toDer(new asn1js.Sequence({ value: [new PreEncoded(contents)] }));
}

function slotOf(a: Uint8Array, b: Uint8Array, length: number): { before: Buffer; after: Buffer } {
  let first = 0;
  while (first < a.length && a[first] === b[first]) first++;
  let last = a.length - 1;
  while (last >= first && a[last] === b[last]) last--;
  if (a.length !== b.length || length === 0 || last - first + 1 !== length) {
    throw new Error("DER template: the placeholder is not one run of octets copied as they are");
  }
  return { before: Buffer.from(a.subarray(0, first)), after: Buffer.from(a.subarray(last + 1)) };
}

const oids = new EncodedCache(1024);

/**
 * OBJECT IDENTIFIER, encoded once per distinct value: asn1js parses the dotted string on every
 * construction, which made OIDs the costliest part of per-certificate encoding.
 */
export function oid(value: string): PreEncoded {
  return oids.get(value, () => new asn1js.ObjectIdentifier({ value }));
}

export const BOOLEAN_TRUE = new PreEncoded(toDer(new asn1js.Boolean({ value: true })));
