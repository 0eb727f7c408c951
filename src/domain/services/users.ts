// The local user directory: callers, lookups, seeding, administration (CLI and API) and the
// provisioning of users first seen through OpenID Connect. Display name, e-mail and UPN are
// what certificate subjects and SANs are made of, so they are validated here, where they enter.
// Every change is audited; passwords never are, nor do they appear in any message.
import type { Store, UserRow } from "../../store/store.js";
import type { UserSeedConfig } from "../../config/types.js";
import type { Caller } from "../caller.js";
import { recordAudit } from "../audit.js";
import { badInput, conflict, DomainError, notFound } from "../errors.js";
import { newGuid, parseGuid } from "../guid.js";
import { hashPassword } from "../../crypto/password.js";
import type { Actor } from "./context.js";

export async function callerOf(store: Store, user: UserRow): Promise<Caller> {
  return {
    uuid: user.uuid,
    name: user.name,
    displayName: user.display_name,
    email: user.email,
    upn: user.upn,
    groups: await store.groupsOf(user.uuid),
  };
}

/** A user named by uuid or by name, as the `target` field and `?targetuser=` allow. */
export async function findUser(store: Store, ref: string): Promise<UserRow | undefined> {
  const guid = parseGuid(ref);
  if (guid) return store.userByUuid(guid);
  return store.userByName(ref.trim());
}

/** Creates the configured users that do not exist yet; existing ones are left as they are. */
export async function seedUsers(store: Store, users: UserSeedConfig[]): Promise<void> {
  for (const u of users) {
    if (await store.userByName(u.name)) continue;
    const uuid = newGuid();
    const password_hash = await hashPassword(u.password);
    await store.tx(async (tx) => {
      if (await tx.userByName(u.name)) return;
      await tx.insertUser({
        uuid,
        name: u.name,
        display_name: u.displayName,
        email: u.email,
        upn: u.upn,
        password_hash,
        disabled: 0,
        source: "config",
        created_at: new Date().toISOString(),
      });
      await tx.setGroups(uuid, u.groups);
    });
  }
}

// ---- administration

/** Who changes the directory: an authenticated admin, or the operator at the server's console. */
export interface DirectoryActor {
  uuid: string | null;
  name: string;
  correlationId: string;
}

export function directoryActor(a: Actor): DirectoryActor {
  return { uuid: a.caller.uuid, name: a.caller.name, correlationId: a.correlationId };
}

export interface NewUser {
  name: string;
  displayName?: string;
  email?: string;
  upn?: string;
  groups?: string[];
  /** Omitted: the user can only sign in through OpenID Connect. */
  password?: string;
  disabled?: boolean;
}

export interface UserChanges {
  displayName?: string;
  email?: string;
  upn?: string;
  /** Replaces the memberships. */
  groups?: string[];
  addGroups?: string[];
  removeGroups?: string[];
  password?: string;
  disabled?: boolean;
}

export interface UserDetails {
  row: UserRow;
  groups: string[];
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MAILBOX = /^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+$/;
export const MIN_PASSWORD_LENGTH = 8;

export function checkUserName(name: string): string {
  if (name.length === 0 || name.length > 256 || name !== name.trim() || CONTROL.test(name))
    throw badInput("InvalidUserName", "name: 1 to 256 characters, no control characters, no surrounding spaces");
  // A GUID would be read as a user uuid wherever users are referred to by name or uuid.
  if (parseGuid(name)) throw badInput("InvalidUserName", "name: must not be a GUID");
  return name;
}

export function checkGroupName(group: string): string {
  if (group.length === 0 || group.length > 128 || group !== group.trim() || CONTROL.test(group))
    throw badInput("InvalidGroupName", "group: 1 to 128 characters, no control characters, no surrounding spaces");
  return group;
}

function checkDisplayName(v: string): string {
  if (v.length === 0 || v.length > 256 || CONTROL.test(v)) throw badInput("InvalidDisplayName", "displayName: 1 to 256 characters, no control characters");
  return v.trim();
}

/** Certificates carry e-mail and UPN as ASCII SANs: a value that cannot be encoded is refused here. */
function checkMailbox(v: string, field: "email" | "upn"): string {
  const t = v.trim();
  if (t !== "" && (t.length > 256 || !MAILBOX.test(t))) throw badInput(`Invalid${field === "email" ? "Email" : "Upn"}`, `${field}: empty, or an ASCII address such as user@example.com`);
  return t;
}

export function checkPassword(password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > 1024)
    throw badInput("WeakPassword", `password: ${MIN_PASSWORD_LENGTH} to 1024 characters`);
  return password;
}

