// One set of migrations for both engines; the only difference is the binary and
// auto-increment column types, passed in by the engine.
import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { DIRECTORY_CHANNEL } from "./pg-change-listener.js";
import { DIRECTORY_VERSION, REQUIRED_CHANGE_MISSING } from "./store.js";

export interface EngineTypes {
  blob: "blob" | "bytea";
  engine: "sqlite" | "postgres";
}

function initial(t: EngineTypes): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("users")
        .addColumn("uuid", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("display_name", "text", (c) => c.notNull())
        .addColumn("email", "text", (c) => c.notNull())
        .addColumn("upn", "text", (c) => c.notNull())
        .addColumn("password_hash", "text")
        .addColumn("disabled", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("user_groups")
        .addColumn("user_uuid", "text", (c) => c.notNull())
        .addColumn("group_name", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("user_groups_pk", ["user_uuid", "group_name"])
        .execute();
      await db.schema
        .createTable("profile_templates")
        .addColumn("uuid", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("definition", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("profile_templates_pk", ["uuid", "version"])
        .execute();
      await db.schema
        .createTable("master_secrets")
        .addColumn("template_uuid", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("sealed", t.blob, (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("master_secrets_pk", ["template_uuid", "version"])
        .execute();
      await db.schema
        .createTable("requests")
        .addColumn("uuid", "text", (c) => c.primaryKey())
        .addColumn("type", "integer", (c) => c.notNull())
        .addColumn("workflow", "text", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("flags", "integer", (c) => c.notNull())
        .addColumn("data_collection", "text", (c) => c.notNull())
        .addColumn("originator_uuid", "text", (c) => c.notNull())
        .addColumn("target_uuid", "text", (c) => c.notNull())
        .addColumn("submitted_at", "text", (c) => c.notNull())
        .addColumn("completed_at", "text")
        .addColumn("new_profile_uuid", "text")
        .addColumn("old_profile_uuid", "text")
        .addColumn("new_smartcard_uuid", "text")
        .addColumn("old_smartcard_uuid", "text")
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("comment", "text", (c) => c.notNull())
        .addColumn("template_uuid", "text", (c) => c.notNull())
        .addColumn("template_version", "integer", (c) => c.notNull())
        .addColumn("approvals_needed", "integer", (c) => c.notNull())
        .addColumn("responses_released", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("new_key_version", "integer")
        .addColumn("csr_fingerprints", "text")
        .addColumn("revocation_reason", "integer")
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("requests_target").on("requests").columns(["target_uuid", "submitted_at"]).execute();
      await db.schema.createIndex("requests_originator").on("requests").columns(["originator_uuid", "submitted_at"]).execute();
      await db.schema.createIndex("requests_status").on("requests").columns(["status", "submitted_at"]).execute();
      await db.schema
        .createTable("approvals")
        .addColumn("request_uuid", "text", (c) => c.notNull())
        .addColumn("approver_uuid", "text", (c) => c.notNull())
        .addColumn("decision", "text", (c) => c.notNull())
        .addColumn("comment", "text", (c) => c.notNull())
        .addColumn("decided_at", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("approvals_pk", ["request_uuid", "approver_uuid"])
        .execute();
      await db.schema
        .createTable("smartcards")
        .addColumn("uuid", "text", (c) => c.primaryKey())
        .addColumn("card_id", "text", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("flags", "integer", (c) => c.notNull())
        .addColumn("parent_uuid", "text")
        .addColumn("primary_uuid", "text")
        .addColumn("permanent_uuid", "text")
        .addColumn("assigned_user_uuid", "text", (c) => c.notNull())
        .addColumn("template_uuid", "text", (c) => c.notNull())
        .addColumn("template_version", "integer", (c) => c.notNull())
        .addColumn("key_version", "integer")
        .addColumn("comment", "text", (c) => c.notNull())
        .addColumn("atr", "text", (c) => c.notNull())
        .addColumn("middleware", "text", (c) => c.notNull())
        .addColumn("request_uuid", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("smartcards_user").on("smartcards").columns(["assigned_user_uuid", "created_at"]).execute();
      await db.schema.createIndex("smartcards_card_id").on("smartcards").column("card_id").execute();
      // One card record per request: the bind step is idempotent and races cannot bind twice.
      await db.schema.createIndex("smartcards_request").on("smartcards").column("request_uuid").unique().execute();
      await db.schema
        .createTable("profiles")
        .addColumn("uuid", "text", (c) => c.primaryKey())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("flags", "integer", (c) => c.notNull())
        .addColumn("parent_uuid", "text")
        .addColumn("primary_uuid", "text")
        .addColumn("assigned_user_uuid", "text", (c) => c.notNull())
        .addColumn("template_uuid", "text", (c) => c.notNull())
        .addColumn("template_version", "integer", (c) => c.notNull())
        .addColumn("comment", "text", (c) => c.notNull())
        .addColumn("request_uuid", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("profiles_user").on("profiles").columns(["assigned_user_uuid", "created_at"]).execute();
      await db.schema
        .createTable("certificates")
        .addColumn("serial", "text", (c) => c.primaryKey())
        .addColumn("request_uuid", "text", (c) => c.notNull())
        .addColumn("smartcard_uuid", "text")
        .addColumn("profile_uuid", "text")
        .addColumn("user_uuid", "text", (c) => c.notNull())
        .addColumn("template_name", "text", (c) => c.notNull())
        .addColumn("der", t.blob, (c) => c.notNull())
        .addColumn("thumbprint", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("issuer", "text", (c) => c.notNull())
        .addColumn("not_before", "text", (c) => c.notNull())
        .addColumn("not_after", "text", (c) => c.notNull())
        .addColumn("status", "integer", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .addColumn("revocation_reason", "integer")
        .addColumn("archived_key", t.blob)
        .addColumn("csr_fingerprint", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("certificates_user").on("certificates").columns(["user_uuid", "created_at"]).execute();
      await db.schema.createIndex("certificates_smartcard").on("certificates").column("smartcard_uuid").execute();
      await db.schema.createIndex("certificates_profile").on("certificates").column("profile_uuid").execute();
      // At most one certificate per (request, certificate template): a double submit cannot double-issue.
      await db.schema
        .createIndex("certificates_request_template")
        .on("certificates")
        .columns(["request_uuid", "template_name"])
        .unique()
        .execute();
      await db.schema.createIndex("certificates_revoked").on("certificates").columns(["status", "revoked_at"]).execute();
      const seq =
        t.engine === "postgres"
          ? db.schema.createTable("audit_events").addColumn("seq", "bigserial", (c) => c.primaryKey())
          : db.schema.createTable("audit_events").addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement());
      await seq
        .addColumn("at", "text", (c) => c.notNull())
        .addColumn("actor_uuid", "text")
        .addColumn("actor_name", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target_type", "text", (c) => c.notNull())
        .addColumn("target_uuid", "text")
        .addColumn("request_uuid", "text")
        .addColumn("correlation_id", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("details", "text", (c) => c.notNull())
        .addColumn("prev_hash", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("audit_request").on("audit_events").column("request_uuid").execute();
      await db.schema
        .createTable("ca_keys")
        .addColumn("role", "text", (c) => c.primaryKey())
        .addColumn("cert_der", t.blob, (c) => c.notNull())
        .addColumn("sealed_key", t.blob, (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("counters")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("value", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("crls")
        .addColumn("number", "bigint", (c) => c.primaryKey())
        .addColumn("der", t.blob, (c) => c.notNull())
        .addColumn("this_update", "text", (c) => c.notNull())
        .addColumn("next_update", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("pins")
        .addColumn("smartcard_uuid", "text", (c) => c.primaryKey())
        .addColumn("sealed", t.blob, (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * Constraints that hold across server processes, and the indexes every list and lookup needs at
 * a million cards (administrators' and auditors' lists are ordered by creation across all users).
 */
function scale(t: EngineTypes): Migration {
  const statements = [
    // A card id is live (Assigned, Active, Suspended) on at most one card record: two requests
    // binding the same physical card at once cannot both win.
    "create unique index smartcards_live_card_id on smartcards (card_id) where status in (2, 3, 5)",
    "create index smartcards_permanent on smartcards (permanent_uuid) where permanent_uuid is not null",
    "create index smartcards_created on smartcards (created_at, uuid)",
    "create index profiles_request on profiles (request_uuid)",
    "create index profiles_created on profiles (created_at, uuid)",
    "create index requests_submitted on requests (submitted_at, uuid)",
    // Open requests of a credential (status Approved, Pending, Executing): few, so partial indexes.
    "create index requests_open_old_card on requests (old_smartcard_uuid) where status in (3, 16, 18)",
    "create index requests_open_new_card on requests (new_smartcard_uuid) where status in (3, 16, 18)",
    "create index requests_open_old_profile on requests (old_profile_uuid) where status in (3, 16, 18)",
    "create index requests_open_new_profile on requests (new_profile_uuid) where status in (3, 16, 18)",
    "create index certificates_created on certificates (created_at, serial)",
  ];
  return {
    async up(db: Kysely<any>) {
      // Indexing an existing large database takes longer than the pool's statement timeout;
      // the migration runs in a transaction, so this holds for it alone.
      if (t.engine === "postgres") await sql.raw("set local statement_timeout = 0").execute(db);
      for (const s of statements) await sql.raw(s).execute(db);
    },
  };
}

/**
 * Portal sessions and the states single sign-ons have used, so that any server process can serve
 * a browser signed in on another. Dates are ISO-8601 text like everywhere else, which sorts as it compares.
 */
function sessions(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("portal_sessions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("user_uuid", "text", (c) => c.notNull())
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("idp_groups", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("last_seen_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .execute();
      // A user's sessions, newest first (the per-user cap), and the two ends the sweep looks for.
      await db.schema.createIndex("portal_sessions_user").on("portal_sessions").columns(["user_uuid", "created_at"]).execute();
      await db.schema.createIndex("portal_sessions_expires").on("portal_sessions").column("expires_at").execute();
      await db.schema.createIndex("portal_sessions_last_seen").on("portal_sessions").column("last_seen_at").execute();
      await db.schema
        .createTable("oidc_used_states")
        .addColumn("state_hash", "text", (c) => c.primaryKey())
        .addColumn("used_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("oidc_used_states_expires").on("oidc_used_states").column("expires_at").execute();
    },
  };
}

/**
 * Audit records of PostgreSQL transactions wait here until they are linked into the chain, so
 * that writers no longer take turns on the chain's lock until their commit (domain/audit.ts).
 */
function auditPending(t: EngineTypes): Migration {
  return {
    async up(db: Kysely<any>) {
      const id =
        t.engine === "postgres"
          ? db.schema.createTable("audit_pending").addColumn("id", "bigserial", (c) => c.primaryKey())
          : db.schema.createTable("audit_pending").addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
      await id
        .addColumn("at", "text", (c) => c.notNull())
        .addColumn("actor_uuid", "text")
        .addColumn("actor_name", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target_type", "text", (c) => c.notNull())
        .addColumn("target_uuid", "text")
        .addColumn("request_uuid", "text")
        .addColumn("correlation_id", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("details", "text", (c) => c.notNull())
        .execute();
    },
  };
}

/**
 * Failed logins, one row per failure and key (user name or address), so that every server
 * process counts a password guess made against any of them (http/rate-limit.ts).
 */
function loginFailures(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("login_failures")
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("at", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("login_failures_key_at").on("login_failures").columns(["key", "at"]).execute();
    },
  };
}

/**
 * PostgreSQL: every change of the directory version (users and groups) is announced on the
 * DIRECTORY_CHANNEL, by any writer (a server process, the admin CLI, a script), so that each
 * server process can keep the version it read until it hears of a change instead of reading it
 * on every request (store/pg-change-listener.ts). Announced at commit, never for a rollback.
 */
function directoryNotify(t: EngineTypes): Migration {
  return {
    async up(db: Kysely<any>) {
      if (t.engine !== "postgres") return;
      await sql
        .raw(
          `create or replace function openclm_directory_changed() returns trigger language plpgsql as $$
           begin perform pg_notify('${DIRECTORY_CHANNEL}', ''); return null; end $$`,
        )
        .execute(db);
      await sql
        .raw(
          `create trigger counters_directory_changed after insert or update on counters
           for each row when (new.name = '${DIRECTORY_VERSION}') execute function openclm_directory_changed()`,
        )
        .execute(db);
    },
  };
}

/**
 * PostgreSQL: `openclm_require(ok)` fails the statement (and so its transaction) when ok is false,
 * with SQLSTATE REQUIRED_CHANGE_MISSING. A write whose success decides the rest of its transaction
 * can then be sent without waiting for its answer (its audit record and COMMIT go with it, one
 * round trip): when it changed nothing, nothing of the transaction is kept, and the caller takes
 * the slow path (Store's …Required methods, requiredFirst).
 */
function requireFunction(t: EngineTypes): Migration {
  return {
    async up(db: Kysely<any>) {
      if (t.engine !== "postgres") return;
      await sql
        .raw(
          `create or replace function openclm_require(ok boolean) returns boolean language plpgsql as $$
           begin
             if ok is not true then
               raise exception 'a change this transaction requires did not happen' using errcode = '${REQUIRED_CHANGE_MISSING}';
             end if;
             return true;
           end $$`,
        )
        .execute(db);
    },
  };
}

/**
 * The partial indexes of open requests also indexed every open request whose credential column is
 * empty (an enrollment has no old card, no profile…): four index entries written with each new
 * request and moved with each change of state, never read. Only rows with a value are indexed now.
 */
function openRequestIndexes(t: EngineTypes): Migration {
  const open = (column: string) => ({ columns: column, where: `status in (3, 16, 18) and ${column} is not null` });
  return rebuildIndexes(t, "requests", {
    requests_open_old_card: open("old_smartcard_uuid"),
    requests_open_new_card: open("new_smartcard_uuid"),
    requests_open_old_profile: open("old_profile_uuid"),
    requests_open_new_profile: open("new_profile_uuid"),
  });
}

/**
 * Certificate indexes that every issuance wrote an entry into although only some certificates have
 * a value there: a smart card's certificates have no profile, a software profile's no card, and a
 * valid certificate no revocation time. Each such entry was a page more to write per certificate;
 * only rows with a value are indexed now (every query on these columns names a value, which implies it).
 */
function certificateIndexes(t: EngineTypes): Migration {
  return rebuildIndexes(t, "certificates", {
    certificates_smartcard: { columns: "smartcard_uuid", where: "smartcard_uuid is not null" },
    certificates_profile: { columns: "profile_uuid", where: "profile_uuid is not null" },
    certificates_revoked: { columns: "status, revoked_at", where: "revoked_at is not null" },
  });
}

/** Drops existing indexes and creates them again as partial indexes (no time limit on PostgreSQL: large tables take a while). */
function rebuildIndexes(t: EngineTypes, table: string, indexes: Record<string, { columns: string; where: string }>): Migration {
  return {
    async up(db: Kysely<any>) {
      if (t.engine === "postgres") await sql.raw("set local statement_timeout = 0").execute(db);
      for (const [index, { columns, where }] of Object.entries(indexes)) {
        await sql.raw(`drop index ${index}`).execute(db);
        await sql.raw(`create index ${index} on ${table} (${columns}) where ${where}`).execute(db);
      }
    },
  };
}

export function migrationProvider(t: EngineTypes): MigrationProvider {
  return {
    async getMigrations() {
      return { "0001_initial": initial(t), "0002_scale": scale(t), "0003_audit_pending": auditPending(t), "0004_sessions": sessions(), "0005_login_failures": loginFailures(), "0006_open_request_indexes": openRequestIndexes(t), "0007_certificate_indexes": certificateIndexes(t), "0008_directory_notify": directoryNotify(t), "0009_require": requireFunction(t) };
    },
  };
}
