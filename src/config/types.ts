// The configuration model as the rest of the server sees it, after loading, validation and
// defaults (config/schema.ts describes the YAML form; config/load.ts turns one into the other).
import type { UserPinOptionName, WorkflowType } from "../domain/enums.js";

export type KeyAlgorithmName = "RSA" | "ECDSA_P256" | "ECDSA_P384";
export type HashAlgorithmName = "SHA1" | "SHA256" | "SHA384" | "SHA512";
/** CA key types: RSA sizes or NIST curves. */
export type CaKeyType = "rsa2048" | "rsa3072" | "rsa4096" | "p256" | "p384";

/** "user:NAME" or "group:NAME": who a permission list names. */
export type Principal = string;

export interface DataCollectionItemConfig {
  name: string;
  description: string;
  required: boolean;
  type: "string";
  /** Regular expression the whole value must match (anchored by the checker). */
  regex?: string;
  minLength: number;
  maxLength: number;
}

export interface PolicyConfig {
  enabled: boolean;
  selfServiceEnabled: boolean;
  approvalsNeeded: number;
  authorizedInitiator: Principal[];
  authorizedApprover: Principal[];
  authorizedEnrollmentAgent: Principal[];
  /** Helpdesk operators (offline unblock responses, requests on behalf of users). */
  authorizedHelpdesk: Principal[];
  enrollAgentRequired: boolean;
  collectComments: boolean;
  collectRequestPriority: boolean;
  defaultRequestPriority: number;
  oneTimePasswordPolicy: string;
  personalization: string;
  documents: string[];
  dataCollection: DataCollectionItemConfig[];
}

export interface PinPolicyConfig {
  minLength: number;
  maxLength: number;
  /** "numeric" digits only, "alphanumeric" letters and digits, "any" printable ASCII. */
  characterSet: "numeric" | "alphanumeric" | "any";
  maxAttempts: number;
}

export interface SmartcardConfigConfig {
  defaultAdminKeyHex: string;
  diversifyAdminKey: boolean;
  userPinOption: UserPinOptionName;
  userPinPolicy: PinPolicyConfig;
  adminPinPolicy: PinPolicyConfig;
  createVirtualSmartcard: boolean;
  maximumNumberOfCertificates: number;
  certificateLabel: string;
  allowSmartcardReuse: boolean;
  cardInitializationType: string;
  reuseCardOnRenew: boolean;
  doNotInstallCaCertificates: boolean;
  /** Admin challenge responses released per request at most (SPEC §9). */
  maxResponsesPerRequest: number;
}

export interface CertificateTemplateConfig {
  /** TemplateCommonName on the wire. */
  name: string;
  friendlyName: string;
  keyAlgorithm: KeyAlgorithmName;
  /** RSA modulus bits; 256 or 384 for ECDSA. */
  keySize: number;
  /** CSR signature hashes accepted; the first is the one generation options advertise. */
  hashAlgorithms: HashAlgorithmName[];
  /** CM KeyUsages bit mask: 1 decryption, 2 signing, 4 key agreement. */
  keyUsages: number;
  /** Extended key usage OIDs (names such as clientAuth are resolved to OIDs by the loader). */
  extendedKeyUsages: string[];
  /** Subject DN with placeholders {name} {displayName} {email} {upn}, e.g. "CN={displayName}". */
  subject: string;
  subjectAltNames: ("email" | "upn")[];
  validityDays: number;
  keyStorageProviders: string[];
  exportable: boolean;
  keyProtectionLevel: number;
  /** The server generates the key and delivers a PFX; never listed in generation options. */
  serverGeneratesKey: boolean;
  /** Keep the private key, encrypted, for Recover (server-generated keys only). */
  archiveKey: boolean;
}

export type ProfileTemplateKind = "smartcard" | "virtualSmartcard" | "software";

export interface ProfileTemplateConfig {
  uuid: string;
  name: string;
  description: string;
  kind: ProfileTemplateKind;
  /** Names of certificate templates, in issuance order. */
  certificateTemplates: string[];
  /** Present for smartcard and virtualSmartcard kinds. */
  smartcard?: SmartcardConfigConfig;
  /** Validity of certificates on temporary cards, in days. */
  temporaryValidityDays: number;
  policies: Partial<Record<WorkflowType, PolicyConfig>>;
}

export interface UserSeedConfig {
  name: string;
  password: string;
  displayName: string;
  email: string;
  upn: string;
  groups: string[];
}

export interface CaKeyConfig {
  keyType: CaKeyType;
  validityDays: number;
  subject: string;
}

export interface OidcConfig {
  issuer: string;
  audience: string;
  jwksUrl: string;
  userClaim: string;
  groupsClaim: string;
  clockSkewSeconds: number;
  /** Portal sign-in with the authorization-code flow and PKCE; bearer tokens only when absent. */
  portal?: OidcPortalConfig;
}

export interface OidcPortalConfig {
  /** The portal's client at the provider; ID tokens must name it as their audience. */
  clientId: string;
  /** Environment variable holding the client secret; absent for a public client (PKCE only). */
  clientSecretEnv?: string;
  /** How the secret is presented at the token endpoint. */
  clientAuthMethod: "client_secret_basic" | "client_secret_post";
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** Space-separated; must include "openid". */
  scopes: string;
  /** Where the provider sends the browser back; default publicBaseUrl + /portal/api/oidc/callback. */
  redirectUri?: string;
}

export interface OpenClmConfig {
  /** Where the configuration came from, for messages. */
  source: string;
  server: {
    listen: string;
    /** Base URL written into certificates (CRL distribution point, AIA). */
    publicBaseUrl?: string;
    insecureHttp: boolean;
    tls?: { certFile: string; keyFile: string } | { self: true };
    bodyLimitBytes: number;
    metricsPublic: boolean;
  };
  /** sqlite:<path> (relative to the data dir) or postgres://… */
  database: string;
  ca: {
    root: CaKeyConfig;
    issuing: CaKeyConfig;
    crlValidityHours: number;
    crlRefreshMinutes: number;
  };
  keyEncryptionKey: { env: string; file: string };
  auth: {
    basic: { enabled: boolean; cacheTtlSeconds: number };
    oidc?: OidcConfig;
    rateLimit: { maxFailures: number; windowSeconds: number };
  };
  roles: { admin: Principal[]; auditor: Principal[] };
  /** Users created at start when they do not exist yet (the demo's). */
  users: UserSeedConfig[];
  certificateTemplates: CertificateTemplateConfig[];
  profileTemplates: ProfileTemplateConfig[];
}
