// The YAML form of the configuration. Keys mirror OpenClmConfig (types.ts) in camelCase; almost
// everything has a default so a small file is enough, and every object rejects unknown keys so a
// typo is an error instead of a silently ignored setting.
//
// Fields with a default are declared with Def(): optional when validating what the operator
// wrote, but required in the Static type, because the loader applies the defaults
// (Value.Default) before anyone reads the value. Fields that stay optional after loading, or
// whose default depends on another field, use Type.Optional and are resolved by the loader.
//
// Two non-standard schema keywords feed the loader's messages: `expect` says in words what a
// value must look like (instead of echoing a regular expression at the operator), `secret` keeps
// the offending value out of the message.
import { Type, type Static, type TLiteral, type TObject, type TOptional, type TSchema, type TUnion } from "@sinclair/typebox";
import { UserPinOption, WorkflowTypes, type UserPinOptionName, type WorkflowType } from "../domain/enums.js";

function Def<T extends TSchema>(schema: T, value: Static<T>): T {
  return Type.Optional({ ...schema, default: value }) as unknown as T;
}

/** An object that may be left out; its own fields' defaults then fill it in. */
function DefObj<T extends TObject>(schema: T): T {
  return Type.Optional({ ...schema, default: {} }) as unknown as T;
}

function OneOf<const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<TLiteral<T[number]>[]>;
}

function Strict<P extends Record<string, TSchema>>(properties: P): TObject<P> {
  return Type.Object(properties, { additionalProperties: false });
}

/** No leading or trailing white space, not empty: names that are compared and displayed. */
const TRIMMED = "^\\S(.*\\S)?$";

export const PRINCIPAL_PATTERN = /^(user|group):\S(.*\S)?$/;

const Principal = Type.String({
  pattern: PRINCIPAL_PATTERN.source,
  expect: 'a principal "user:NAME" or "group:NAME"',
});
const principals = () => Def(Type.Array(Principal, { uniqueItems: true }), []);

export const GUID_PATTERN = /^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$/;

export const DataCollectionItemSchema = Strict({
  name: Type.String({ pattern: TRIMMED, maxLength: 128, expect: "a non-empty name without surrounding spaces" }),
  description: Def(Type.String(), ""),
  required: Def(Type.Boolean(), false),
  type: Def(Type.Literal("string"), "string"),
  regex: Type.Optional(Type.String({ minLength: 1 })),
  minLength: Def(Type.Integer({ minimum: 0, maximum: 65536 }), 0),
  maxLength: Def(Type.Integer({ minimum: 1, maximum: 65536 }), 256),
});

export const PolicySchema = Strict({
  // A policy written in the file is meant to be used; `enabled: false` keeps it written down
  // but switched off.
  enabled: Def(Type.Boolean(), true),
  selfServiceEnabled: Def(Type.Boolean(), true),
  approvalsNeeded: Def(Type.Integer({ minimum: 0, maximum: 100 }), 0),
  authorizedInitiator: principals(),
  authorizedApprover: principals(),
  authorizedEnrollmentAgent: principals(),
  authorizedHelpdesk: principals(),
  enrollAgentRequired: Def(Type.Boolean(), false),
  collectComments: Def(Type.Boolean(), false),
  collectRequestPriority: Def(Type.Boolean(), false),
  defaultRequestPriority: Def(Type.Integer({ minimum: 0, maximum: 255 }), 5),
  oneTimePasswordPolicy: Def(Type.String(), ""),
  personalization: Def(Type.String(), ""),
  documents: Def(Type.Array(Type.String()), []),
  dataCollection: Def(Type.Array(DataCollectionItemSchema), []),
});

type PolicyKey = Uncapitalize<WorkflowType> | "temporaryCards";

/** YAML policy key → workflow type. `temporaryCards` is the API's alias of TemporaryEnroll. */
export const POLICY_KEYS: Readonly<Record<PolicyKey, WorkflowType>> = {
  ...(Object.fromEntries(WorkflowTypes.map((t) => [t[0]!.toLowerCase() + t.slice(1), t])) as Record<
    Uncapitalize<WorkflowType>,
    WorkflowType
  >),
  temporaryCards: "TemporaryEnroll",
};

export const PoliciesSchema = Strict(
  Object.fromEntries(Object.keys(POLICY_KEYS).map((k) => [k, Type.Optional(PolicySchema)])) as Record<
    PolicyKey,
    TOptional<typeof PolicySchema>
  >,
);

const pinPolicy = () =>
  DefObj(
    Strict({
      // 4 is the smallest PIN any card middleware accepts, 127 the largest a minidriver takes.
      minLength: Def(Type.Integer({ minimum: 4, maximum: 127 }), 6),
      maxLength: Def(Type.Integer({ minimum: 4, maximum: 127 }), 127),
      characterSet: Def(OneOf(["numeric", "alphanumeric", "any"] as const), "any"),
      maxAttempts: Def(Type.Integer({ minimum: 1, maximum: 255 }), 3),
    }),
  );

