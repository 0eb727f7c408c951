import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import * as asn1js from "asn1js";
import { encodeTime, PreEncoded, toDer, unsignedInteger } from "./der.js";
import { authorityKeyIdentifier, extension, OID } from "./extensions.js";
import { issuerIdentity } from "./issuercert.js";
import { caSignerFromPkcs8 } from "./signer.js";

export interface CrlEntry {
  serial: Buffer;
  revokedAt: Date;
  reason: number /* RFC 5280 CRLReason: 0 unspecified,1 keyCompromise,3 affiliationChanged,4 superseded,5 cessationOfOperation,6 certificateHold */;
}

// RFC 5280 §5.3.1. 7 is unassigned; 8 (removeFromCRL) only has meaning in delta CRLs.
const VALID_REASONS = [0, 1, 2, 3, 4, 5, 6, 9, 10];
// crlEntryExtensions [reasonCode] per reason, encoded once. RFC 5280 §5.3.1: the extension
// "SHOULD be absent instead of using the unspecified (0) reasonCode value".
const REASON_EXTENSIONS = new Map(
  VALID_REASONS.filter((r) => r !== 0).map((r) => [
    r,
    new PreEncoded(
      toDer(new asn1js.Sequence({ value: [extension(OID.crlReason, false, new asn1js.Enumerated({ value: r }))] })),
    ),
  ]),
);
const VERSION_V2 = new PreEncoded(toDer(new asn1js.Integer({ value: 1 })));
// A CRL can list many thousands of certificates; encoding them in slices keeps the event loop
// responsive for the requests that arrive meanwhile.
const ENTRIES_PER_SLICE = 2000;

/**
 * A complete v2 CRL (RFC 5280 §5) signed by the issuing CA with the same algorithm as its
 * certificates. Entry serials are encoded exactly as issuer.ts encodes certificate serials.
 */
export async function buildCrl(opts: {
  issuerCertDer: Buffer;
  issuerKeyPkcs8Der: Buffer;
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: CrlEntry[];
}): Promise<Buffer> {
  if (!(opts.thisUpdate.getTime() < opts.nextUpdate.getTime())) throw new Error("CRL nextUpdate must be after thisUpdate");
  const issuer = issuerIdentity(opts.issuerCertDer);
  const signer = caSignerFromPkcs8(opts.issuerKeyPkcs8Der, issuer.spkiDer);

  const tbs: asn1js.BaseBlock[] = [
    VERSION_V2,
    new PreEncoded(signer.algorithmIdentifierDer),
    new PreEncoded(issuer.subjectDer),
    encodeTime(opts.thisUpdate),
    encodeTime(opts.nextUpdate),
  ];
  // RFC 5280 §5.1.2.6: with no entries the field is absent, not an empty SEQUENCE.
  if (opts.entries.length > 0) tbs.push(new asn1js.Sequence({ value: await encodeEntries(opts.entries) }));
  tbs.push(
    new asn1js.Constructed({
      idBlock: { tagClass: 3, tagNumber: 0 },
      value: [
        new asn1js.Sequence({ value: [authorityKeyIdentifier(issuer.keyIdentifier), crlNumberExtension(opts.crlNumber)] }),
      ],
    }),
  );
  return signer.signStructure(toDer(new asn1js.Sequence({ value: tbs })));
}

async function encodeEntries(entries: CrlEntry[]): Promise<PreEncoded[]> {
  const out: PreEncoded[] = [];
  for (let start = 0; start < entries.length; start += ENTRIES_PER_SLICE) {
    if (start > 0) await yieldToEventLoop();
    for (const entry of entries.slice(start, start + ENTRIES_PER_SLICE)) out.push(encodeEntry(entry));
  }
  return out;
}

function encodeEntry(entry: CrlEntry): PreEncoded {
  const parts: asn1js.BaseBlock[] = [unsignedInteger(entry.serial), encodeTime(entry.revokedAt)];
  if (entry.reason !== 0) {
    const reason = REASON_EXTENSIONS.get(entry.reason);
    if (!reason) throw new Error(`CRL reason ${entry.reason} is not a valid CRLReason`);
    parts.push(reason);
  }
  return new PreEncoded(toDer(new asn1js.Sequence({ value: parts })));
}

function crlNumberExtension(n: bigint): asn1js.Sequence {
  if (n < 0n) throw new Error("CRL number must not be negative");
  const value = asn1js.Integer.fromBigInt(n);
  // RFC 5280 §5.2.3: conforming CAs MUST NOT use CRL numbers longer than 20 octets.
  if (value.valueBlock.valueHexView.length > 20) throw new Error("CRL number exceeds 20 octets");
  return extension(OID.crlNumber, false, value);
}
