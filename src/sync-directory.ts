import { closeSync, fsyncSync, openSync } from "node:fs";

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