export const SmartcardConfigSchema = Strict({
  defaultAdminKeyHex: Type.String({
    pattern: "^[0-9A-Fa-f]{48}$",
    expect: "48 hex digits (the 24-byte 3DES admin key new cards carry)",
    secret: true,
  }),
  diversifyAdminKey: Def(Type.Boolean(), true),
  userPinOption: Def(OneOf(Object.keys(UserPinOption) as UserPinOptionName[]), "UserProvided"),
  userPinPolicy: pinPolicy(),
  adminPinPolicy: pinPolicy(),
  // Defaults to whether the template's kind is virtualSmartcard.
  createVirtualSmartcard: Type.Optional(Type.Boolean()),
  maximumNumberOfCertificates: Def(Type.Integer({ minimum: 1, maximum: 255 }), 10),
  certificateLabel: Def(Type.String(), ""),
  allowSmartcardReuse: Def(Type.Boolean(), false),
  cardInitializationType: Def(Type.String({ minLength: 1 }), "Standard"),
  reuseCardOnRenew: Def(Type.Boolean(), true),
  doNotInstallCaCertificates: Def(Type.Boolean(), false),
  maxResponsesPerRequest: Def(Type.Integer({ minimum: 1, maximum: 1000 }), 16),
});

export const CertificateTemplateSchema = Strict({
  name: Type.String({ pattern: TRIMMED, maxLength: 128, expect: "a non-empty name without surrounding spaces" }),
  friendlyName: Def(Type.String(), ""),
  keyAlgorithm: Def(OneOf(["RSA", "ECDSA_P256", "ECDSA_P384"] as const), "RSA"),
  // Defaults from keyAlgorithm: 2048 for RSA, the curve size for ECDSA.
  keySize: Type.Optional(Type.Integer()),
  hashAlgorithms: Def(
    Type.Array(OneOf(["SHA1", "SHA256", "SHA384", "SHA512"] as const), { minItems: 1, uniqueItems: true }),
    ["SHA256"],
  ),
  keyUsages: Def(
    Type.Integer({
      minimum: 1,
      maximum: 0xffffff,
      expect: "a key usage mask: a sum of 1 (decryption), 2 (signing), 4 (key agreement), or 16777215 (all)",
    }),
    3,
  ),
  // Names from eku.ts or dotted OIDs; the loader stores OIDs.
  extendedKeyUsages: Def(Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true }), []),
  subject: Def(Type.String(), "CN={displayName}"),
  subjectAltNames: Def(Type.Array(OneOf(["email", "upn"] as const), { uniqueItems: true }), []),
  validityDays: Def(Type.Integer({ minimum: 1, maximum: 36500 }), 365),
  keyStorageProviders: Def(Type.Array(Type.String({ minLength: 1 })), ["Microsoft Smart Card Key Storage Provider"]),
  exportable: Def(Type.Boolean(), false),
  keyProtectionLevel: Def(Type.Integer({ minimum: 0, maximum: 3 }), 0),
  serverGeneratesKey: Def(Type.Boolean(), false),
  archiveKey: Def(Type.Boolean(), false),
});

export const ProfileTemplateSchema = Strict({
  uuid: Type.String({
    pattern: GUID_PATTERN.source,
    expect: "a GUID such as 97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
  }),
  name: Type.String({ pattern: TRIMMED, maxLength: 256, expect: "a non-empty name without surrounding spaces" }),
  description: Def(Type.String(), ""),
  kind: OneOf(["smartcard", "virtualSmartcard", "software"] as const),
  certificateTemplates: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true }),
  smartcard: Type.Optional(SmartcardConfigSchema),
  temporaryValidityDays: Def(Type.Integer({ minimum: 1, maximum: 3650 }), 7),
  policies: DefObj(PoliciesSchema),
});

export const UserSeedSchema = Strict({
  name: Type.String({ pattern: TRIMMED, maxLength: 256, expect: "a non-empty user name without surrounding spaces" }),
  password: Type.String({ minLength: 1, secret: true }),
  // Defaults to name.
  displayName: Type.Optional(Type.String()),
  email: Def(Type.String(), ""),
  upn: Def(Type.String(), ""),
  groups: Def(
    Type.Array(Type.String({ pattern: TRIMMED, expect: "a group name without surrounding spaces" }), {
      uniqueItems: true,
    }),
    [],
  ),
});

const CA_KEY_TYPES = ["rsa2048", "rsa3072", "rsa4096", "p256", "p384"] as const;

const caKey = (keyType: (typeof CA_KEY_TYPES)[number], validityDays: number, subject: string) =>
  DefObj(
    Strict({
      keyType: Def(OneOf(CA_KEY_TYPES), keyType),
      validityDays: Def(Type.Integer({ minimum: 1, maximum: 36500 }), validityDays),
      subject: Def(Type.String({ minLength: 1 }), subject),
    }),
  );