function checkGroups(groups: string[]): string[] {
  if (groups.length > 256) throw badInput("TooManyGroups", "groups: at most 256");
  return [...new Set(groups.map(checkGroupName))].sort();
}

export async function userDetails(store: Store, ref: string): Promise<UserDetails> {
  const row = await findUser(store, ref);
  if (!row) throw notFound("user");
  return { row, groups: await store.groupsOf(row.uuid) };
}

export async function createUser(store: Store, actor: DirectoryActor, input: NewUser): Promise<UserDetails> {
  const name = checkUserName(input.name);
  const groups = checkGroups(input.groups ?? []);
  const row: UserRow = {
    uuid: newGuid(),
    name,
    display_name: checkDisplayName(input.displayName?.trim() || name),
    email: checkMailbox(input.email ?? "", "email"),
    upn: checkMailbox(input.upn ?? "", "upn"),
    password_hash: input.password === undefined ? null : await hashPassword(checkPassword(input.password)),
    disabled: input.disabled ? 1 : 0,
    source: "local",
    created_at: new Date().toISOString(),
  };
  await store.tx(async (tx) => {
    if (await tx.userByName(name)) throw conflict("UserExists", `a user named ${name} exists already`);
    await tx.insertUser(row);
    await tx.setGroups(row.uuid, groups);
    await recordAudit(tx, {
      ...auditActor(actor),
      action: "user.create",
      targetType: "user",
      targetUuid: row.uuid,
      outcome: "success",
      details: { name, groups, disabled: row.disabled === 1, password: row.password_hash !== null },
    });
  });
  return { row, groups };
}

export async function updateUser(store: Store, actor: DirectoryActor, ref: string, changes: UserChanges): Promise<UserDetails> {
  const current = await userDetails(store, ref);
  const patch: Partial<UserRow> = {};
  const changed: string[] = [];
  if (changes.displayName !== undefined) patch.display_name = checkDisplayName(changes.displayName);
  if (changes.email !== undefined) patch.email = checkMailbox(changes.email, "email");
  if (changes.upn !== undefined) patch.upn = checkMailbox(changes.upn, "upn");
  if (changes.disabled !== undefined) {
    if (changes.disabled && actor.uuid === current.row.uuid) throw conflict("CannotDisableSelf", "you cannot disable your own account");
    patch.disabled = changes.disabled ? 1 : 0;
  }
  if (changes.password !== undefined) patch.password_hash = await hashPassword(checkPassword(changes.password));
  for (const [k, v] of Object.entries(patch)) if (v !== (current.row as unknown as Record<string, unknown>)[k]) changed.push(k === "password_hash" ? "password" : k);

  let groups = current.groups;
  if (changes.groups !== undefined) groups = checkGroups(changes.groups);
  if (changes.addGroups?.length) groups = checkGroups([...groups, ...changes.addGroups]);
  if (changes.removeGroups?.length) {
    const remove = new Set(changes.removeGroups.map(checkGroupName));
    groups = groups.filter((g) => !remove.has(g));
  }
  const groupsChanged = groups.join("\n") !== current.groups.join("\n");
  if (groupsChanged) changed.push("groups");
  if (changed.length === 0) return current;

  await store.tx(async (tx) => {
    if (Object.keys(patch).length) await tx.updateUser(current.row.uuid, patch);
    if (groupsChanged) await tx.setGroups(current.row.uuid, groups);
    await recordAudit(tx, {
      ...auditActor(actor),
      action: changed.includes("disabled") ? (patch.disabled === 1 ? "user.disable" : "user.enable") : "user.update",
      targetType: "user",
      targetUuid: current.row.uuid,
      outcome: "success",
      details: {
        name: current.row.name,
        changed,
        ...(groupsChanged ? { groups, previousGroups: current.groups } : {}),
        ...(changed.includes("disabled") ? { disabled: patch.disabled === 1 } : {}),
      },
    });
  });
  return { row: (await store.userByUuid(current.row.uuid))!, groups };
}

