// `openclm card …` as a user runs it (built CLI, separate process).
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/tmp.js";

describe("openclm card", () => {
  it("creates, lists, shows, checks and changes the PIN, blocks, and deletes a card", async () => {
    const dir = tempDir();
    const created = await runCli(["card", "create", "--pin-env", "PIN", "--max-attempts", "3", "--card-dir", dir, "--json"], { PIN: "2468ace" });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/demo default admin key 010203040506070801020304050607080102030405060708/);
    const { cardId, file } = JSON.parse(created.stdout);
    expect(file).toBe(`${dir}/${cardId}.json`);

    const list = await runCli(["card", "list", "--card-dir", dir]);
    expect(list.stdout).toMatch(new RegExp(`${cardId}.*0 certificates, PIN set, 3 of 3 tries left`));
    const show = await runCli(["card", "show", cardId.slice(0, 8), "--card-dir", dir]);
    expect(show.stdout).toMatch(/ATR\s+3b8d0180fba000000397425446590301c8/);
    expect(show.stdout).toMatch(/Keys\s+none/);

    expect((await runCli(["card", "verify-pin", cardId, "--pin-env", "PIN", "--card-dir", dir], { PIN: "2468ace" })).code).toBe(0);
    const changed = await runCli(["card", "change-pin", cardId, "--pin-env", "OLD", "--new-pin-env", "NEW", "--card-dir", dir], { OLD: "2468ace", NEW: "13579bd" });
    expect(changed.code, changed.stderr).toBe(0);

    const wrong = await runCli(["card", "verify-pin", cardId, "--pin-env", "PIN", "--card-dir", dir], { PIN: "2468ace" });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong PIN \(2 tries left/);
    await runCli(["card", "verify-pin", cardId, "--pin-env", "PIN", "--card-dir", dir], { PIN: "x-wrong-1" });
    const last = await runCli(["card", "verify-pin", cardId, "--pin-env", "PIN", "--card-dir", dir], { PIN: "x-wrong-2" });
    expect(last.stderr).toMatch(/now blocked/);
    const blocked = await runCli(["card", "verify-pin", cardId, "--pin-env", "PIN", "--card-dir", dir, "--json"], { PIN: "13579bd" });
    expect(blocked.code).toBe(7);
    expect(JSON.parse(blocked.stdout).error).toMatchObject({ kind: "card" });
    expect((await runCli(["card", "show", cardId, "--card-dir", dir])).stdout).toMatch(/PIN\s+BLOCKED/);

    const refused = await runCli(["card", "delete", cardId, "--card-dir", dir]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/use --yes/);
    expect((await runCli(["card", "delete", cardId, "--yes", "--card-dir", dir])).code).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toEqual([]);
    expect((await runCli(["card", "show", cardId, "--card-dir", dir])).code).toBe(7);
  });

  it("refuses a malformed admin key and a PIN the card cannot hold", async () => {
    const dir = tempDir();
    const badKey = await runCli(["card", "create", "--admin-key", "0102", "--card-dir", dir]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/48 hex digits/);
    const badPin = await runCli(["card", "create", "--pin-env", "PIN", "--card-dir", dir], { PIN: "12" });
    expect(badPin.code).toBe(2);
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toEqual([]);
  });
});
