// Table shapes shared by both engines. Dates are ISO-8601 UTC text, booleans 0/1 integers,
// binary values Buffers (BLOB in SQLite, BYTEA in PostgreSQL), JSON as text.
import type { Generated } from "kysely";

export interface UsersTable {
  uuid: string;
  name: string;
  display_name: string;
  email: string;
  upn: string;
  password_hash: string | null;
  disabled: number;
  source: string;
  created_at: string;
}

export interface UserGroupsTable {
  user_uuid: string;
  group_name: string;
}

export interface ProfileTemplatesTable {
  uuid: string;
  version: number;
  name: string;
  hash: string;
  definition: string;
  created_at: string;
}

export interface MasterSecretsTable {
  template_uuid: string;
  version: number;
  sealed: Buffer;
  created_at: string;
}

export interface RequestsTable {
  uuid: string;
  type: number;
  /** The workflow policy the request runs under (RequestType 4 serves both Revoke and Disable). */
  workflow: string;
  status: number;
  flags: number;
  data_collection: string;
  originator_uuid: string;
  target_uuid: string;
  submitted_at: string;
  completed_at: string | null;
  new_profile_uuid: string | null;
  old_profile_uuid: string | null;
  new_smartcard_uuid: string | null;
  old_smartcard_uuid: string | null;
  priority: number;
  comment: string;
  template_uuid: string;
  template_version: number;
  approvals_needed: number;
  responses_released: number;
  /** Master secret version of the diversified key released in this request (the card moves to it on completion). */
  new_key_version: number | null;
  /** JSON array of the CSR fingerprints that were answered, for idempotent resubmission. */
  csr_fingerprints: string | null;
  revocation_reason: number | null;
  updated_at: string;
}

export interface ApprovalsTable {
  request_uuid: string;
  approver_uuid: string;
  decision: string;
  comment: string;
  decided_at: string;
}

export interface SmartcardsTable {
  uuid: string;
  card_id: string;
  status: number;
  flags: number;
  parent_uuid: string | null;
  primary_uuid: string | null;
  permanent_uuid: string | null;
  assigned_user_uuid: string;
  template_uuid: string;
  template_version: number;
  key_version: number | null;
  comment: string;
  atr: string;
  middleware: string;
  request_uuid: string;
  created_at: string;
  updated_at: string;
}

export interface ProfilesTable {
  uuid: string;
  status: number;
  flags: number;
  parent_uuid: string | null;
  primary_uuid: string | null;
  assigned_user_uuid: string;
  template_uuid: string;
  template_version: number;
  comment: string;
  request_uuid: string;
  created_at: string;
  updated_at: string;
}

export interface CertificatesTable {
  serial: string;
  request_uuid: string;
  smartcard_uuid: string | null;
  profile_uuid: string | null;
  user_uuid: string;
  template_name: string;
  der: Buffer;
  thumbprint: string;
  subject: string;
  issuer: string;
  not_before: string;
  not_after: string;
  status: number;
  revoked_at: string | null;
  revocation_reason: number | null;
  /** AES-GCM sealed PKCS#8 of a server-generated key kept for Recover. */
  archived_key: Buffer | null;
  csr_fingerprint: string | null;
  created_at: string;
}

/** What an audit record says, linked into the chain or not yet. */
export interface AuditRecordColumns {
  at: string;
  actor_uuid: string | null;
  actor_name: string;
  action: string;
  target_type: string;
  target_uuid: string | null;
  request_uuid: string | null;
  correlation_id: string;
  outcome: string;
  details: string;
}

/**
 * An audit record written with its change but not linked into the chain yet (PostgreSQL): the
 * chain is extended after the commit, in batches, under one lock (domain/audit.ts).
 */
export interface AuditPendingTable extends AuditRecordColumns {
  id: Generated<number>;
}

export interface LoginFailuresTable {
  /** `user:<name>` or `addr:<address>`. */
  key: string;
  at: string;
}

export interface AuditEventsTable extends AuditRecordColumns {
  seq: Generated<number>;
  prev_hash: string;
  hash: string;
}

export interface CaKeysTable {
  role: string;
  cert_der: Buffer;
  sealed_key: Buffer;
  created_at: string;
}

export interface CountersTable {
  name: string;
  value: number;
}

export interface CrlsTable {
  number: number;
  der: Buffer;
  this_update: string;
  next_update: string;
}

export interface PinsTable {
  smartcard_uuid: string;
  sealed: Buffer;
  created_at: string;
}

/** A portal session; the cookie value itself is never stored (see http/session.ts). */
export interface PortalSessionsTable {
  /** SHA-256 of the cookie value, base64url. */
  id: string;
  user_uuid: string;
  /** How the user signed in: "password" or "oidc". */
  method: string;
  /** JSON array of the groups the identity provider asserted at sign-in. */
  idp_groups: string;
  created_at: string;
  last_seen_at: string;
  /** The absolute end: created_at plus the session lifetime. */
  expires_at: string;
}

/** The state of a portal single sign-on that reached its callback: a state works once. */
export interface OidcUsedStatesTable {
  /** SHA-256 of the state, base64url. */
  state_hash: string;
  used_at: string;
  /** When the state would have expired anyway; the row may go then. */
  expires_at: string;
}

export interface Database {
  users: UsersTable;
  user_groups: UserGroupsTable;
  profile_templates: ProfileTemplatesTable;
  master_secrets: MasterSecretsTable;
  requests: RequestsTable;
  approvals: ApprovalsTable;
  smartcards: SmartcardsTable;
  profiles: ProfilesTable;
  certificates: CertificatesTable;
  audit_events: AuditEventsTable;
  audit_pending: AuditPendingTable;
  login_failures: LoginFailuresTable;
  ca_keys: CaKeysTable;
  counters: CountersTable;
  crls: CrlsTable;
  pins: PinsTable;
  portal_sessions: PortalSessionsTable;
  oidc_used_states: OidcUsedStatesTable;
}
