import { closeSync, fdatasync, fstatSync, openSync, statSync } from "node:fs";

/** How the WAL reaches the disk: fs.fdatasync, or a stand-in in tests. */
export type SyncFn = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

/**
 * Makes SQLite's commits durable without stopping the event loop. With `synchronous = NORMAL` a
 * WAL commit is only written, not synced: a power loss or a crash of the machine could take back
 * transactions already answered — an issued certificate without its record. `synchronous = FULL`
 * would sync inside COMMIT, on the event loop (0.4 ms here at the median, 1.8 ms at p99, per
 * commit). Instead the server commits with NORMAL and then syncs the WAL file with fdatasync on
 * libuv's thread pool; nothing that depends on a commit is answered before its sync is done.
 * One sync runs at a time; commits made while it runs share the next one, which starts when it
 * ends, so under load each sync carries several commits.
 *
 * A sync covers every write made to the file before it started, by any descriptor; SQLite itself
 * still syncs the WAL's header when the log starts over and both files around each checkpoint,
 * so the log's structure is safe as in NORMAL, and the answered transactions are durable as in FULL.
 */
export class WalFlusher {
  private fd?: number;
  private ino?: number;
  private running?: Promise<void>;
  /** The sync that starts when the running one ends: it covers what was written after that began. */
  private queued?: Promise<void>;
  /**
   * The first failed sync. Linux reports a failed write-back once and may drop the pages it could
   * not write, so a later sync that succeeds proves nothing about them: like PostgreSQL after a
   * failed fsync, every later commit fails until the server is restarted and SQLite recovers from
   * what the disk holds.
   */
  private failed?: Error;
  /** Syncs done so far (for tests and metrics). */
  syncs = 0;

  constructor(
    private readonly walPath: string,
    private readonly sync: SyncFn = fdatasync,
  ) {}

  /** Resolves once everything written to the WAL before this call is on disk. */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const after = this.running.then(noop, noop);
    this.queued = after.then(() => {
      this.queued = undefined;
      return this.start();
    });
    return this.queued;
  }

  /** The last sync asked for, while it is not done: what a read that may have seen its commits waits for. */
  get pending(): Promise<void> | undefined {
    return this.queued ?? this.running;
  }

  /** Waits for the syncs asked for, then lets the file go. */
  async close(): Promise<void> {
    while (this.pending) await this.pending.catch(noop);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private start(): Promise<void> {
    const run = new Promise<void>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      let fd: number;
      try {
        fd = this.descriptor();
      } catch (e) {
        reject((this.failed = flushError(e as NodeJS.ErrnoException)));
        return;
      }
      this.sync(fd, (err) => {
        if (err) return reject((this.failed ??= flushError(err)));
        this.syncs++;
        resolve();
      });
    });
    this.running = run;
    const done = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(done, done);
    return run;
  }

  /**
   * The WAL file, opened once. SQLite keeps the same file while the database is open, cutting it
   * back in place; should it ever be another file (deleted and made again), syncing the old one
   * would sync nothing, so the descriptor follows the path's inode.
   */
  private descriptor(): number {
    const ino = statSync(this.walPath).ino;
    if (this.fd !== undefined && this.ino === ino) return this.fd;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const fd = openSync(this.walPath, "r");
    this.fd = fd;
    this.ino = fstatSync(fd).ino;
    return fd;
  }
}

function noop(): void {}

function flushError(err: NodeJS.ErrnoException): Error {
  return new Error(`the database's log could not be written to disk (${err.code ?? "error"}); no change is kept as durable until the server is restarted`);
}
