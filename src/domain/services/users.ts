// The local user directory as the services see it: callers, lookups, seeding.
import type { Store, UserRow } from "../../store/store.js";
import type { UserSeedConfig } from "../../config/types.js";
import type { Caller } from "../caller.js";
import { newGuid, parseGuid } from "../guid.js";
import { hashPassword } from "../../crypto/password.js";

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
