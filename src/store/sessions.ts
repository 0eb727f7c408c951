// Portal sessions and the states of finished single sign-ons, in the database so that every server
// process sees the same ones. Rows are keyed by hashes of the browser's secrets (http/session.ts,
// http/oidc-login.ts): the table alone lets nobody act as a user.
import type { Kysely, Selectable } from "kysely";
import type { Database, PortalSessionsTable, UsersTable } from "./schema.js";

export type PortalSessionRow = Selectable<PortalSessionsTable>;

export interface SessionWithUser {
  session: PortalSessionRow;
  user: Selectable<UsersTable>;
}

export class SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: PortalSessionRow): Promise<void> {
    await this.db.insertInto("portal_sessions").values(row).execute();
  }

  /** The session and its user in one round trip: every portal request asks this. */
  async withUser(id: string): Promise<SessionWithUser | undefined> {
    const row = await this.db
      .selectFrom("portal_sessions as s")
      .innerJoin("users as u", "u.uuid", "s.user_uuid")
      .selectAll("u")
      .select([
        "s.id as s_id",
        "s.method as s_method",
        "s.idp_groups as s_idp_groups",
        "s.created_at as s_created_at",
        "s.last_seen_at as s_last_seen_at",
        "s.expires_at as s_expires_at",
      ])
      .where("s.id", "=", id)
      .executeTakeFirst();
    if (!row) return undefined;
    const { s_id, s_method, s_idp_groups, s_created_at, s_last_seen_at, s_expires_at, ...user } = row;
    return {
      session: {
        id: s_id,
        user_uuid: user.uuid,
        method: s_method,
        idp_groups: s_idp_groups,
        created_at: s_created_at,
        last_seen_at: s_last_seen_at,
        expires_at: s_expires_at,
      },
      user,
    };
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable("portal_sessions").set({ last_seen_at: at }).where("id", "=", id).execute();
  }

  /** True when there was such a session. */
  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom("portal_sessions").where("id", "=", id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Drops a user's oldest sessions beyond `keep`. */
  async trimUser(userUuid: string, keep: number): Promise<void> {
    const old = await this.db
      .selectFrom("portal_sessions")
      .select("id")
      .where("user_uuid", "=", userUuid)
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(1000)
      .offset(keep)
      .execute();
    if (old.length)
      await this.db
        .deleteFrom("portal_sessions")
        .where(
          "id",
          "in",
          old.map((r) => r.id),
        )
        .execute();
  }

  /** Deletes sessions past their absolute end or idle since before `idleBefore`, and used states past their expiry. */
  async sweep(now: string, idleBefore: string): Promise<void> {
    await this.db
      .deleteFrom("portal_sessions")
      .where((eb) => eb.or([eb("expires_at", "<=", now), eb("last_seen_at", "<", idleBefore)]))
      .execute();
    await this.db.deleteFrom("oidc_used_states").where("expires_at", "<", now).execute();
  }

  /**
   * Records a sign-on's state as used: true the first time, false ever after, in every process
   * (the primary key decides between two processes receiving the same callback at once). Kept
   * until the state would have expired anyway.
   */
  async useLoginState(stateHash: string, usedAt: string, expiresAt: string): Promise<boolean> {
    const r = await this.db
      .insertInto("oidc_used_states")
      .values({ state_hash: stateHash, used_at: usedAt, expires_at: expiresAt })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }
}
