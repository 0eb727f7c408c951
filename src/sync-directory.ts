import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * Makes the names in a directory durable: a file's data can be synced and its name still be lost
 * to a power cut until the directory that holds it is synced too. For files made once (the
 * database, the key-encryption key), so a blocking call is fine.
 */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `mkdir -p` whose new directories keep their names through a power cut, like the files made in
 * them: each directory it creates is synced in its parent. Nothing is synced when dir exists.
 */
export function makeDirectory(dir: string, mode?: number): void {
  const first = mkdirSync(dir, { recursive: true, mode });
  if (first === undefined) return;
  const top = resolve(first);
  for (let d = resolve(dir); ; d = dirname(d)) {
    syncDirectory(dirname(d));
    if (d === top) break;
  }
}