export const OidcPortalSchema = Strict({
  clientId: Type.String({ minLength: 1, maxLength: 256 }),
  // The name of an environment variable, never the secret: configuration files get copied around.
  // `secret`: whoever writes the secret itself here must not find it echoed in the error.
  clientSecretEnv: Type.Optional(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$", expect: "an environment variable name such as OPENCLM_OIDC_CLIENT_SECRET", secret: true })),
  clientAuthMethod: Def(OneOf(["client_secret_basic", "client_secret_post"] as const), "client_secret_basic"),
  authorizationEndpoint: Type.String({ minLength: 1 }),
  tokenEndpoint: Type.String({ minLength: 1 }),
  scopes: Def(Type.String({ pattern: "(^|\\s)openid(\\s|$)", maxLength: 1024, expect: 'space-separated scopes including "openid"' }), "openid profile"),
  redirectUri: Type.Optional(Type.String({ minLength: 1 })),
});

export const OidcSchema = Strict({
  issuer: Type.String({ minLength: 1 }),
  audience: Type.String({ minLength: 1 }),
  jwksUrl: Type.String({ minLength: 1 }),
  // preferred_username rather than sub: principals name users by a readable name.
  userClaim: Def(Type.String({ minLength: 1 }), "preferred_username"),
  groupsClaim: Def(Type.String({ minLength: 1 }), "groups"),
  clockSkewSeconds: Def(Type.Integer({ minimum: 0, maximum: 600 }), 60),
  portal: Type.Optional(OidcPortalSchema),
});

export const ConfigSchema = Strict({
  server: DefObj(
    Strict({
      listen: Def(
        Type.String({
          pattern: "^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$",
          expect: 'HOST:PORT, e.g. "127.0.0.1:8080" or "[::1]:8443"',
        }),
        "127.0.0.1:8080",
      ),
      publicBaseUrl: Type.Optional(Type.String({ minLength: 1 })),
      insecureHttp: Def(Type.Boolean(), false),
      // Either certFile + keyFile, or `self: true` for a certificate issued by the own CA.
      tls: Type.Optional(
        Strict({
          certFile: Type.Optional(Type.String({ minLength: 1 })),
          keyFile: Type.Optional(Type.String({ minLength: 1 })),
          self: Type.Optional(Type.Boolean()),
        }),
      ),
      bodyLimitBytes: Def(Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024 }), 1048576),
      metricsPublic: Def(Type.Boolean(), true),
    }),
  ),
  database: Def(
    Type.String({
      pattern: "^(sqlite:.+|postgres(ql)?://.+)$",
      expect: '"sqlite:<path>" or "postgres://…"',
    }),
    "sqlite:openclm.db",
  ),
  ca: DefObj(
    Strict({
      root: caKey("rsa3072", 7300, "CN=OpenCLM Root CA,O=OpenCLM"),
      issuing: caKey("rsa2048", 3650, "CN=OpenCLM Issuing CA,O=OpenCLM"),
      crlValidityHours: Def(Type.Integer({ minimum: 1, maximum: 8760 }), 24),
      crlRefreshMinutes: Def(Type.Integer({ minimum: 1, maximum: 525600 }), 60),
    }),
  ),
  keyEncryptionKey: DefObj(
    Strict({
      env: Def(Type.String(), "OPENCLM_KEK"),
      file: Def(Type.String(), "kek.key"),
    }),
  ),
  auth: DefObj(
    Strict({
      basic: DefObj(
        Strict({
          enabled: Def(Type.Boolean(), true),
          cacheTtlSeconds: Def(Type.Integer({ minimum: 0, maximum: 3600 }), 60),
        }),
      ),
      oidc: Type.Optional(OidcSchema),
      rateLimit: DefObj(
        Strict({
          maxFailures: Def(Type.Integer({ minimum: 1, maximum: 100000 }), 10),
          windowSeconds: Def(Type.Integer({ minimum: 1, maximum: 86400 }), 60),
        }),
      ),
    }),
  ),
  roles: DefObj(Strict({ admin: principals(), auditor: principals() })),
  users: Def(Type.Array(UserSeedSchema), []),
  certificateTemplates: Def(Type.Array(CertificateTemplateSchema), []),
  profileTemplates: Def(Type.Array(ProfileTemplateSchema), []),
});

/** The configuration as written, after defaults: what the loader converts to OpenClmConfig. */
export type ConfigYaml = Static<typeof ConfigSchema>;
export type PolicyYaml = Static<typeof PolicySchema>;
export type ProfileTemplateYaml = Static<typeof ProfileTemplateSchema>;
export type CertificateTemplateYaml = Static<typeof CertificateTemplateSchema>;
export type SmartcardConfigYaml = Static<typeof SmartcardConfigSchema>;
