// Per-template master secrets for admin key diversification. Versioned: a card keeps the version
// its key was derived under, so adding a version never breaks cards issued before it.
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import type { Store } from "../../store/store.js";
import { open, seal } from "../../crypto/envelope.js";

const aad = (template: string, version: number) => `openclm:master-secret:${template}:${version}`;

export class MasterSecrets {
  // Each version is immutable once written, so caching the opened value is safe across processes.
  // Kept as KeyObjects: the bytes live outside the JavaScript heap, and HKDF takes them as they are.
  private readonly cache = new Map<string, KeyObject>();

  constructor(
    private readonly store: Store,
    private readonly kek: Buffer,
  ) {}

  /**
   * The newest version per template, with the count of other connections' changes it was read at
   * (Store.outsideChanges): while that has not moved, only this object adds versions (rotate), so
   * it still holds. On SQLite the count is PRAGMA data_version; on PostgreSQL the directory-change
   * notifications, which a new version also sends (Store.insertMasterSecret). Read twice per
   * enrollment otherwise, two of about thirty round trips on PostgreSQL. Where the count is
   * unknown (the admin CLI, a listener reconnecting), read every time.
   */
  private readonly newest = new Map<string, { version: number; secret: KeyObject; outside: number }>();

  /** The newest version, creating version 1 on first use. */
  async current(templateUuid: string): Promise<{ version: number; secret: KeyObject }> {
    const outside = this.store.root.outsideChanges?.();
    const known = this.newest.get(templateUuid);
    if (known && outside !== undefined && known.outside === outside) return { version: known.version, secret: known.secret };
    const rows = await this.store.masterSecrets(templateUuid);
    if (rows.length === 0) return this.rotate(templateUuid);
    const top = rows[0]!;
    const secret = this.unseal(templateUuid, top.version, top.sealed);
    if (outside !== undefined) this.newest.set(templateUuid, { version: top.version, secret, outside });
    return { version: top.version, secret };
  }

  async get(templateUuid: string, version: number): Promise<KeyObject | undefined> {
    const hit = this.cache.get(`${templateUuid}:${version}`);
    if (hit) return hit;
    const row = (await this.store.masterSecrets(templateUuid)).find((r) => r.version === version);
    return row && this.unseal(templateUuid, version, row.sealed);
  }

  /** Adds a new version (the first when none exists); racing callers agree on the winner. */
  async rotate(templateUuid: string): Promise<{ version: number; secret: KeyObject }> {
    const rows = await this.store.masterSecrets(templateUuid);
    const version = (rows[0]?.version ?? 0) + 1;
    const secret = randomBytes(32);
    const sealed = seal(this.kek, secret, aad(templateUuid, version));
    secret.fill(0);
    await this.store.insertMasterSecret(templateUuid, version, sealed, new Date().toISOString());
    this.newest.delete(templateUuid); // from here on the version before is not the newest
    const stored = (await this.store.masterSecrets(templateUuid)).find((r) => r.version === version)!;
    return { version, secret: this.unseal(templateUuid, version, stored.sealed) };
  }

  private unseal(templateUuid: string, version: number, sealed: Buffer): KeyObject {
    const key = `${templateUuid}:${version}`;
    let s = this.cache.get(key);
    if (!s) {
      const bytes = open(this.kek, sealed, aad(templateUuid, version));
      s = createSecretKey(bytes);
      bytes.fill(0);
      this.cache.set(key, s);
    }
    return s;
  }
}
