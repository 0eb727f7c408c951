import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/client/card/atomic-write.js";
import { parseCardFile } from "../../src/client/card/card-file.js";
import { DeviceKey } from "../../src/client/card/device-key.js";
import { CardBusyError, CardFormatError, CardNotFoundError } from "../../src/client/card/errors.js";
import { CardStore } from "../../src/client/card/store.js";
import { adminLogin, DEMO_KEY, newCard } from "./support/card.js";
import { tempDir } from "./support/tmp.js";

/** The PKCS#8 DER of each key on the card, recovered the way only the card can (device key). */
function privateKeysOf(dir: string, cardFile: string): Buffer[] {
  const deviceKey = new DeviceKey(readFileSync(join(dir, "device.key")));
  const data = parseCardFile(readFileSync(cardFile, "utf8"));
  return data.containers.map((c) => deviceKey.unwrap(c.privateKey, `openclm-card:${data.cardId}:key:${c.id}`));
}

describe("card file: secrets at rest", () => {
  it("holds no private key, admin key or PIN in clear, in any encoding", async () => {
    const { store, card, path } = newCard({ pin: "271828" });
    card.verifyPin("271828");
    for (const algorithm of ["RSA", "ECDSA_P256", "ECDSA_P384"] as const) await card.generateKey({ algorithm, keySize: algorithm === "RSA" ? 2048 : undefined });
    const raw = readFileSync(path);
    const text = raw.toString("utf8");
    const keys = privateKeysOf(store.dir, path);
    expect(keys).toHaveLength(3);
    for (const pkcs8 of keys) {
      expect(pkcs8[0]).toBe(0x30); // it really is the DER of a key, so the scan below means something
      expect(raw.includes(pkcs8)).toBe(false);
      expect(text).not.toContain(pkcs8.toString("base64").slice(0, 200));
      expect(text.toLowerCase()).not.toContain(pkcs8.toString("hex").slice(0, 200));
      expect(text).not.toContain(pkcs8.subarray(0, 40).toString("base64"));
    }
    expect(text).not.toMatch(/PRIVATE KEY/);
    // The PKCS#8 prefixes (version 0, rsaEncryption / id-ecPublicKey) as they start in base64.
    expect(text).not.toContain("AgEAMA0GCSqGSIb3DQEBAQUA");
    expect(text).not.toContain("AgEAMBMGByqGSM49AgEG");
    expect(raw.includes(Buffer.from("020100300d06092a864886f70d0101010500", "hex"))).toBe(false);
    expect(text.toLowerCase()).not.toContain(DEMO_KEY.toString("hex"));
    expect(text).not.toContain(DEMO_KEY.toString("base64"));
    expect(text).not.toContain("271828");
  });

  it("writes the card file and device key with mode 0600, the directory 0700", () => {
    const { store, path } = newCard();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(store.dir, "device.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(store.dir, "device.key")).size).toBe(32);
    expect(statSync(store.dir).mode & 0o777).toBe(0o700);
  });

  it("binds each wrapped key to its card and slot: a key moved to another slot does not decrypt", async () => {
    const { store, card, path } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    const a = await card.generateKey({ algorithm: "ECDSA_P256" });
    await card.generateKey({ algorithm: "ECDSA_P256" });
    const data = JSON.parse(readFileSync(path, "utf8"));
    [data.containers[0].privateKey, data.containers[1].privateKey] = [data.containers[1].privateKey, data.containers[0].privateKey];
    writeFileSync(path, JSON.stringify(data));
    const reopened = store.open(path).card;
    reopened.verifyPin("123456");
    expect(() => reopened.sign(a.id, "SHA256", Buffer.from("x"))).toThrow(CardFormatError);
  });

  it("needs the directory's device key: a card file copied elsewhere is useless", async () => {
    const { card, path } = newCard({ pin: "123456" });
    card.verifyPin("123456");
    await card.generateKey({ algorithm: "ECDSA_P256" });
    const elsewhere = tempDir();
    new CardStore(elsewhere).create({ adminKey: DEMO_KEY }); // creates another device.key there
    const copy = join(elsewhere, "copied.json");
    writeFileSync(copy, readFileSync(path));
    const stolen = new CardStore(elsewhere).open(copy).card;
    expect(() => adminLogin(stolen)).toThrow(CardFormatError);
  });
});

describe("card store", () => {
  it("lists, resolves by id, prefix and path, and removes cards", () => {
    const store = new CardStore(tempDir());
    const a = store.create({ adminKey: DEMO_KEY, label: "first" });
    const b = store.create({ adminKey: DEMO_KEY });
    expect(store.list().map((e) => e.card?.cardId).sort()).toEqual([a.card.cardId, b.card.cardId].sort());
    expect(store.resolve(a.card.cardId)).toBe(a.path);
    expect(store.resolve(`{${a.card.cardId.toUpperCase()}}`)).toBe(a.path);
    expect(store.resolve(a.path)).toBe(a.path);
    if (a.card.cardId.slice(0, 8) !== b.card.cardId.slice(0, 8)) expect(store.resolve(a.card.cardId.slice(0, 8))).toBe(a.path);
    store.remove(a.path);
    expect(() => store.resolve(a.card.cardId)).toThrow(CardNotFoundError);
  });

  it("reports unreadable card files instead of hiding them", () => {
    const store = new CardStore(tempDir());
    store.create({ adminKey: DEMO_KEY });
    writeFileSync(join(store.dir, "broken.json"), "{ not json");
    const entries = store.list();
    expect(entries).toHaveLength(2);
    expect(entries.find((e) => e.path.endsWith("broken.json"))?.error).toMatch(/not a valid card file/);
  });

  it("locks a card for one process; a lock left by a dead process is taken over", async () => {
    const { store, path } = newCard();
    const first = store.openLocked(path);
    expect(() => store.openLocked(path)).toThrow(CardBusyError);
    first.release();
    const again = store.openLocked(path);
    again.release();

    const dead = spawn(process.execPath, ["-e", "0"]);
    const deadPid = await new Promise<number>((res) => dead.on("exit", () => res(dead.pid!)));
    const { hostname } = await import("node:os");
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: deadPid, host: hostname() }));
    const taken = store.openLocked(path);
    taken.release();
  });
});

