import * as nodeCrypto from "node:crypto";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { deriveAdminKey, isDegenerate, setOddParity } from "../../src/crypto/adminkey.js";
import { OpensslSandbox } from "./helpers/openssl.js";

// Degenerate HKDF outputs occur with probability ~2^-60, so the retry path is reached by
// making hkdf answer one on demand.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, hkdf: vi.fn(actual.hkdf) };
});

const MASTER = Buffer.alloc(32, 0x42);
const TEMPLATE = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";
const hkdf = vi.mocked(nodeCrypto.hkdf);
type HkdfCallback = (err: Error | null, key: ArrayBuffer) => void;
/** hkdf answering these bytes (through its callback, as the real one does). */
const answering = (bytes: Uint8Array) => ((...args: unknown[]) => queueMicrotask(() => (args[5] as HkdfCallback)(null, new Uint8Array(bytes).buffer))) as typeof nodeCrypto.hkdf;
const sandbox = new OpensslSandbox();
afterAll(() => sandbox.dispose());
// mockReset puts back the real hkdf given to vi.fn above.
afterEach(() => hkdf.mockReset());

describe("deriveAdminKey retries", () => {
  it("moves to n=1 when n=0 gives a degenerate key, and the result is HKDF(n=1) per openssl", async () => {
    hkdf.mockImplementationOnce(answering(new Uint8Array(24)));
    const key = await deriveAdminKey(MASTER, TEMPLATE, "card");

    const infos = hkdf.mock.calls.map((c) => Buffer.from(c[3] as Buffer).toString("utf8"));
    expect(infos).toEqual([`template=${TEMPLATE};card=card;n=0`, `template=${TEMPLATE};card=card;n=1`]);

    const out = sandbox.ok([
      "kdf", "-keylen", "24", "-kdfopt", "digest:SHA256",
      "-kdfopt", `hexkey:${MASTER.toString("hex")}`,
      "-kdfopt", `hexsalt:${Buffer.from("OpenCLM admin key v1").toString("hex")}`,
      "-kdfopt", `hexinfo:${Buffer.from(infos[1]!).toString("hex")}`,
      "HKDF",
    ]);
    expect(key).toEqual(setOddParity(Buffer.from(out.trim().replace(/:/g, ""), "hex")));
    expect(isDegenerate(key)).toBe(false);
  });

  it("skips a key containing a weak DES third", async () => {
    const weakFirst = Buffer.from("0101010101010101" + "0123456789abcdeffedcba9876543210", "hex");
    hkdf.mockImplementationOnce(answering(weakFirst));
    await deriveAdminKey(MASTER, TEMPLATE, "card");
    expect(hkdf).toHaveBeenCalledTimes(2);
  });

  it("gives up instead of looping forever if the KDF only ever produces degenerate keys", async () => {
    hkdf.mockImplementation(answering(new Uint8Array(24)));
    await expect(deriveAdminKey(MASTER, TEMPLATE, "card")).rejects.toThrow(/degenerate/);
    expect(hkdf).toHaveBeenCalledTimes(64);
  });

  it("is back to the real KDF after the mocks", async () => {
    const a = await deriveAdminKey(MASTER, TEMPLATE, "card");
    expect(isDegenerate(a)).toBe(false);
    expect(hkdf).toHaveBeenCalledTimes(1);
  });
});
