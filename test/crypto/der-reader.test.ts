import { readFileSync } from "node:fs";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeGeneral, decodeStrictDer, type DecodedRequest } from "../../src/crypto/csr.js";
import { childrenOf, contentsOf, encodingOf, readDer, type DerElement } from "../../src/crypto/der-reader.js";
import { OpensslSandbox } from "./helpers/openssl.js";

const WINDOWS_CSR = Buffer.from(readFileSync(new URL("../fixtures/mimcm-doc-csr-sha1-rsa2048.b64", import.meta.url), "utf8"), "base64");

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

const csrs: Record<string, Buffer> = { windows: WINDOWS_CSR };
beforeAll(() => {
  const make = (name: string, keyArgs: string[], extra: string[] = []) => {
    sandbox.ok(["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-subj", "/CN=Zoë Ünïcode/O=OpenCLM/emailAddress=z@example.com", ...extra, "-outform", "DER", "-out", `${name}.der`]);
    csrs[name] = sandbox.read(`${name}.der`);
  };
  make("rsa", ["-newkey", "rsa:2048"], ["-addext", "subjectAltName=DNS:a.example,email:z@example.com", "-addext", "keyUsage=critical,digitalSignature"]);
  make("p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
  make("p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], ["-sha384"]);
  make("ed25519", ["-newkey", "ed25519"]);
  make("pss", ["-newkey", "rsa:2048"], ["-sigopt", "rsa_padding_mode:pss"]);
});

/** Every element of a tree asn1js decoded, as (tag octet, offset, length) like readDer's. */
function asn1jsElements(der: Uint8Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const walk = (block: asn1js.AsnType, offset: number) => {
    const b = block as asn1js.BaseBlock & { valueBlock: { value?: asn1js.AsnType[] } };
    const id = b.idBlock;
    const tag = ([0, 0x00, 0x40, 0x80, 0xc0][id.tagClass] ?? 0) | (id.isConstructed ? 0x20 : 0) | id.tagNumber;
    out.push([tag, offset, b.valueBeforeDecodeView.byteLength]);
    if (id.isConstructed) {
      let at = offset + b.idBlock.blockLength + b.lenBlock.blockLength;
      for (const child of b.valueBlock.value ?? []) {
        walk(child, at);
        at += (child as asn1js.BaseBlock).valueBeforeDecodeView.byteLength;
      }
    }
  };
  walk(asn1js.fromBER(der, { parseEmbedded: false }).result, 0);
  return out;
}

function readerElements(der: Uint8Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  const walk = (e: DerElement) => {
    out.push([e.tag, e.start, e.end - e.start]);
    if (e.tag & 0x20) childrenOf(der, e).forEach(walk);
  };
  walk(readDer(der)!);
  return out;
}

describe("readDer", () => {
  it("finds every element where asn1js finds it, in real requests", () => {
    for (const [name, der] of Object.entries(csrs)) {
      expect(readDer(der), name).toBeDefined();
      expect(readerElements(der), name).toEqual(asn1jsElements(der));
    }
  });

  it("gives an element's encoding and contents as views of the input", () => {
    const der = csrs.rsa!;
    const [info] = childrenOf(der, readDer(der)!);
    const asn1 = asn1js.fromBER(der, { parseEmbedded: false }).result as asn1js.Sequence;
    expect(encodingOf(der, info!)).toEqual(Buffer.from(asn1.valueBlock.value[0]!.valueBeforeDecodeView));
    expect(contentsOf(der, info!)).toEqual(encodingOf(der, info!).subarray(4));
  });

  // Each of these is valid BER, or ASN.1 this reader does not take: asn1js gets the final word.
  const refused: Array<[string, string]> = [
    ["indefinite length", "3080020100 0000"],
    ["a long-form length below 128", "3081030201 00"],
    ["a long-form length with a leading zero octet", "308200030201 00"],
    ["a length of four octets", "3084000000030201 00"],
    ["a high tag number", "1f2101 00"],
    ["a constructed OCTET STRING", "2403040100"],
    ["a constructed BIT STRING", "2303030100"],
    ["a BIT STRING with unused bits", "03020780"],
    ["an empty BIT STRING", "0300"],
    ["an empty INTEGER", "0200"],
    ["an INTEGER with a superfluous zero octet", "0202007f"],
    ["an INTEGER with a superfluous 0xff octet", "0202ff80"],
    ["a BOOLEAN that is not 00 or ff", "010101"],
    ["a NULL with contents", "050100"],
    ["an OBJECT IDENTIFIER ending mid sub-identifier", "06022a86"],
    ["an OBJECT IDENTIFIER with a padded sub-identifier", "06032a8001"],
    ["invalid UTF-8 in a UTF8String", "0c02c328"],
    ["a non-ASCII PrintableString", "1301e9"],
    ["an odd-length BMPString", "1e03004100"],
    ["a UTCTime (not taken here)", "170d3236313230373030303030305a"],
    ["truncated contents", "300502010002"],
    ["trailing bytes", "300302010000"],
    ["a child running past its parent", "30030204010203"],
    ["an empty input", ""],
  ];
  it.each(refused)("refuses %s", (_what, hex) => {
    expect(readDer(Buffer.from(hex.replace(/ /g, ""), "hex"))).toBeUndefined();
  });

  it("refuses nesting deeper than 32", () => {
    let der = Buffer.from("0500", "hex");
    for (let i = 0; i < 33; i++) der = Buffer.concat([Buffer.of(0x30, der.length), der]);
    expect(readDer(der)).toBeUndefined();
    expect(readDer(der.subarray(2))).toBeDefined();
  });

  it("takes implicitly tagged primitives as opaque octets, and explicit tags as constructed", () => {
    const der = Buffer.from("3009800201ffa1030201 05".replace(/ /g, ""), "hex");
    const root = readDer(der)!;
    expect(childrenOf(der, root).map((e) => e.tag)).toEqual([0x80, 0xa1]);
  });
});

function comparable(d: DecodedRequest) {
  return { ...d, signatureParams: undefined };
}

/** A deterministic stream of mutations: flipped, replaced, inserted and removed octets, and truncations. */
function* mutations(der: Buffer, count: number): Generator<Buffer> {
  let seed = 0x9e3779b9;
  const random = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  for (let i = 0; i < count; i++) {
    const m = Buffer.from(der);
    const at = random(der.length);
    switch (i % 5) {
      case 0:
        m[at] = m[at]! ^ (1 << random(8));
        yield m;
        break;
      case 1:
        m[at] = random(256);
        yield m;
        break;
      case 2:
        yield Buffer.concat([m.subarray(0, at), Buffer.of(random(256)), m.subarray(at)]);
        break;
      case 3:
        yield Buffer.concat([m.subarray(0, at), m.subarray(at + 1)]);
        break;
      default:
        yield m.subarray(0, at);
    }
  }
}

describe("decodeStrictDer against decodeGeneral (asn1js)", () => {
  it("takes every plain request itself, and reads it as asn1js does", () => {
    for (const [name, der] of Object.entries(csrs)) {
      if (name === "pss") continue;
      const strict = decodeStrictDer(der);
      expect(strict, name).toBeDefined();
      expect(comparable(strict!), name).toEqual(comparable(decodeGeneral(der)));
    }
  });

  it("leaves RSA-PSS, whose parameters asn1js reads, to asn1js", () => {
    expect(decodeStrictDer(csrs.pss!)).toBeUndefined();
    expect(decodeGeneral(csrs.pss!).signatureParams).toBeDefined();
  });

  it("never takes a damaged request that asn1js would refuse or read otherwise (20,000 mutations)", () => {
    let taken = 0;
    for (const der of Object.values(csrs)) {
      for (const m of mutations(der, 20_000 / Object.keys(csrs).length)) {
        const strict = decodeStrictDer(m);
        if (!strict) continue;
        taken++;
        let general: DecodedRequest | undefined;
        try {
          general = decodeGeneral(m);
        } catch (err) {
          throw new Error(`strict DER took a request asn1js refuses (${(err as Error).message}): ${m.toString("hex")}`);
        }
        expect(comparable(strict)).toEqual(comparable(general));
      }
    }
    // Most mutations land in the key, the signature or a string, which stay well formed.
    expect(taken).toBeGreaterThan(1000);
  });
});
