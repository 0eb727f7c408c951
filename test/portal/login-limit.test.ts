// Portal sign-in goes through the same failure limits as Basic authentication (its own server:
// the per-address lock would otherwise block the other portal tests for the window).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

const signIn = (username: string, password: string) =>
  fetch(`${server.url}/portal/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password }) });

describe("portal sign-in limits", () => {
  it("answers 429 with Retry-After once the configured failures are reached, even for the right password", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await signIn("carol", `wrong-${i}`)).status);
    expect(statuses.every((s) => s === 401)).toBe(true);
    const locked = await signIn("carol", "carol");
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await locked.json()).ErrorCode).toBeTruthy();
  });
});
