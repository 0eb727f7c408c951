// The pure pieces of the issue-4 commands: the card's offline-unblock challenge, hex as read over
// the phone, PFX output rules, and the request objects the listings read.
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { adminChallengeResponse } from "../../src/client/card/des.js";
import { AdminAuthError } from "../../src/client/card/errors.js";
import { OFFLINE_CHALLENGE_LIFETIME_MS } from "../../src/client/card/constants.js";
import { InputError } from "../../src/client/errors.js";
import { normaliseSerial } from "../../src/client/enroll-flow.js";
import { checkPfxOutput, pfxFileNames, pfxPasswordProblem } from "../../src/client/software-profile.js";
import { formatHex, offlineUnblockChallenge, parseHex8, unblockWithResponse } from "../../src/client/unblock-flow.js";
import { parseRequest } from "../../src/client/wire.js";
import { DEMO_KEY, newCard } from "./support/card.js";
import { tempDir } from "./support/tmp.js";

describe("offline unblock on the card", () => {
  it("keeps one challenge for an hour, shows it again, and takes the helpdesk's response once", () => {
    const { card, store, path } = newCard({ pin: "old-pin-1", pinMaxAttempts: 3 });
    for (let i = 0; i < 3; i++) expect(() => card.verifyPin("wrong-pin")).toThrow();
    expect(card.pinStatus().blocked).toBe(true);

    const t0 = Date.now();
    const first = offlineUnblockChallenge(card, false, t0);
    expect(first).toMatchObject({ repeated: false, expiresAt: new Date(t0 + OFFLINE_CHALLENGE_LIFETIME_MS).toISOString() });
    // another process (the later `--response` run) sees the same pending challenge
    const again = offlineUnblockChallenge(store.open(path).card, false, t0 + 30 * 60_000);
    expect(again.repeated).toBe(true);
    expect(again.challenge.equals(first.challenge)).toBe(true);
    expect(offlineUnblockChallenge(card, true, t0).challenge.equals(first.challenge)).toBe(false);

    const reopened = store.open(path).card;
    const challenge = reopened.pendingChallenge()!.value;
    expect(() => unblockWithResponse(reopened, Buffer.alloc(8), "new-pin-1")).toThrow(AdminAuthError);
    // used up by the wrong answer: the right one no longer works
    expect(() => unblockWithResponse(reopened, adminChallengeResponse(DEMO_KEY, challenge), "new-pin-1")).toThrow(/no outstanding challenge/);

    const fresh = offlineUnblockChallenge(reopened, false).challenge;
    expect(unblockWithResponse(reopened, adminChallengeResponse(DEMO_KEY, fresh), "new-pin-1")).toMatchObject({ blocked: false, retriesLeft: 3 });
    expect(() => reopened.verifyPin("new-pin-1")).not.toThrow();
  });

  it("lets an offline challenge expire after its hour and reads card files written before it had an expiry", () => {
    const { card, store, path } = newCard();
    const t0 = Date.now();
    offlineUnblockChallenge(card, false, t0);
    expect(card.pendingChallenge(t0 + OFFLINE_CHALLENGE_LIFETIME_MS + 1)).toBeNull();

    const challenge = card.getChallenge();
    const data = JSON.parse(readFileSync(path, "utf8"));
    delete data.challenge.expiresAt;
    delete data.challenge.purpose;
    writeFileSync(path, JSON.stringify(data));
    const old = store.open(path).card;
    expect(old.pendingChallenge()).toMatchObject({ purpose: "admin" });
    expect(() => old.authenticateAdmin(adminChallengeResponse(DEMO_KEY, challenge))).not.toThrow();
  });
});

describe("hex over the phone", () => {
  it("accepts 16 hex digits however they were grouped, and refuses anything else", () => {
    const bytes = Buffer.from("0a1b2c3d4e5f6071", "hex");
    expect(formatHex(bytes)).toBe("0A1B2C3D4E5F6071");
    for (const text of ["0A1B2C3D4E5F6071", "0a1b 2c3d 4e5f 6071", "0A:1B:2C:3D:4E:5F:60:71", "0a1b-2c3d-4e5f-6071"]) {
      expect(parseHex8(text, "--challenge").equals(bytes)).toBe(true);
    }
    for (const bad of ["0A1B2C3D4E5F60", "0A1B2C3D4E5F607182", "0A1B2C3D4E5F607G", "CgsMDQ4PBgc="]) {
      expect(() => parseHex8(bad, "--challenge")).toThrow(InputError);
    }
  });
});

describe("PFX output", () => {
  it("refuses empty and short passwords, existing files and missing directories", () => {
    expect(pfxPasswordProblem("")).toMatch(/must not be empty/);
    expect(pfxPasswordProblem("abc")).toMatch(/at least 4/);
    expect(pfxPasswordProblem("abcd")).toBeNull();
    const dir = tempDir();
    const file = join(dir, "a.pfx");
    expect(() => checkPfxOutput(file, false)).not.toThrow();
    writeFileSync(file, "x");
    expect(() => checkPfxOutput(file, false)).toThrow(/exists/);
    expect(() => checkPfxOutput(file, true)).not.toThrow();
    expect(() => checkPfxOutput(join(dir, "nowhere", "a.pfx"), false)).toThrow(/does not exist/);
    mkdirSync(join(dir, "d"));
    expect(pfxFileNames(join(dir, "d", "keys.pfx"), 3)).toEqual([join(dir, "d", "keys.pfx"), join(dir, "d", "keys-2.pfx"), join(dir, "d", "keys-3.pfx")]);
    expect(pfxFileNames(join(dir, "keys"), 2)).toEqual([join(dir, "keys"), join(dir, "keys-2.pfx")]);
  });
});

describe("request objects", () => {
  it("reads the listing fields, the extension properties and both data collection forms", () => {
    const r = parseRequest({
      Uuid: "{C6BAD97C-F97F-4920-8947-BE980C98C6B5}",
      RequestType: 12,
      Status: 16,
      Workflow: "OfflineUnblock",
      OldSmartcardUuid: "A4B6C7D8-0000-4000-8000-000000000001",
      NewSmartcardUuid: "00000000-0000-0000-0000-000000000000",
      Submitted: "2025-01-02T03:04:05",
      Completed: "0001-01-01T00:00:00",
      DataCollection: [{ Name: "Employee ID", Value: "1234" }, { Reason: "lost" }],
      ApprovalsNeeded: 1,
      Approvals: 0,
    });
    expect(r).toMatchObject({
      uuid: "c6bad97c-f97f-4920-8947-be980c98c6b5",
      requestType: 12,
      workflow: "OfflineUnblock",
      oldSmartcardUuid: "a4b6c7d8-0000-4000-8000-000000000001",
      submitted: "2025-01-02T03:04:05.000Z",
      completed: null,
      dataCollection: [{ name: "Employee ID", value: "1234" }, { name: "Reason", value: "lost" }],
      approvalsNeeded: 1,
      approvals: 0,
    });
    expect(parseRequest({ Uuid: "c6bad97c-f97f-4920-8947-be980c98c6b5" })).toMatchObject({ workflow: null, approvalsNeeded: null });
  });

  it("compares serial numbers whatever case and leading zeros", () => {
    expect(normaliseSerial("00ab12")).toBe(normaliseSerial("AB12"));
    expect(normaliseSerial("0")).toBe("0");
  });
});
