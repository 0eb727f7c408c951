import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  compileDataItemRegex,
  defaultConfig,
  disabledPolicy,
  effectivePolicy,
  loadConfigFile,
  loadDemoConfig,
  parseConfig,
} from "../../src/config/load.js";
import { resolveEku } from "../../src/config/eku.js";

const EXAMPLE = fileURLToPath(new URL("../../config/example.yaml", import.meta.url));

/** The error parseConfig throws, so each test can look at its lines. */
function problemsOf(text: string, source = "config.yaml"): ConfigError {
  try {
    parseConfig(text, source);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

// One valid template pair; the error tests change a line of it. Line numbers are those of the
// joined text (line 1 = "certificateTemplates:").
const VALID = [
  "certificateTemplates:", // 1
  "  - name: VPN", // 2
  "    extendedKeyUsages: [clientAuth]", // 3
  "profileTemplates:", // 4
  "  - name: VSC", // 5
  "    uuid: 97CD65FA-AF4B-4587-9309-0DD6BFD8B4E1", // 6
  "    kind: virtualSmartcard", // 7
  "    certificateTemplates: [VPN]", // 8
  "    smartcard:", // 9
  '      defaultAdminKeyHex: "010203040506070801020304050607080102030405060708"', // 10
  "    policies:", // 11
  "      enroll:", // 12
  "        approvalsNeeded: 0", // 13
  "        authorizedInitiator: [group:cm-users]", // 14
];
const withLines = (changes: Record<number, string>, extra: string[] = []): string =>
  [...VALID.map((l, i) => changes[i + 1] ?? l), ...extra].join("\n") + "\n";

describe("demo configuration", () => {
  const demo = loadDemoConfig();

  it("names its own file as source", () => {
    expect(demo.source).toMatch(/config[\\/]demo\.yaml$/);
  });

  it("seeds the four demo users and the roles", () => {
    expect(demo.users.map((u) => [u.name, u.password, u.groups])).toEqual([
      ["alice", "alice", ["cm-users"]],
      ["bob", "bob", ["cm-approvers"]],
      ["carol", "carol", ["cm-agents"]],
      ["dave", "dave", ["cm-admins"]],
    ]);
    expect(demo.users[0]).toMatchObject({ displayName: "Alice Example", email: "alice@example.test", upn: "alice@example.test" });
    expect(demo.roles).toEqual({ admin: ["group:cm-admins"], auditor: ["group:cm-admins"] });
  });

  it("has the three certificate templates", () => {
    const [vpn, logon, software] = demo.certificateTemplates;
    expect(vpn).toMatchObject({
      name: "VPN",
      keyAlgorithm: "RSA",
      keySize: 2048,
      hashAlgorithms: ["SHA256"],
      keyUsages: 3,
      extendedKeyUsages: ["1.3.6.1.5.5.7.3.2"],
      subject: "CN={displayName}",
      subjectAltNames: ["email"],
      validityDays: 365,
      serverGeneratesKey: false,
    });
    expect(logon).toMatchObject({
      name: "SmartcardLogon",
      keySize: 2048,
      extendedKeyUsages: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"],
      subjectAltNames: ["upn"],
    });
    expect(software).toMatchObject({
      name: "SoftwareUser",
      serverGeneratesKey: true,
      archiveKey: true,
      exportable: true,
      extendedKeyUsages: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"],
      keyStorageProviders: ["Microsoft Software Key Storage Provider"],
    });
  });

  it("has Virtual Smartcard VPN as the walkthrough needs it", () => {
    const vsc = demo.profileTemplates.find((t) => t.name === "Virtual Smartcard VPN")!;
    expect(vsc.uuid).toBe("97cd65fa-af4b-4587-9309-0dd6bfd8b4e1");
    expect(vsc.kind).toBe("virtualSmartcard");
    expect(vsc.certificateTemplates).toEqual(["VPN"]);
    expect(vsc.smartcard).toMatchObject({
      defaultAdminKeyHex: "010203040506070801020304050607080102030405060708",
      diversifyAdminKey: true,
      userPinOption: "UserProvided",
      userPinPolicy: { minLength: 6, maxLength: 127, characterSet: "any", maxAttempts: 3 },
      createVirtualSmartcard: true,
      maxResponsesPerRequest: 16,
    });
    const enroll = vsc.policies.Enroll!;
    expect(enroll).toMatchObject({ enabled: true, selfServiceEnabled: true, approvalsNeeded: 0, collectComments: false });
    expect(enroll.dataCollection).toEqual([
      { name: "Request Reason", description: expect.any(String), required: true, type: "string", minLength: 0, maxLength: 256 },
    ]);
    for (const type of ["Renew", "Unblock", "OfflineUnblock", "Retire", "Revoke", "Disable", "OnlineUpdate", "Duplicate", "TemporaryEnroll", "Reinstate"] as const) {
      expect(vsc.policies[type], type).toMatchObject({
        enabled: true,
        selfServiceEnabled: true,
        approvalsNeeded: 0,
        authorizedHelpdesk: ["group:cm-agents"],
        authorizedEnrollmentAgent: ["group:cm-agents"],
        authorizedInitiator: ["group:cm-users", "group:cm-agents"],
      });
    }
    expect(vsc.policies.Recover).toBeUndefined();
  });

  it("has Smart Card Logon with one approval and unblock policies", () => {
    const logon = demo.profileTemplates.find((t) => t.name === "Smart Card Logon")!;
    expect(logon.kind).toBe("smartcard");
    expect(logon.uuid).toBe("5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d");
    expect(logon.smartcard?.createVirtualSmartcard).toBe(false);
    expect(logon.policies.Enroll).toMatchObject({ approvalsNeeded: 1, authorizedApprover: ["group:cm-approvers"] });
    expect(logon.policies.Enroll!.dataCollection[0]).toMatchObject({ name: "Employee ID", required: true, regex: "[0-9]{4,8}" });
    expect(logon.policies.Unblock?.enabled).toBe(true);
    expect(logon.policies.OfflineUnblock).toMatchObject({ enabled: true, authorizedHelpdesk: ["group:cm-agents"] });
  });

  it("has Software User with Recover", () => {
    const sw = demo.profileTemplates.find((t) => t.name === "Software User")!;
    expect(sw.kind).toBe("software");
    expect(sw.uuid).toBe("3e8f2a61-7b4c-4d19-a5e0-6c2b9f1d8a47");
    expect(sw.smartcard).toBeUndefined();
    expect(sw.certificateTemplates).toEqual(["SoftwareUser"]);
    expect(sw.policies.Recover?.enabled).toBe(true);
    expect(sw.policies.RecoverOnBehalf).toMatchObject({ enabled: true, authorizedHelpdesk: ["group:cm-agents"] });
  });

  it("gives every policy the same key set, aliased or not", () => {
    const keys = Object.keys(disabledPolicy()).sort();
    for (const t of demo.profileTemplates) {
      for (const p of Object.values(t.policies)) expect(Object.keys(p!).sort()).toEqual(keys);
    }
  });

  it("does not share objects between aliased policies", () => {
    const vsc = demo.profileTemplates[0]!;
    expect(vsc.policies.Renew).not.toBe(vsc.policies.Unblock);
    expect(vsc.policies.Renew!.authorizedHelpdesk).not.toBe(vsc.policies.Unblock!.authorizedHelpdesk);
  });
});

describe("defaults", () => {
  it("an empty file gives the defaults", () => {
    const c = defaultConfig();
    expect(c).toEqual({ ...parseConfig("", "(defaults)") });
    expect(c.server).toEqual({ listen: "127.0.0.1:8080", insecureHttp: false, bodyLimitBytes: 1048576, metricsPublic: true });
    expect(c.database).toBe("sqlite:openclm.db");
    expect(c.ca).toEqual({
      root: { keyType: "rsa3072", validityDays: 7300, subject: "CN=OpenCLM Root CA,O=OpenCLM" },
      issuing: { keyType: "rsa2048", validityDays: 3650, subject: "CN=OpenCLM Issuing CA,O=OpenCLM" },
      crlValidityHours: 24,
      crlRefreshMinutes: 60,
    });
    expect(c.keyEncryptionKey).toEqual({ env: "OPENCLM_KEK", file: "kek.key" });
    expect(c.auth).toEqual({ basic: { enabled: true, cacheTtlSeconds: 60 }, rateLimit: { maxFailures: 10, windowSeconds: 60 } });
    expect(c.roles).toEqual({ admin: [], auditor: [] });
    expect(c.users).toEqual([]);
    expect(c.certificateTemplates).toEqual([]);
    expect(c.profileTemplates).toEqual([]);
  });

  it("fills in a small file", () => {
    const c = parseConfig(withLines({}, ["      renew:"]), "small.yaml");
    const [vpn] = c.certificateTemplates;
    expect(vpn).toEqual({
      name: "VPN",
      friendlyName: "",
      keyAlgorithm: "RSA",
      keySize: 2048,
      hashAlgorithms: ["SHA256"],
      keyUsages: 3,
      extendedKeyUsages: ["1.3.6.1.5.5.7.3.2"],
      subject: "CN={displayName}",
      subjectAltNames: [],
      validityDays: 365,
      keyStorageProviders: ["Microsoft Smart Card Key Storage Provider"],
      exportable: false,
      keyProtectionLevel: 0,
      serverGeneratesKey: false,
      archiveKey: false,
    });
    const t = c.profileTemplates[0]!;
    expect(t.uuid).toBe("97cd65fa-af4b-4587-9309-0dd6bfd8b4e1");
    expect(t.description).toBe("");
    expect(t.temporaryValidityDays).toBe(7);
    expect(t.smartcard).toEqual({
      defaultAdminKeyHex: "010203040506070801020304050607080102030405060708",
      diversifyAdminKey: true,
      userPinOption: "UserProvided",
      userPinPolicy: { minLength: 6, maxLength: 127, characterSet: "any", maxAttempts: 3 },
      adminPinPolicy: { minLength: 6, maxLength: 127, characterSet: "any", maxAttempts: 3 },
      createVirtualSmartcard: true,
      maximumNumberOfCertificates: 10,
      certificateLabel: "",
      allowSmartcardReuse: false,
      cardInitializationType: "Standard",
      reuseCardOnRenew: true,
      doNotInstallCaCertificates: false,
      maxResponsesPerRequest: 16,
    });
    expect(t.policies.Enroll).toEqual({
      enabled: true,
      selfServiceEnabled: true,
      approvalsNeeded: 0,
      authorizedInitiator: ["group:cm-users"],
      authorizedApprover: [],
      authorizedEnrollmentAgent: [],
      authorizedHelpdesk: [],
      enrollAgentRequired: false,
      collectComments: false,
      collectRequestPriority: false,
      defaultRequestPriority: 5,
      oneTimePasswordPolicy: "",
      personalization: "",
      documents: [],
      dataCollection: [],
    });
    // `renew:` with nothing after it enables the policy with its defaults.
    expect(t.policies.Renew).toEqual({ ...disabledPolicy(), enabled: true });
    expect(t.policies.Unblock).toBeUndefined();
    expect(effectivePolicy(t, "Unblock")).toEqual(disabledPolicy());
    expect(disabledPolicy().enabled).toBe(false);
  });

  it("createVirtualSmartcard follows the kind; keySize follows the algorithm", () => {
    const c = parseConfig(
      withLines({ 3: "    keyAlgorithm: ECDSA_P384", 7: "    kind: smartcard" }),
      "k.yaml",
    );
    expect(c.profileTemplates[0]!.smartcard!.createVirtualSmartcard).toBe(false);
    expect(c.certificateTemplates[0]!.keySize).toBe(384);
  });

  it("a policy can be written down but disabled", () => {
    const c = parseConfig(withLines({}, ["      unblock:", "        enabled: false"]), "d.yaml");
    expect(c.profileTemplates[0]!.policies.Unblock!.enabled).toBe(false);
  });

  it("temporaryCards is the TemporaryEnroll policy", () => {
    const c = parseConfig(withLines({}, ["      temporaryCards:", "        approvalsNeeded: 0"]), "t.yaml");
    expect(c.profileTemplates[0]!.policies.TemporaryEnroll?.enabled).toBe(true);
  });

  it("accepts an unquoted all-digit admin key as written", () => {
    const c = parseConfig(withLines({ 10: "      defaultAdminKeyHex: 010203040506070801020304050607080102030405060708" }), "n.yaml");
    expect(c.profileTemplates[0]!.smartcard!.defaultAdminKeyHex).toBe("010203040506070801020304050607080102030405060708");
  });

  it("resolves EKU names and keeps dotted OIDs", () => {
    const c = parseConfig(
      withLines({ 3: "    extendedKeyUsages: [serverAuth, codeSigning, documentSigning, encryptingFileSystem, 1.2.3.4]" }),
      "e.yaml",
    );
    expect(c.certificateTemplates[0]!.extendedKeyUsages).toEqual([
      "1.3.6.1.5.5.7.3.1",
      "1.3.6.1.5.5.7.3.3",
      "1.3.6.1.4.1.311.10.3.12",
      "1.3.6.1.4.1.311.10.3.4",
      "1.2.3.4",
    ]);
    expect(resolveEku("emailProtection")).toBe("1.3.6.1.5.5.7.3.4");
    expect(resolveEku("smartcardLogon")).toBe("1.3.6.1.4.1.311.20.2.2");
    expect(resolveEku("nonsense")).toBeUndefined();
  });

  it("anchors data item regexes", () => {
    const re = compileDataItemRegex("[0-9]{4,8}");
    expect(re.test("1234")).toBe(true);
    expect(re.test("x1234")).toBe(false);
    expect(re.test("123456789")).toBe(false);
  });
});

describe("errors name file, line and field", () => {
  it("unknown key", () => {
    const e = problemsOf(withLines({ 13: "        approvalsNeded: 0" }));
    expect(e.message).toBe(
      "config.yaml:13:9: profileTemplates[0].policies.enroll.approvalsNeded: unknown key (did you mean approvalsNeeded?)",
    );
    expect(e.problems[0]).toMatchObject({ line: 13, column: 9, path: "profileTemplates[0].policies.enroll.approvalsNeded" });
  });

  it("unknown policy name", () => {
    const e = problemsOf(withLines({ 12: "      enrol:" }));
    expect(e.message).toContain("config.yaml:12:7: profileTemplates[0].policies.enrol: unknown key (did you mean enroll?)");
  });

  it("wrong type", () => {
    const e = problemsOf(withLines({ 13: "        approvalsNeeded: -1" }));
    expect(e.message).toBe("config.yaml:13:9: profileTemplates[0].policies.enroll.approvalsNeeded: must be an integer from 0 to 100 (got -1)");
    const e2 = problemsOf(withLines({ 13: "        approvalsNeeded: two" }));
    expect(e2.message).toContain("config.yaml:13:9: profileTemplates[0].policies.enroll.approvalsNeeded: must be an integer");
    const e3 = problemsOf(withLines({ 7: "    kind: card" }));
    expect(e3.message).toBe(
      'config.yaml:7:5: profileTemplates[0].kind: must be one of smartcard, virtualSmartcard, software (got "card")',
    );
    const e4 = problemsOf("server:\n  insecureHttp: yes\n");
    expect(e4.message).toBe('config.yaml:2:3: server.insecureHttp: must be true or false (got "yes")');
  });

  it("bad admin key hex, without echoing the key", () => {
    const e = problemsOf(withLines({ 10: '      defaultAdminKeyHex: "0102030405060708010203040506070801020304050607"' }));
    expect(e.message).toBe(
      "config.yaml:10:7: profileTemplates[0].smartcard.defaultAdminKeyHex: must be 48 hex digits (the 24-byte 3DES admin key new cards carry)",
    );
    const e2 = problemsOf(withLines({ 10: '      defaultAdminKeyHex: "01020304050607080102030405060708010203040506070G"' }));
    expect(e2.message).toContain("config.yaml:10:7: profileTemplates[0].smartcard.defaultAdminKeyHex: must be 48 hex digits");
    expect(e2.message).not.toContain("070G");
  });

  it("unknown certificate template reference", () => {
    const e = problemsOf(withLines({ 8: "    certificateTemplates: [VPN, Logon]" }));
    expect(e.message).toBe(
      'config.yaml:8:33: profileTemplates[0].certificateTemplates[1]: unknown certificate template "Logon"; defined: VPN',
    );
  });

  it("duplicate uuid, in any case", () => {
    const e = problemsOf(
      withLines({}, [
        "  - name: VSC 2",
        "    uuid: 97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
        "    kind: virtualSmartcard",
        "    certificateTemplates: [VPN]",
        "    smartcard:",
        '      defaultAdminKeyHex: "010203040506070801020304050607080102030405060708"',
      ]),
    );
    expect(e.message).toBe(
      'config.yaml:16:5: profileTemplates[1].uuid: duplicate profile template uuid "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1" (first at line 6)',
    );
  });

  it("duplicate names", () => {
    const e = problemsOf(withLines({}, ["  - name: vsc", "    uuid: 3e8f2a61-7b4c-4d19-a5e0-6c2b9f1d8a47", "    kind: virtualSmartcard", "    certificateTemplates: [VPN]", "    smartcard:", '      defaultAdminKeyHex: "010203040506070801020304050607080102030405060708"']));
    expect(e.message).toContain('config.yaml:15:5: profileTemplates[1].name: duplicate profile template name "vsc" (first at line 5)');
  });

  it("bad principal", () => {
    const e = problemsOf(withLines({ 14: "        authorizedInitiator: [group:cm-users, cm-agents]" }));
    expect(e.message).toBe(
      'config.yaml:14:47: profileTemplates[0].policies.enroll.authorizedInitiator[1]: must be a principal "user:NAME" or "group:NAME" (got "cm-agents")',
    );
    const e2 = problemsOf('roles:\n  admin:\n    - "user:"\n');
    expect(e2.message).toBe('config.yaml:3:7: roles.admin[0]: must be a principal "user:NAME" or "group:NAME" (got "user:")');
    const e3 = problemsOf("roles:\n  auditor: [group:a, group: b]\n");
    expect(e3.message).toBe(
      'config.yaml:2:22: roles.auditor[1]: must be a principal "user:NAME" or "group:NAME" (got the mapping "group: b": remove the space after the colon or quote the value)',
    );
  });

  it("missing required field points at its parent", () => {
    const e = problemsOf(withLines({ 6: "    description: no uuid" }));
    expect(e.message).toBe("config.yaml:5:5: profileTemplates[0].uuid: is required");
  });

  it("reports every problem, one line each, in file order", () => {
    const e = problemsOf(withLines({ 3: "    keySize: 1024", 13: "        approvalsNeeded: 2", 14: "        authorizedInitiator: [root]" }, ["serverr: {}"]));
    expect(e.message.split("\n")).toEqual([
      "config.yaml:14:31: profileTemplates[0].policies.enroll.authorizedInitiator[0]: must be a principal \"user:NAME\" or \"group:NAME\" (got \"root\")",
      "config.yaml:15:1: serverr: unknown key (did you mean server?)",
    ]);
    // Cross-checks run once the shape is right, and are all reported too.
    const e2 = problemsOf(withLines({ 3: "    keySize: 1024", 13: "        approvalsNeeded: 2" }));
    expect(e2.message.split("\n")).toEqual([
      "config.yaml:3:5: certificateTemplates[0].keySize: must be 2048, 3072 or 4096 for keyAlgorithm RSA (got 1024)",
      "config.yaml:13:9: profileTemplates[0].policies.enroll.approvalsNeeded: is 2 but authorizedApprover is empty, so no request could ever be approved",
    ]);
  });

  it("YAML syntax error gives file:line", () => {
    const e = problemsOf("server:\n  listen: [127.0.0.1:8080\ndatabase: x\n", "broken.yaml");
    expect(e.message).toMatch(/^broken\.yaml:\d+:\d+: YAML syntax error: /);
    expect(e.problems[0]!.line).toBeGreaterThanOrEqual(2);
    const dup = problemsOf("server:\n  listen: a:1\n  listen: b:2\n", "dup.yaml");
    expect(dup.message).toMatch(/^dup\.yaml:3:3: YAML syntax error: .*unique/);
    const alias = problemsOf("roles:\n  admin: *admins\n", "alias.yaml");
    expect(alias.message).toBe("alias.yaml:2:10: YAML error: *admins refers to no &admins written before it");
  });

  it("the file must be a mapping", () => {
    expect(problemsOf("- a\n- b\n").message).toBe("config.yaml:1:1: (root): the file must be a mapping of settings (key: value lines)");
  });

  it("unknown EKU name", () => {
    const e = problemsOf(withLines({ 3: "    extendedKeyUsages: [clientAuth, clientAuthentication]" }));
    expect(e.message).toContain('config.yaml:3:37: certificateTemplates[0].extendedKeyUsages[1]: unknown extended key usage "clientAuthentication"');
  });

  it("smartcard kinds need smartcard config; software takes only server-keyed templates", () => {
    const e = problemsOf(withLines({ 9: "    description: x", 10: "    temporaryValidityDays: 3" }));
    expect(e.message).toBe("config.yaml:5:5: profileTemplates[0].smartcard: is required for kind virtualSmartcard (at least defaultAdminKeyHex)");
    const e2 = problemsOf(withLines({ 7: "    kind: software", 9: "    description: x", 10: "    temporaryValidityDays: 3" }));
    expect(e2.message).toBe(
      'config.yaml:8:28: profileTemplates[0].certificateTemplates[0]: "VPN" has client-generated keys; a software profile can only hold templates with serverGeneratesKey: true',
    );
  });

  it("keySize must match the curve", () => {
    const e = problemsOf(withLines({ 3: "    keyAlgorithm: ECDSA_P256\n    keySize: 384" }));
    expect(e.message).toBe("config.yaml:4:5: certificateTemplates[0].keySize: must be 256 for keyAlgorithm ECDSA_P256 (got 384)");
  });

  it("data item regexes must compile", () => {
    const e = problemsOf(withLines({}, ["        dataCollection:", "          - name: Employee ID", '            regex: "[0-9"']));
    expect(e.message).toMatch(/^config\.yaml:17:13: profileTemplates\[0\]\.policies\.enroll\.dataCollection\[0\]\.regex: is not a valid regular expression/);
  });

  it("temporaryEnroll and temporaryCards together", () => {
    const e = problemsOf(withLines({}, ["      temporaryEnroll:", "      temporaryCards:"]));
    expect(e.message).toContain("config.yaml:16:7: profileTemplates[0].policies.temporaryCards: temporaryEnroll and temporaryCards are the same policy");
  });

  it("positions inside a merged anchor point at the anchored text", () => {
    const e = problemsOf(
      withLines({}, ["      renew: &p", "        authorizedHelpdesk: [group:x]", "      unblock:", "        <<: *p", "        approvalsNeeded: x"]),
    );
    expect(e.message).toContain("config.yaml:19:9: profileTemplates[0].policies.unblock.approvalsNeeded: must be an integer");
  });

  it("a missing file is a ConfigError naming it", () => {
    expect(() => loadConfigFile("/nonexistent/openclm.yaml")).toThrow(/^\/nonexistent\/openclm\.yaml:1:1: cannot read configuration: file not found$/);
  });
});

describe("example configuration", () => {
  it("loads", () => {
    const c = loadConfigFile(EXAMPLE);
    expect(c.database.startsWith("postgres://")).toBe(true);
    expect(c.users).toEqual([]);
    expect(c.auth.oidc).toBeUndefined();
    expect(c.server.tls).toEqual({ certFile: "/etc/openclm/tls/server.crt", keyFile: "/etc/openclm/tls/server.key" });
    expect(c.profileTemplates[0]!.policies.Renew?.enabled).toBe(true);
  });

  it("loads with its OIDC section switched on", () => {
    const text = readFileSync(EXAMPLE, "utf8").replace(/^  # (oidc:| +\w+:)/gm, "  $1");
    const c = parseConfig(text, "example-oidc.yaml");
    expect(c.auth.oidc).toEqual({
      issuer: "https://login.example.com/realms/corp",
      audience: "openclm",
      jwksUrl: "https://login.example.com/realms/corp/protocol/openid-connect/certs",
      userClaim: "preferred_username",
      groupsClaim: "groups",
      clockSkewSeconds: 60,
      portal: {
        clientId: "openclm-portal",
        clientSecretEnv: "OPENCLM_OIDC_CLIENT_SECRET",
        clientAuthMethod: "client_secret_basic",
        authorizationEndpoint: "https://login.example.com/realms/corp/protocol/openid-connect/auth",
        tokenEndpoint: "https://login.example.com/realms/corp/protocol/openid-connect/token",
        scopes: "openid profile email",
      },
    });
  });
});

describe("single sign-on configuration", () => {
  const oidc = (portal: string[]) =>
    [
      "auth:",
      "  oidc:",
      '    issuer: "https://login.example.com/realms/corp"',
      "    audience: openclm",
      '    jwksUrl: "https://login.example.com/certs"',
      "    portal:",
      ...portal.map((l) => `      ${l}`),
    ].join("\n") + "\n";
  const endpoints = ['authorizationEndpoint: "https://login.example.com/auth"', 'tokenEndpoint: "https://login.example.com/token"'];

  it("fills in the defaults: a public client asking for openid profile, back at publicBaseUrl", () => {
    expect(parseConfig(oidc(["clientId: portal", ...endpoints]), "sso.yaml").auth.oidc!.portal).toEqual({
      clientId: "portal",
      clientAuthMethod: "client_secret_basic",
      authorizationEndpoint: "https://login.example.com/auth",
      tokenEndpoint: "https://login.example.com/token",
      scopes: "openid profile",
    });
  });

  it("refuses scopes without openid, a secret in place of a variable name (without echoing it), and typos", () => {
    const e = problemsOf(oidc(["clientId: portal", ...endpoints, "scopes: profile email", "clientSecretEnv: s3cr3t-value!", "clientAuthMethod: private_key_jwt", "clientSecret: nope"]));
    expect(e.message.split("\n")).toEqual([
      'config.yaml:10:7: auth.oidc.portal.scopes: must be space-separated scopes including "openid" (got "profile email")',
      "config.yaml:11:7: auth.oidc.portal.clientSecretEnv: must be an environment variable name such as OPENCLM_OIDC_CLIENT_SECRET",
      "config.yaml:12:7: auth.oidc.portal.clientAuthMethod: must be one of client_secret_basic, client_secret_post (got \"private_key_jwt\")",
      "config.yaml:13:7: auth.oidc.portal.clientSecret: unknown key; expected one of clientId, clientSecretEnv, clientAuthMethod, authorizationEndpoint, tokenEndpoint, scopes, redirectUri",
    ]);
  });

  it("refuses plain-http endpoints off loopback and fragments; loopback may use http", () => {
    const e = problemsOf(
      oidc([
        "clientId: portal",
        'authorizationEndpoint: "http://login.example.com/auth"',
        'tokenEndpoint: "https://login.example.com/token#x"',
        'redirectUri: "http://clm.example.com/portal/api/oidc/callback"',
      ]),
    );
    expect(e.message.split("\n")).toEqual([
      "config.yaml:8:7: auth.oidc.portal.authorizationEndpoint: must be an https URL (plain http only on loopback; got http://login.example.com)",
      "config.yaml:9:7: auth.oidc.portal.tokenEndpoint: must not have a #fragment",
      "config.yaml:10:7: auth.oidc.portal.redirectUri: must be an https URL (plain http only on loopback; got http://clm.example.com)",
    ]);
    const loop = parseConfig(oidc(["clientId: portal", 'authorizationEndpoint: "http://127.0.0.1:8081/auth"', 'tokenEndpoint: "http://localhost:8081/token"']), "loop.yaml");
    expect(loop.auth.oidc!.portal!.tokenEndpoint).toBe("http://localhost:8081/token");
  });
});

describe("robustness", () => {
  it("a damaged demo file only ever gives ConfigErrors with positions", () => {
    const lines = readFileSync(fileURLToPath(new URL("../../config/demo.yaml", import.meta.url)), "utf8").split("\n");
    const junk = ["", "  x: 1", "- a", "foo: [", "  policies: []", "      enroll: 5", "    smartcard: 3", "  - 7", "*nope", "&a b", "    uuid: {}", "  - name:", "profileTemplates: {}", "users: x", "roles: [1]", "null", "~"];
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let k = 0; k < 300; k++) {
      const l = [...lines];
      for (let m = 0; m <= rnd(3); m++) {
        const i = rnd(l.length);
        const op = rnd(3);
        if (op === 0) l.splice(i, 1);
        else if (op === 1) l.splice(i, 0, junk[rnd(junk.length)]!);
        else l[i] = l[i]!.replace(/: .*/, `: ${junk[rnd(junk.length)]!}`);
      }
      try {
        parseConfig(l.join("\n"), "f.yaml");
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        for (const line of (e as Error).message.split("\n")) expect(line).toMatch(/^f\.yaml:\d+:\d+: \S/);
      }
    }
  });
});
