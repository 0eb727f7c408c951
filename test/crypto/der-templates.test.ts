// The DER templates of the issuance path must give exactly what asn1js gives when it encodes each
// value itself, for every length (short and long length forms) and for non-ASCII text.
import { createHash, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { beforeAll, describe, expect, it } from "vitest";
import { newSerial } from "../../src/crypto/ca.js";
import { certsOnlyPkcs7, certsOnlyPkcs7ForChain } from "../../src/crypto/cms.js";
import { SlotTemplates, toDer, unsignedInteger } from "../../src/crypto/der.js";
import { subjectAltName, subjectKeyIdentifier } from "../../src/crypto/extensions.js";
import { encodeName, nameDer, type NameAttribute } from "../../src/crypto/name.js";
import { generateKeyPair } from "../../src/crypto/pkcs12.js";
import { makeCa, userSpec, type TestCa } from "./helpers/pki.js";

const LENGTHS = [1, 2, 20, 100, 126, 127, 128, 129, 200, 254, 255, 256, 257, 300, 1000];

describe("SlotTemplates", () => {
  it("gives asn1js's own encoding of each value, whatever its length", () => {
    const slots = new SlotTemplates(64);
    const encode = (p: Uint8Array) => toDer(new asn1js.Sequence({ value: [new asn1js.Integer({ value: 7 }), new asn1js.OctetString({ valueHex: p })] }));
    for (const n of LENGTHS) {
      for (let i = 0; i < 3; i++) {
        const value = randomBytes(n);
        expect(slots.fill("octets", value, encode)).toEqual(encode(value));
      }
    }
  });

  it("refuses an encoder that does not copy the placeholder as it is", () => {
    const slots = new SlotTemplates(8);
    const hashed = (p: Uint8Array) => toDer(new asn1js.OctetString({ valueHex: createHash("sha256").update(p).digest() }));
    expect(() => slots.fill("hashed", randomBytes(8), hashed)).toThrow(/placeholder/);
    const appended = (p: Uint8Array) => toDer(new asn1js.OctetString({ valueHex: Buffer.concat([Buffer.from(p), Buffer.of(1)]) }));
    expect(slots.fill("appended", Buffer.from("abc"), appended)).toEqual(appended(Buffer.from("abc")));
  });

  it("starts over when full, with the same answers", () => {
    const slots = new SlotTemplates(2);
    const encode = (p: Uint8Array) => toDer(new asn1js.OctetString({ valueHex: p }));
    for (const n of [...LENGTHS, ...LENGTHS]) {
      const value = randomBytes(n);
      expect(slots.fill("o", value, encode)).toEqual(encode(value));
    }
  });
});

/** The DER of the extension with this OID in a certificate, and its serial number's INTEGER. */
function parts(der: Buffer): { extension(oid: string): Buffer; serial: Buffer } {
  const cert = new pkijs.Certificate({ schema: asn1js.fromBER(der).result });
  return {
    extension: (oid) => Buffer.from(cert.extensions!.find((e) => e.extnID === oid)!.toSchema().toBER(false)),
    serial: Buffer.from(cert.serialNumber.toBER(false)),
  };
}

describe("issuance through the templates", () => {
  let ca: TestCa;
  let spkiDer: Buffer;
  beforeAll(async () => {
    ca = await makeCa("rsa2048", "templates");
    spkiDer = (await generateKeyPair("RSA", 2048)).spkiDer;
  });

  it("writes UPN-only SANs (critical or not), serials and key identifiers as asn1js does", async () => {
    const upns = LENGTHS.map((n) => `${"u".repeat(Math.max(0, n - 13))}@example.test`.slice(-n));
    upns.push("zoë.ärger@example.test", "山田太郎@例え.テスト", "a");
    for (const upn of upns) {
      for (const critical of [false, true]) {
        const serial = newSerial();
        const der = await ca.issuer.issue(userSpec("t", spkiDer, { serial, san: { upn }, subject: critical ? [] : [{ type: "CN", value: "t" }] }));
        const cert = parts(der);
        expect(cert.extension("2.5.29.17")).toEqual(toDer(subjectAltName({ upn }, critical)));
        expect(cert.serial).toEqual(toDer(unsignedInteger(serial)));
      }
    }
    const der = await ca.issuer.issue(userSpec("t", spkiDer));
    const spki = asn1js.fromBER(spkiDer).result as asn1js.Sequence;
    const bits = (spki.valueBlock.value[1] as asn1js.BitString).valueBlock.valueHexView;
    expect(parts(der).extension("2.5.29.14")).toEqual(toDer(subjectKeyIdentifier(createHash("sha1").update(bits).digest())));
  });

  it("writes e-mail and e-mail + UPN SANs (critical or not) as asn1js does", async () => {
    const emails = LENGTHS.map((n) => `${"e".repeat(Math.max(1, n - 13))}@example.test`);
    for (const email of emails) {
      for (const upn of [undefined, "zoë.ärger@example.test", `${"u".repeat(email.length)}@x`]) {
        for (const critical of [false, true]) {
          const san = { email, ...(upn ? { upn } : {}) };
          const der = await ca.issuer.issue(userSpec("t", spkiDer, { san, subject: critical ? [] : [{ type: "CN", value: "t" }] }));
          expect(parts(der).extension("2.5.29.17")).toEqual(toDer(subjectAltName(san, critical)));
        }
      }
    }
    await expect(ca.issuer.issue(userSpec("t", spkiDer, { san: { email: "not a mailbox" } }))).rejects.toThrow(/e-mail/);
  });

  it("wraps the signature and the whole certificate as asn1js does, whatever their lengths", async () => {
    const ec = await makeCa("p256", "templates-ec");
    for (const issuer of [ca.issuer, ec.issuer]) {
      for (const n of [1, 30, 60, 90, 120, 200, 400]) {
        const der = await issuer.issue(userSpec("w", spkiDer, { san: { upn: `${"w".repeat(n)}@example.test` } }));
        const cert = asn1js.fromBER(der).result as asn1js.Sequence;
        const [tbs, algorithm, signature] = cert.valueBlock.value;
        const expected = new asn1js.Sequence({ value: [tbs!, algorithm!, new asn1js.BitString({ valueHex: (signature as asn1js.BitString).valueBlock.valueHexView })] });
        expect(der).toEqual(toDer(expected));
      }
    }
  });

  it("splices subject names of every length as encodeName encodes them", () => {
    const names: NameAttribute[][] = [[]];
    for (const n of LENGTHS) {
      names.push([{ type: "CN", value: "n".repeat(n) }]);
      names.push([{ type: "CN", value: "ü".repeat(n) }, { type: "OU", value: "Users" }, { type: "O", value: "OpenCLM" }, { type: "DC", value: "example" }]);
    }
    for (const name of names) expect(nameDer(name)).toEqual(toDer(encodeName(name)));
  });

  it("splices the TBSCertificate, its validity and its extensions as asn1js encodes them, whatever their lengths", async () => {
    const ec = await makeCa("p256", "templates-tbs");
    for (const issuer of [ca.issuer, ec.issuer]) {
      for (const n of [0, 1, 60, 100, 130, 200, 300, 1000]) {
        for (const withCn of [true, false]) {
          const subject: NameAttribute[] = withCn ? [{ type: "CN", value: "c".repeat(Math.max(1, n)) }, { type: "O", value: "OpenCLM" }] : [];
          const der = await issuer.issue(userSpec("t", spkiDer, { subject, san: { upn: `${"u".repeat(n)}@example.test` }, crlDistributionPoint: "http://pki.example.test/issuing.crl" }));
          const tbs = (asn1js.fromBER(der).result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
          const fields = tbs.valueBlock.value;
          const validity = fields[4] as asn1js.Sequence;
          const extensions = (fields[7] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
          // Each structure encoded again by asn1js from its own decoded fields.
          const again = (s: asn1js.Sequence) => toDer(new asn1js.Sequence({ value: s.valueBlock.value }));
          expect(Buffer.from(validity.valueBeforeDecodeView)).toEqual(again(validity));
          expect(Buffer.from(extensions.valueBeforeDecodeView)).toEqual(again(extensions));
          expect(Buffer.from(fields[5]!.valueBeforeDecodeView)).toEqual(toDer(encodeName(subject)));
          expect(Buffer.from(tbs.valueBeforeDecodeView)).toEqual(again(tbs));
        }
      }
    }
  });

  it("writes serials of every length and first octet as asn1js does", async () => {
    for (const n of [1, 2, 8, 15, 16, 17, 20]) {
      for (const first of [0x01, 0x7f, 0x80, 0xff, 0x00]) {
        const serial = Buffer.concat([Buffer.of(first), randomBytes(n - 1)]);
        let expected: Buffer | Error;
        try {
          expected = toDer(unsignedInteger(serial));
        } catch (e) {
          expected = e as Error; // zero, or 21 octets once a sign octet is added
        }
        const issued = ca.issuer.issue(userSpec("s", spkiDer, { serial }));
        if (expected instanceof Error) await expect(issued).rejects.toThrow(expected.message);
        else expect(parts(await issued).serial).toEqual(expected);
      }
    }
  });

  it("wraps certificates of any length with the chain as certsOnlyPkcs7 does", async () => {
    const wrap = certsOnlyPkcs7ForChain(ca.issuer.chainDer);
    const lengths = new Set<number>();
    for (const n of [1, 40, 90, 120, 200, 400]) {
      const der = await ca.issuer.issue(userSpec("w", spkiDer, { san: { upn: `${"w".repeat(n)}@example.test` } }));
      lengths.add(der.length);
      expect(wrap(der)).toEqual(certsOnlyPkcs7([der, ...ca.issuer.chainDer]));
      expect(wrap(der)).toEqual(certsOnlyPkcs7([der, ...ca.issuer.chainDer]));
    }
    expect(lengths.size).toBe(6);
    expect(() => wrap(Buffer.from("garbage"))).toThrow(/certificate 0/);
  });
});
