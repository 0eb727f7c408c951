// The files the server makes once, the key-encryption key and the SQLite database, keep their
// names through a power cut: their directory is synced after they are made, and so is the parent
// of each directory made for them (src/sync-directory.ts).
// Seen from outside with strace, on a real process: the order of the system calls is the proof.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "openclm-durable-names-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("files made once", () => {
  it("sync their directory after the key-encryption key is linked into place and the database is opened", () => {
    // Two directories that do not exist yet: each one's name is synced in its parent.
    const data = join(dir, "new", "data");
    const trace = join(dir, "strace.out");
    const script = `
      const { loadKek } = await import(${JSON.stringify(join(repo, "dist/crypto/envelope.js"))});
      const { openStore } = await import(${JSON.stringify(join(repo, "dist/store/open.js"))});
      await loadKek({ env: "OPENCLM_TEST_NO_SUCH_KEK", file: "kek.key" }, ${JSON.stringify(data)});
      process.stdout.write("kek made\\n");
      const store = await openStore({ url: "sqlite:openclm.db", dataDir: ${JSON.stringify(data)} });
      await store.close();
    `;
    const run = spawnSync("strace", ["-f", "-qq", "-y", "-e", "trace=fsync,link,linkat,write,mkdir,mkdirat", "-o", trace, process.execPath, "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(run.error, "strace must be installed (apt-get install -y strace)").toBeUndefined();
    expect(run.status, run.stderr).toBe(0);
    const lines = readFileSync(trace, "utf8").split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const dirSyncs = lines.flatMap((l, i) => (l.includes(`fsync(`) && l.includes(`<${data}>`) ? [i] : []));
    const linked = at(/link(at)?\(.*kek\.key/);
    const kekAnnounced = at(/write\(1<.*"kek made\\n"/);
    expect(linked).toBeGreaterThan(-1);
    expect(kekAnnounced).toBeGreaterThan(linked);
    // One between the link and the key's first use, one once the database is open.
    expect(dirSyncs.some((i) => i > linked && i < kekAnnounced)).toBe(true);
    expect(dirSyncs.some((i) => i > kekAnnounced)).toBe(true);
    // The new directories: each synced in its parent after it is made and before the key file is.
    const madeData = at(new RegExp(`mkdir(at)?\\(.*"${data}"`));
    const syncedIn = (parent: string) => lines.findIndex((l, i) => i > madeData && l.includes("fsync(") && l.includes(`<${parent}>`));
    expect(madeData).toBeGreaterThan(-1);
    for (const parent of [dir, join(dir, "new")]) {
      expect(syncedIn(parent), parent).toBeGreaterThan(madeData);
      expect(syncedIn(parent), parent).toBeLessThan(linked);
    }
  });
});
