// New GUIDs are RFC 9562 version 7: time-ordered, with 74 random bits.
import { describe, expect, it } from "vitest";
import { newGuid, parseGuid } from "../../src/domain/guid.js";

describe("newGuid", () => {
  it("makes version 7 GUIDs that carry the time they were made, in the canonical form", () => {
    const before = Date.now();
    const g = newGuid();
    const after = Date.now();
    expect(g).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseGuid(g)).toBe(g);
    const ms = parseInt(g.slice(0, 8) + g.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });

  it("sorts GUIDs made in different milliseconds by time, and never repeats one", async () => {
    const first = newGuid();
    await new Promise((r) => setTimeout(r, 2));
    const second = newGuid();
    expect(first < second).toBe(true);
    const many = Array.from({ length: 100_000 }, newGuid);
    expect(new Set(many).size).toBe(many.length);
    // The 74 bits after the time are random: each of their hex digits takes all 16 values.
    const tail = new Set(many.map((g) => g.slice(-1)));
    expect(tail.size).toBe(16);
    const randA = new Set(many.map((g) => g[15]));
    expect(randA.size).toBe(16);
  });
});
