/**
 * Admin keys derived in the last minute, by template, master-secret version and card id. An
 * enrollment derives its card's key for the key release and again, moments later, for the
 * diversified challenge response; each derivation cost the event loop about 30 µs under load (the
 * HKDF job's set-up, with its OpenSSL code cold). Entries end after TTL_MS, and there are never
 * more than MAX_ENTRIES (the oldest go first). A derived key is no more secret than the master
 * secret held beside it, from which it can be derived again at any time.
 */
export class RecentAdminKeys {
  static readonly TTL_MS = 60_000;
  static readonly MAX_ENTRIES = 1_024;
  private readonly entries = new Map<string, { key: Buffer; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The key for this card, derived by `derive` unless it was derived within TTL_MS. */
  async get(templateUuid: string, version: number, cardId: string, derive: () => Promise<Buffer>): Promise<Buffer> {
    const id = `${templateUuid}:${version}:${cardId}`;
    const hit = this.entries.get(id);
    const now = this.now();
    if (hit && hit.until > now) return Buffer.from(hit.key);
    if (hit) this.drop(id);
    const key = await derive();
    if (this.entries.size >= RecentAdminKeys.MAX_ENTRIES) this.drop(this.entries.keys().next().value!);
    // A copy of its own: callers get copies too, so none can change what the next one gets.
    this.entries.set(id, { key: Buffer.from(key), until: now + RecentAdminKeys.TTL_MS });
    return key;
  }

  /** Forgets an entry, overwriting its key first (it would otherwise stay in memory until reused). */
  private drop(id: string): void {
    this.entries.get(id)?.key.fill(0);
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