describe("atomic write", () => {
  it("replaces the file without leaving temporary files, mode 0600", () => {
    const dir = tempDir();
    const file = join(dir, "card.json");
    writeFileAtomic(file, "one");
    writeFileAtomic(file, "two");
    expect(readFileSync(file, "utf8")).toBe("two");
    expect(readdirSync(dir)).toEqual(["card.json"]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("never shows a concurrent reader a torn file", async () => {
    const dir = tempDir();
    const file = join(dir, "card.json");
    const big = (n: number) => JSON.stringify({ n, pad: "x".repeat(2_000_000) });
    writeFileAtomic(file, big(0));
    // The reader is another process, so it really runs while this one writes.
    const reader = spawn(
      process.execPath,
      [
        "-e",
        `const fs=require("fs");let ok=0,bad=0;const end=Date.now()+1500;
         while(Date.now()<end){try{JSON.parse(fs.readFileSync(process.argv[1],"utf8"));ok++}catch(e){bad++}}
         process.stdout.write(JSON.stringify({ok,bad}))`,
        file,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    reader.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const done = new Promise<void>((res) => reader.on("exit", () => res()));
    let writes = 0;
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      writeFileAtomic(file, big(++writes));
      await new Promise((r) => setImmediate(r));
    }
    await done;
    const result = JSON.parse(out) as { ok: number; bad: number };
    expect(writes).toBeGreaterThan(5);
    expect(result.ok).toBeGreaterThan(0);
    expect(result.bad).toBe(0);
  });
});
