import type pg from "pg";

/** The PostgreSQL notification channel on which every directory-version change is announced (migration 0008). */
export const DIRECTORY_CHANNEL = "openclm_directory";

const RECONNECT_MS = 1_000;

/**
 * Counts the notifications of one channel on a connection of its own. A value read from the
 * database stays current while the count has not moved since it was read; while the connection is
 * down a change could go unheard, so the count is then unknown and every read goes to the database.
 * Notifications reach a live listener at the notifier's commit, in commit order; the count moves
 * once more on every (re)connection, so nothing read before a gap is trusted after it.
 */
export class PgChangeListener {
  private client?: pg.Client;
  private heard = 0;
  private listening = false;
  private closed = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly connect: () => pg.Client,
    private readonly channel: string,
    private readonly onError?: (err: Error) => void,
  ) {}

  /** Notifications heard so far; undefined while not listening (yet, or since the connection was lost). */
  changes(): number | undefined {
    return this.listening ? this.heard : undefined;
  }

  /** Starts listening; on failure it keeps trying in the background (reads go to the database meanwhile). */
  async start(): Promise<void> {
    if (this.closed) return;
    const client = this.connect();
    this.client = client;
    client.on("notification", (n) => {
      if (n.channel === this.channel) this.heard++;
    });
    client.on("error", (err) => {
      this.onError?.(err);
      this.lost(client);
    });
    client.on("end", () => this.lost(client));
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
    } catch (err) {
      this.onError?.(err as Error);
      this.lost(client);
      return;
    }
    if (this.client !== client) return; // closed, or lost meanwhile
    this.heard++;
    this.listening = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.listening = false;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, RECONNECT_MS);
    this.retry.unref();
  }
}
