import { createSecretKey, randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import {
  challengeResponse,
  deriveAdminKey,
  isDegenerate,
  parseAdminKeyHex,
  setOddParity,
} from "../../src/crypto/adminkey.js";
import { OpensslSandbox } from "./helpers/openssl.js";

const DEMO_DEFAULT_KEY = "010203040506070801020304050607080102030405060708";
const TEMPLATE = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
const MASTER = Buffer.from("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "hex");

const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());

/** What a card computes, according to openssl: 3DES-ECB of the challenge, no padding. */
function opensslResponse(key: Buffer, challenge: Buffer): Buffer {
  const input = sandbox.write("challenge.bin", challenge);
  sandbox.ok(["enc", "-des-ede3", "-nopad", "-K", key.toString("hex"), "-in", input, "-out", "response.bin"]);
  return sandbox.read("response.bin");
}

/** HKDF-SHA256 as openssl computes it, for the derivation documented in docs/admin-keys.md. */
function opensslHkdf(info: string): Buffer {
  const out = sandbox.ok([
    "kdf", "-keylen", "24", "-kdfopt", "digest:SHA256",
    "-kdfopt", `hexkey:${MASTER.toString("hex")}`,
    "-kdfopt", `hexsalt:${Buffer.from("OpenCLM admin key v1").toString("hex")}`,
    "-kdfopt", `hexinfo:${Buffer.from(info).toString("hex")}`,
    "HKDF",
  ]);
  return Buffer.from(out.trim().replace(/:/g, ""), "hex");
}

const oddParity = (key: Buffer) => [...key].every((b) => b.toString(2).split("1").length % 2 === 0);

describe("parseAdminKeyHex", () => {
  it("accepts 48 hex digits in either case", () => {
    expect(parseAdminKeyHex(DEMO_DEFAULT_KEY).toString("hex")).toBe(DEMO_DEFAULT_KEY);
    expect(parseAdminKeyHex("AB".repeat(24))).toEqual(Buffer.alloc(24, 0xab));
  });

  it.each(["", "0102", DEMO_DEFAULT_KEY + "00", DEMO_DEFAULT_KEY.slice(2) + "zz", ` ${DEMO_DEFAULT_KEY.slice(1)}`])(
    "rejects %j",
    (hex) => expect(() => parseAdminKeyHex(hex)).toThrow(/48 hexadecimal digits/),
  );
});

describe("challengeResponse", () => {
  it("matches openssl des-ede3 (ECB) for the demo default key", () => {
    const key = parseAdminKeyHex(DEMO_DEFAULT_KEY);
    for (const challenge of [Buffer.alloc(8), Buffer.from("0001020304050607", "hex"), randomBytes(8), randomBytes(8)]) {
      expect(challengeResponse(key, challenge).toString("hex")).toBe(opensslResponse(key, challenge).toString("hex"));
    }
  });

  it("matches openssl for a derived key", async () => {
    const key = await deriveAdminKey(MASTER, TEMPLATE, "card-1");
    for (let i = 0; i < 3; i++) {
      const challenge = randomBytes(8);
      expect(challengeResponse(key, challenge)).toEqual(opensslResponse(key, challenge));
    }
  });

  it("rejects challenges that are not 8 bytes and keys that are not 24", () => {
    const key = parseAdminKeyHex(DEMO_DEFAULT_KEY);
    expect(() => challengeResponse(key, Buffer.alloc(7))).toThrow(/8 bytes/);
    expect(() => challengeResponse(key, Buffer.alloc(16))).toThrow(/8 bytes/);
    expect(() => challengeResponse(key.subarray(0, 16), Buffer.alloc(8))).toThrow(/24 bytes/);
  });
});

describe("deriveAdminKey", () => {
  it("is HKDF-SHA256 with the documented salt and info, then odd parity (checked with openssl kdf)", async () => {
    const card = "C0FFEE00-0000-4000-8000-000000000001";
    const expected = setOddParity(opensslHkdf(`template=${TEMPLATE};card=${card.toLowerCase()};n=0`));
    expect(isDegenerate(expected)).toBe(false);
    expect(await deriveAdminKey(MASTER, TEMPLATE, card)).toEqual(expected);
    // The server holds master secrets as KeyObjects: the same key from the same bytes.
    expect(await deriveAdminKey(createSecretKey(MASTER), TEMPLATE, card)).toEqual(expected);
  });

  it("matches the test vector published in docs/admin-keys.md", async () => {
    const key = await deriveAdminKey(MASTER, TEMPLATE, "C0FFEE00-0000-4000-8000-000000000001");
    expect(key.toString("hex")).toBe("d9923ef2135dbf20c21ff1d35e8540fec18c86a7f701a161");
    expect(challengeResponse(key, Buffer.from("0001020304050607", "hex")).toString("hex")).toBe("fd18f272268e015f");
  });

  it("is deterministic and case-insensitive in its identifiers", async () => {
    const a = await deriveAdminKey(MASTER, TEMPLATE, "ABCDEF");
    expect(await deriveAdminKey(Buffer.from(MASTER), TEMPLATE.toUpperCase(), "abcdef")).toEqual(a);
  });

  it("differs between cards, templates and master secrets", async () => {
    const base = await deriveAdminKey(MASTER, TEMPLATE, "card-1");
    expect(await deriveAdminKey(MASTER, TEMPLATE, "card-2")).not.toEqual(base);
    expect(await deriveAdminKey(MASTER, "11111111-2222-3333-4444-555555555555", "card-1")).not.toEqual(base);
    expect(await deriveAdminKey(randomBytes(32), TEMPLATE, "card-1")).not.toEqual(base);
  });

  it("always yields 24 bytes with odd parity and no degenerate structure", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const key = await deriveAdminKey(MASTER, TEMPLATE, `card-${i}`);
      expect(key).toHaveLength(24);
      expect(oddParity(key)).toBe(true);
      expect(isDegenerate(key)).toBe(false);
      seen.add(key.toString("hex"));
    }
    expect(seen.size).toBe(300);
  });

  it("refuses short master secrets and ambiguous identifiers", async () => {
    await expect(deriveAdminKey(Buffer.alloc(15), TEMPLATE, "c")).rejects.toThrow(/at least 16 bytes/);
    await expect(deriveAdminKey(createSecretKey(Buffer.alloc(15)), TEMPLATE, "c")).rejects.toThrow(/at least 16 bytes/);
    await expect(deriveAdminKey(MASTER, TEMPLATE, "")).rejects.toThrow(/card id/);
    await expect(deriveAdminKey(MASTER, TEMPLATE, "a;n=1")).rejects.toThrow(/card id/);
    await expect(deriveAdminKey(MASTER, "t=1", "c")).rejects.toThrow(/template id/);
  });
});