export async function listUsers(store: Store, q: { group?: string; top: number; skip: number }): Promise<UserDetails[]> {
  let query = store.db.selectFrom("users").selectAll("users");
  if (q.group) query = query.where("users.uuid", "in", (eb) => eb.selectFrom("user_groups").select("user_uuid").where("group_name", "=", q.group!));
  const rows = await query.orderBy("users.name").limit(q.top).offset(q.skip).execute();
  const memberships = rows.length
    ? await store.db.selectFrom("user_groups").select(["user_uuid", "group_name"]).where("user_uuid", "in", rows.map((r) => r.uuid)).execute()
    : [];
  return rows.map((row) => ({
    row,
    groups: memberships
      .filter((m) => m.user_uuid === row.uuid)
      .map((m) => m.group_name)
      .sort(),
  }));
}

export async function listGroups(store: Store): Promise<{ name: string; members: number }[]> {
  const rows = await store.db
    .selectFrom("user_groups")
    .select(["group_name"])
    .select((eb) => eb.fn.countAll<number>().as("members"))
    .groupBy("group_name")
    .orderBy("group_name")
    .execute();
  return rows.map((r) => ({ name: r.group_name, members: Number(r.members) }));
}

/** The wire and CLI form of a user: attributes and memberships, never the credential. */
export function userView(u: UserDetails) {
  return {
    Uuid: u.row.uuid,
    Name: u.row.name,
    DisplayName: u.row.display_name,
    Email: u.row.email,
    Upn: u.row.upn,
    Groups: u.groups,
    Disabled: u.row.disabled === 1,
    Source: u.row.source,
    HasPassword: u.row.password_hash !== null,
    Created: u.row.created_at,
  };
}

// ---- OpenID Connect

export interface ExternalIdentity {
  name: string;
  displayName?: string;
  email?: string;
  upn?: string;
}

/**
 * The local user for a verified token: created on first sight, its attributes kept in step with
 * the identity provider when it was provisioned from there. Undefined when the user is disabled
 * or the token's attributes cannot be used.
 */
export async function provisionExternalUser(store: Store, id: ExternalIdentity, correlationId: string): Promise<UserRow | undefined> {
  let name: string;
  try {
    name = checkUserName(id.name);
  } catch {
    return undefined;
  }
  const attrs = {
    display_name: usable(() => checkDisplayName(id.displayName ?? "")) ?? name,
    email: usable(() => checkMailbox(id.email ?? "", "email")) ?? "",
    upn: usable(() => checkMailbox(id.upn ?? "", "upn")) ?? "",
  };
  const existing = await store.userByName(name);
  if (existing) {
    if (existing.disabled) return undefined;
    if (existing.source !== "oidc") return existing;
    const stale = (Object.keys(attrs) as (keyof typeof attrs)[]).filter((k) => existing[k] !== attrs[k]);
    if (stale.length === 0) return existing;
    await store.tx(async (tx) => {
      await tx.updateUser(existing.uuid, attrs);
      await recordAudit(tx, {
        actorUuid: existing.uuid,
        actorName: name,
        action: "user.sync",
        targetType: "user",
        targetUuid: existing.uuid,
        correlationId,
        outcome: "success",
        details: { changed: stale, source: "oidc" },
      });
    });
    return { ...existing, ...attrs };
  }
  const row: UserRow = { uuid: newGuid(), name, ...attrs, password_hash: null, disabled: 0, source: "oidc", created_at: new Date().toISOString() };
  try {
    await store.tx(async (tx) => {
      await tx.insertUser(row);
      await recordAudit(tx, {
        actorUuid: row.uuid,
        actorName: name,
        action: "user.provision",
        targetType: "user",
        targetUuid: row.uuid,
        correlationId,
        outcome: "success",
        details: { source: "oidc" },
      });
    });
    return row;
  } catch (e) {
    // Two first requests of the same user at once: the other one created it.
    const raced = await store.userByName(name);
    if (raced) return raced.disabled ? undefined : raced;
    throw e;
  }
}

function usable(fn: () => string): string | undefined {
  try {
    return fn() || undefined;
  } catch (e) {
    if (e instanceof DomainError) return undefined;
    throw e;
  }
}

function auditActor(a: DirectoryActor) {
  return { actorUuid: a.uuid, actorName: a.name, correlationId: a.correlationId };
}
