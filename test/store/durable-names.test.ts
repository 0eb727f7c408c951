// The files the server makes once, the key-encryption key and the SQLite database, keep their
// names through a power cut: their directory is synced after they are made (src/sync-directory.ts).
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
    const data = join(dir, "data");
    const trace = join(dir, "strace.out");
    const script = `
      const { loadKek } = await import(${JSON.stringify(join(repo, "dist/crypto/envelope.js"))});
      const { openStore } = await import(${JSON.stringify(join(repo, "dist/store/open.js"))});
      await loadKek({ env: "OPENCLM_TEST_NO_SUCH_KEK", file: "kek.key" }, ${JSON.stringify(data)});
      process.stdout.write("kek made\\n");
      const store = await openStore({ url: "sqlite:openclm.db", dataDir: ${JSON.stringify(data)} });
      await store.close();
    `;
    const run = spawnSync("strace", ["-f", "-qq", "-y", "-e", "trace=fsync,link,linkat,write", "-o", trace, process.execPath, "--input-type=module", "-e", script], {
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
  });
});
