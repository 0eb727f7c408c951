import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { recordAudit } from "../../src/domain/audit.js";

const dir = mkdtempSync(join(tmpdir(), "openclm-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe("SQLite checkpoints beside the event loop", () => {
  it("copies committed pages into the database file without the writer checkpointing, and stops cleanly", async () => {
    const store = await openStore({ url: "sqlite:ckpt.sqlite", dataDir: dir });
    const file = join(dir, "ckpt.sqlite");
    await new Promise((r) => setTimeout(r, 500)); // the migrations' pages go in first
    const before = statSync(file).size;
    // About 2 MB of audit records: far below the writer's own checkpoint mark of 10,000 pages.
    const padding = "x".repeat(1000);
    for (let i = 0; i < 2000; i++) {
      await recordAudit(store, { actorUuid: null, actorName: "test", action: "test.fill", targetType: "none", correlationId: String(i), outcome: "success", details: { padding } });
    }
    const walPages = statSync(`${file}-wal`).size / 4096;
    expect(walPages).toBeLessThan(10_000);
    // Only a checkpoint writes the main database file; the worker's comes within a few ticks.
    expect(await until(() => statSync(file).size > before + 1_500_000, 5_000)).toBe(true);
    await store.close();
    // The last connection to close checkpoints everything and removes the WAL.
    expect(() => statSync(`${file}-wal`)).toThrow();
  });

  it("closes the database when the checkpointer has died", () => {
    // A worker inherits the process's flags: under --input-type=module its CommonJS source fails
    // at once. Closing waited for an answer from it that never came.
    const open = join(import.meta.dirname, "../../dist/store/open.js");
    const script = `
      const { openStore } = await import(${JSON.stringify(open)});
      const store = await openStore({ url: "sqlite:dead-checkpointer.sqlite", dataDir: ${JSON.stringify(dir)} });
      const alive = setInterval(() => {}, 1000);
      await new Promise((r) => setTimeout(r, 500));
      await store.close();
      clearInterval(alive);
      process.stdout.write("closed");
    `;
    const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("closed");
    expect(run.status).toBe(0);
  });
});
