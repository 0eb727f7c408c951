// One process at a time per card: an enrollment holds the card for minutes, and a concurrent
// one (or its crash recovery) must not abandon a request that is still being worked on.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { CardBusyError } from "./errors.js";

export type ReleaseLock = () => void;

interface LockOwner {
  pid: number;
  host: string;
}

function ownerAlive(owner: LockOwner): boolean {
  // A lock from another host (shared home directory) cannot be checked, so it is respected.
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
    return typeof parsed.pid === "number" && typeof parsed.host === "string" ? { pid: parsed.pid, host: parsed.host } : null;
  } catch {
    return null;
  }
}

/** Takes `path` as a lock file; a lock left by a dead process (a killed client) is taken over. */
export function acquireLock(path: string, what: string): ReleaseLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname() }));
      } finally {
        closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(path);
        } catch {
          // gone already
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = readOwner(path);
      if (owner && ownerAlive(owner)) {
        throw new CardBusyError(`${what} is in use by process ${owner.pid}`);
      }
      try {
        unlinkSync(path);
      } catch {
        // someone else took it over first; retry decides
      }
    }
  }
  throw new CardBusyError(`${what} is in use`);
}
