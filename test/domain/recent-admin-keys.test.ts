import { describe, expect, it } from "vitest";
import { RecentAdminKeys } from "../../src/domain/services/recent-admin-keys.js";

const T = "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1";

function counting(bytes = Buffer.alloc(24, 7)) {
  const calls: string[] = [];
  const derive = (label: string) => async () => {
    calls.push(label);
    return Buffer.from(bytes);
  };
  return { calls, derive };
}

describe("RecentAdminKeys", () => {
  it("derives a card's key once within the minute, and again after it", async () => {
    let now = 1_000;
    const keys = new RecentAdminKeys(() => now);
    const { calls, derive } = counting();
    await keys.get(T, 1, "card-a", derive("1"));
    now += RecentAdminKeys.TTL_MS - 1;
    await keys.get(T, 1, "card-a", derive("2"));
    expect(calls).toEqual(["1"]);
    now += 1;
    await keys.get(T, 1, "card-a", derive("3"));
    expect(calls).toEqual(["1", "3"]);
  });

  it("keeps template, master-secret version and card apart", async () => {
    const keys = new RecentAdminKeys(() => 0);
    const { calls, derive } = counting();
    await keys.get(T, 1, "card-a", derive("a1"));
    await keys.get(T, 2, "card-a", derive("a2"));
    await keys.get(T, 1, "card-b", derive("b1"));
    await keys.get("11111111-2222-3333-4444-555555555555", 1, "card-a", derive("other"));
    expect(calls).toEqual(["a1", "a2", "b1", "other"]);
  });

  it("hands out copies: a caller that overwrites its key does not change the next caller's", async () => {
    const keys = new RecentAdminKeys(() => 0);
    const first = await keys.get(T, 1, "card-a", counting(Buffer.alloc(24, 9)).derive("x"));
    first.fill(0);
    expect(await keys.get(T, 1, "card-a", async () => Buffer.alloc(24, 1))).toEqual(Buffer.alloc(24, 9));
  });

  it("holds at most MAX_ENTRIES, dropping the oldest first, and keeps no failure", async () => {
    const keys = new RecentAdminKeys(() => 0);
    const { calls, derive } = counting();
    for (let i = 0; i <= RecentAdminKeys.MAX_ENTRIES; i++) await keys.get(T, 1, `card-${i}`, derive(String(i)));
    expect(keys.size).toBe(RecentAdminKeys.MAX_ENTRIES);
    await keys.get(T, 1, `card-${RecentAdminKeys.MAX_ENTRIES}`, derive("newest again"));
    await keys.get(T, 1, "card-0", derive("oldest again"));
    // The newest was still held; the oldest had been dropped.
    expect(calls.slice(-2)).toEqual([String(RecentAdminKeys.MAX_ENTRIES), "oldest again"]);
    await expect(keys.get(T, 1, "broken", async () => Promise.reject(new Error("no secret")))).rejects.toThrow("no secret");
    await keys.get(T, 1, "broken", derive("after failure"));
    expect(calls.slice(-1)).toEqual(["after failure"]);
  });
});