describe("setOddParity", () => {
  it("fixes the low bit of every byte and returns a copy", () => {
    const input = Buffer.from("00ff0102fe80", "hex");
    const out = setOddParity(input);
    expect(out.toString("hex")).toBe("01fe0102fe80");
    expect(input.toString("hex")).toBe("00ff0102fe80");
    expect(oddParity(setOddParity(randomBytes(64)))).toBe(true);
  });
});

describe("isDegenerate", () => {
  const k = (hex: string) => Buffer.from(hex, "hex");
  const good = "0123456789abcdeffedcba987654321089abcdef01234567";

  it("accepts an ordinary three-key and two-key (K1 = K3) key", () => {
    expect(isDegenerate(k(good))).toBe(false);
    expect(isDegenerate(k("0123456789abcdeffedcba98765432100123456789abcdef"))).toBe(false);
  });

  it("flags K1 = K2 and K2 = K3, parity bits ignored", () => {
    expect(isDegenerate(parseAdminKeyHex(DEMO_DEFAULT_KEY))).toBe(true);
    expect(isDegenerate(k("0123456789abcdef0123456789abcdeffedcba9876543210"))).toBe(true);
    expect(isDegenerate(k("fedcba98765432100123456789abcdef0123456789abcdef"))).toBe(true);
    expect(isDegenerate(k("fedcba98765432100123456789abcdef0022446688aaccee"))).toBe(true);
  });

  it("flags weak and semi-weak DES thirds", () => {
    expect(isDegenerate(k("0101010101010101" + good.slice(16)))).toBe(true);
    expect(isDegenerate(k(good.slice(0, 16) + "1f1f1f1f0e0e0e0e" + good.slice(32)))).toBe(true);
    expect(isDegenerate(k(good.slice(0, 32) + "01fe01fe01fe01fe"))).toBe(true);
    expect(isDegenerate(k(good.slice(0, 32) + "00ff00ff00ff00ff"))).toBe(true);
  });

  it("requires 24 bytes", () => {
    expect(() => isDegenerate(Buffer.alloc(16))).toThrow(/24 bytes/);
  });
});
