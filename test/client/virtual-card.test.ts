import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { adminChallengeResponse } from "../../src/client/card/des.js";
import { AdminAuthError, PinBlockedError, SecurityStatusError, WrongPinError } from "../../src/client/card/errors.js";
import { parseKeySpec, type KeySpec } from "../../src/client/card/keys.js";
import { TPM_VSC_ATR } from "../../src/client/card/constants.js";
import { adminLogin, DEMO_KEY, newCard } from "./support/card.js";
import { opensslDes3Ecb } from "./support/openssl.js";

describe("virtual smart card: identity", () => {
  it("has a lower-case GUID card id and the TPM virtual smart card ATR", () => {
    const { card } = newCard();
    expect(card.cardId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(card.atr).toBe(TPM_VSC_ATR);
    expect(TPM_VSC_ATR).toBe("3b8d0180fba000000397425446590301c8");
  });
});

describe("virtual smart card: admin authentication", () => {
  it("issues 8-byte challenges, each different", () => {
    const { card } = newCard();
    const a = card.getChallenge();
    const b = card.getChallenge();
    expect(a).toHaveLength(8);
    expect(a.equals(b)).toBe(false);
  });

  it("accepts the 3DES-ECB response, which equals what openssl enc -des-ede3 -nopad computes", () => {
    const { card } = newCard();
    const challenge = card.getChallenge();
    const ours = adminChallengeResponse(DEMO_KEY, challenge);
    const theirs = opensslDes3Ecb(DEMO_KEY.toString("hex"), challenge);
    expect(ours.toString("hex")).toBe(theirs.toString("hex"));
    card.authenticateAdmin(theirs);
    expect(card.isAdminAuthenticated).toBe(true);
  });

  it("matches a fixed known answer", () => {
    const response = adminChallengeResponse(DEMO_KEY, Buffer.from("0011223344556677", "hex"));
    expect(response.toString("hex")).toBe(opensslDes3Ecb(DEMO_KEY.toString("hex"), Buffer.from("0011223344556677", "hex")).toString("hex"));
  });

  it("uses each challenge once: a correct response replayed is refused", () => {
    const { card } = newCard();
    const response = adminChallengeResponse(DEMO_KEY, card.getChallenge());
    card.authenticateAdmin(response);
    expect(() => card.authenticateAdmin(response)).toThrow(AdminAuthError);
    expect(card.isAdminAuthenticated).toBe(false);
  });

  it("consumes the challenge on a wrong response too", () => {
    const { card } = newCard();
    const challenge = card.getChallenge();
    expect(() => card.authenticateAdmin(Buffer.alloc(8))).toThrow(/does not match/);
    expect(() => card.authenticateAdmin(adminChallengeResponse(DEMO_KEY, challenge))).toThrow(/no admin challenge/);
  });

  it("persists the outstanding challenge, so another process can answer it once", () => {
    const { store, card, path } = newCard();
    const challenge = card.getChallenge();
    const other = store.open(path).card;
    other.authenticateAdmin(adminChallengeResponse(DEMO_KEY, challenge));
    expect(other.isAdminAuthenticated).toBe(true);
    expect(() => store.open(path).card.authenticateAdmin(adminChallengeResponse(DEMO_KEY, challenge))).toThrow(AdminAuthError);
  });

  it("refuses an expired challenge", () => {
    const { card } = newCard();
    const t0 = Date.now();
    const challenge = card.getChallenge(t0);
    expect(() => card.authenticateAdmin(adminChallengeResponse(DEMO_KEY, challenge), t0 + 10 * 60_000)).toThrow(/expired/);
  });

  it("changes the admin key only under admin authentication; the old key stops working", () => {
    const { card } = newCard();
    const newKey = Buffer.from("0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778", "hex");
    expect(() => card.changeAdminKey(newKey)).toThrow(SecurityStatusError);
    adminLogin(card);
    card.changeAdminKey(newKey);
    expect(card.isAdminAuthenticated).toBe(false);
    expect(() => adminLogin(card, DEMO_KEY)).toThrow(AdminAuthError);
    adminLogin(card, newKey);
    expect(card.isAdminAuthenticated).toBe(true);
  });
});

describe("virtual smart card: user PIN", () => {
  it("blocks after the maximum number of wrong PINs, then refuses to sign even with the right PIN", async () => {
    const { card } = newCard({ pin: "123456", pinMaxAttempts: 3 });
    card.verifyPin("123456");
    const key = await card.generateKey({ algorithm: "ECDSA_P256" });
    card.logout();
    expect(() => card.verifyPin("000000")).toThrow(WrongPinError);
    expect(() => card.verifyPin("000001")).toThrow(/1 try left/);
    expect(() => card.verifyPin("000002")).toThrow(/now blocked/);
    expect(card.pinStatus()).toMatchObject({ set: true, blocked: true, retriesLeft: 0 });
    expect(() => card.verifyPin("123456")).toThrow(PinBlockedError);
    expect(() => card.sign(key.id, "SHA256", Buffer.from("x"))).toThrow(PinBlockedError);
  });

  it("counts wrong PINs on disk, so reopening the card does not reset the counter", () => {
    const { store, card, path } = newCard({ pin: "123456", pinMaxAttempts: 3 });
    expect(() => card.verifyPin("bad-pin")).toThrow(WrongPinError);
    expect(store.open(path).card.pinStatus().retriesLeft).toBe(2);
  });

  it("a right PIN resets the counter", () => {
    const { card } = newCard({ pin: "123456", pinMaxAttempts: 3 });
    expect(() => card.verifyPin("bad-pin")).toThrow(WrongPinError);
    card.verifyPin("123456");
    expect(card.pinStatus().retriesLeft).toBe(3);
  });

  it("a wrong PIN ends the user session", async () => {
    const { card } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    const key = await card.generateKey({ algorithm: "ECDSA_P256" });
    expect(() => card.verifyPin("nope")).toThrow(WrongPinError);
    expect(() => card.sign(key.id, "SHA256", Buffer.from("x"))).toThrow(SecurityStatusError);
  });

  it("resets a blocked PIN only under admin authentication, and is usable again", async () => {
    const { card } = newCard({ pin: "123456", pinMaxAttempts: 2 });
    for (const bad of ["x1x1", "x2x2"]) expect(() => card.verifyPin(bad)).toThrow(WrongPinError);
    expect(card.pinStatus().blocked).toBe(true);
    expect(() => card.resetPin("654321")).toThrow(SecurityStatusError);
    adminLogin(card);
    card.resetPin("654321");
    expect(card.pinStatus()).toMatchObject({ blocked: false, retriesLeft: 2 });
    expect(() => card.verifyPin("123456")).toThrow(WrongPinError);
    card.verifyPin("654321");
    const key = await card.generateKey({ algorithm: "ECDSA_P256" });
    expect(card.sign(key.id, "SHA256", Buffer.from("data")).length).toBeGreaterThan(0);
  });

  it("changes the PIN with the old one", () => {
    const { card } = newCard({ pin: "123456" });
    expect(() => card.changePin("999999", "abcdef")).toThrow(WrongPinError);
    card.changePin("123456", "abcdef");
    card.logout();
    card.verifyPin("abcdef");
  });

  it("has no PIN until one is set; nothing can be signed then", () => {
    const { card } = newCard();
    expect(card.pinStatus().set).toBe(false);
    expect(() => card.verifyPin("123456")).toThrow(/no user PIN/);
  });

  it("stores the PIN only as a salted scrypt hash", () => {
    const a = newCard({ pin: "483920" });
    const text = readFileSync(a.path, "utf8");
    expect(text).not.toContain("483920");
    expect(text).not.toContain(Buffer.from("483920").toString("base64"));
    expect(JSON.parse(text).pin).toMatchObject({ kdf: "scrypt" });
  });
});

describe("virtual smart card: keys", () => {
  const specs: KeySpec[] = [
    parseKeySpec("RSA", 2048),
    parseKeySpec("RSA", 3072),
    parseKeySpec("RSA", 4096),
    parseKeySpec("ECDSA_P256"),
    parseKeySpec("ECDSA_P384"),
  ];

  for (const spec of specs) {
    it(`generates ${spec.algorithm} ${spec.keySize} on the card and signs behind the PIN`, async () => {
      const { card } = newCard({ pin: "123456" });
      await expect(card.generateKey(spec)).rejects.toThrow(SecurityStatusError);
      card.verifyPin("123456");
      const key = await card.generateKey(spec);
      const publicKey = createPublicKey({ key: key.publicKey, format: "der", type: "spki" });
      expect(publicKey.asymmetricKeyType).toBe(spec.algorithm === "RSA" ? "rsa" : "ec");
      if (spec.algorithm === "RSA") expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(spec.keySize);
      else expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe(spec.algorithm === "ECDSA_P256" ? "prime256v1" : "secp384r1");
      const data = Buffer.from("to be signed");
      const signature = card.sign(key.id, "SHA256", data);
      expect(verify("sha256", data, { key: publicKey, dsaEncoding: "der" }, signature)).toBe(true);
      card.logout();
      expect(() => card.sign(key.id, "SHA256", data)).toThrow(SecurityStatusError);
    });
  }

  it("understands the algorithm names servers send and refuses others", () => {
    expect(parseKeySpec("rsa", 0)).toEqual({ algorithm: "RSA", keySize: 2048 });
    expect(parseKeySpec("ECDSA", 384)).toEqual({ algorithm: "ECDSA_P384", keySize: 384 });
    expect(parseKeySpec("ECDSA_P256", 256)).toEqual({ algorithm: "ECDSA_P256", keySize: 256 });
    expect(() => parseKeySpec("RSA", 1024)).toThrow(/RSA 2048\/3072\/4096/);
    expect(() => parseKeySpec("ECDSA_P521")).toThrow();
    expect(() => parseKeySpec("DSA", 2048)).toThrow();
  });

  it("deletes a key container", async () => {
    const { card } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    const key = await card.generateKey({ algorithm: "ECDSA_P256" });
    card.deleteContainer(key.id);
    expect(card.containers()).toHaveLength(0);
  });
});
