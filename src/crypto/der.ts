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

const oids = new EncodedCache(1024);

/**
 * OBJECT IDENTIFIER, encoded once per distinct value: asn1js parses the dotted string on every
 * construction, which made OIDs the costliest part of per-certificate encoding.
 */
export function oid(value: string): PreEncoded {
  return oids.get(value, () => new asn1js.ObjectIdentifier({ value }));
}

export const BOOLEAN_TRUE = new PreEncoded(toDer(new asn1js.Boolean({ value: true })));
