import { describe, expect, it } from "vitest";
import { dataCollectionBody, findTemplate, matchDataItems, parseDataOptions } from "../../src/client/enroll-input.js";
import { InputError } from "../../src/client/errors.js";
import { describePinPolicy, pinPolicyProblem } from "../../src/client/pin-policy.js";
import { parseSmartcardConfig, parseWorkflowPolicy, type PinPolicy } from "../../src/client/wire.js";

const templates = [
  { name: "Virtual Smartcard VPN", description: "", uuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1", isSmartcard: true, isVirtualSmartcard: true },
  { name: "Smart Card Logon", description: "", uuid: "11111111-2222-3333-4444-555555555555", isSmartcard: true, isVirtualSmartcard: false },
];

const policy = parseWorkflowPolicy({
  Enabled: true,
  CollectComments: false,
  DataCollection: [
    { Name: "Request Reason", Description: "Why", Required: true, Validation: { Regex: null, MinLength: 1, MaxLength: 50 } },
    { Name: "Cost Center", Description: "", Required: false, Validation: { Regex: "[0-9]{4}", MinLength: 0, MaxLength: 0 } },
  ],
});

describe("enroll input", () => {
  it("finds a template by name (any case) or by Uuid (any case, braces)", () => {
    expect(findTemplate(templates, "virtual smartcard vpn").uuid).toBe(templates[0]!.uuid);
    expect(findTemplate(templates, "{97CD65FA-AF4B-4587-9309-0DD6BFD8B4E1}").name).toBe("Virtual Smartcard VPN");
    expect(() => findTemplate(templates, "Nope")).toThrow(/"Virtual Smartcard VPN", "Smart Card Logon"/);
  });

  it("parses --data pairs at the first '='", () => {
    expect([...parseDataOptions(["Request Reason=Need VPN=now"])]).toEqual([["Request Reason", "Need VPN=now"]]);
    expect(() => parseDataOptions(["no equals"])).toThrow(InputError);
  });

  it("matches items case-insensitively, refuses unknown ones, validates values", () => {
    const { values, missing } = matchDataItems(policy, parseDataOptions(["request reason=Need VPN"]));
    expect([...values]).toEqual([["Request Reason", "Need VPN"]]);
    expect(missing.map((m) => m.name)).toEqual(["Cost Center"]);
    expect(dataCollectionBody(policy, values)).toEqual([{ "Request Reason": "Need VPN" }]);
    expect(() => matchDataItems(policy, parseDataOptions(["Reason=x"]))).toThrow(/collects no item "Reason"/);
    expect(() => matchDataItems(policy, parseDataOptions(["Cost Center=12ab"]))).toThrow(/expected form/);
    expect(() => matchDataItems(policy, parseDataOptions(["Request Reason="]))).toThrow(/required/);
    expect(() => matchDataItems(policy, parseDataOptions([`Request Reason=${"x".repeat(51)}`]))).toThrow(/at most 50/);
  });

  it("reads the data collection from PolicyDataCollection too", () => {
    const p = parseWorkflowPolicy({ PolicyDataCollection: [{ Name: "A", Required: true }] });
    expect(p.dataCollection.map((d) => d.name)).toEqual(["A"]);
  });
});

describe("PIN policy", () => {
  const numeric: PinPolicy = { minLength: 6, maxLength: 8, characterSet: "numeric", maxAttempts: 3 };
  it("checks length and character set", () => {
    expect(pinPolicyProblem("123456", numeric)).toBeNull();
    expect(pinPolicyProblem("12345", numeric)).toMatch(/at least 6/);
    expect(pinPolicyProblem("123456789", numeric)).toMatch(/at most 8/);
    expect(pinPolicyProblem("12345a", numeric)).toMatch(/digits only/);
    expect(pinPolicyProblem("abc", null)).toMatch(/4 to 127 bytes/);
    expect(describePinPolicy(numeric)).toBe("6–8 characters, digits only");
  });

  it("reads the wire's SmartcardConfig (numbers or names for UserPinOption)", () => {
    const c = parseSmartcardConfig({
      DefaultAdminKeyHex: "010203040506070801020304050607080102030405060708",
      DiversifyAdminKey: true,
      UserPinOption: 1,
      UserPinPolicy: { MinLength: 6, MaxLength: 127, CharacterSet: "any", MaxAttempts: 5 },
      CreateVirtualSmartcard: true,
      DoNotInstallCaCertificates: false,
    });
    expect(c).toMatchObject({ diversifyAdminKey: true, userPinOption: 1, userPinPolicy: { minLength: 6, maxLength: 127, characterSet: "any", maxAttempts: 5 } });
    expect(parseSmartcardConfig({ UserPinOption: "Randomized" }).userPinOption).toBe(3);
  });
});
