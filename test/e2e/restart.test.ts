// Acceptance: a restart keeps every object and the CA; SIGTERM shuts down gracefully.
import { describe, expect, it } from "vitest";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { call, ENGINE, startServer } from "../helpers/server.js";
import { enroll, users } from "../helpers/flow.js";

describe("restart", () => {
  it("keeps requests, cards, certificates and the CA", async () => {
    let server = await startServer();
    const done = await enroll(server, users.alice);
    const chain = (await call(server, "GET", "/ca/certificates")).text;
    const crl = Buffer.from(await (await fetch(`${server.url}/CertificateManagement/api/v1.0/ca/crl`)).arrayBuffer());
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(statSync(join(server.dataDir, "kek.key")).mode & 0o077).toBe(0);
    if (ENGINE === "sqlite") {
      expect(existsSync(join(server.dataDir, "openclm.db"))).toBe(true);
      expect(statSync(join(server.dataDir, "openclm.db")).mode & 0o077).toBe(0);
    }

    server = await startServer({ dataDir: server.dataDir });
    try {
      expect((await call(server, "GET", "/ca/certificates")).text).toBe(chain);
      const crl2 = Buffer.from(await (await fetch(`${server.url}/CertificateManagement/api/v1.0/ca/crl`)).arrayBuffer());
      expect(crl2.equals(crl)).toBe(true);
      const r = await call(server, "GET", `/requests/${done.requestId}`, users.alice);
      expect(r.body).toMatchObject({ Status: 8, NewSmartcardUuid: done.scid });
      const card = await call(server, "GET", `/smartcards/${done.scid}`, users.alice);
      expect(card.body.Status).toBe(3);
      expect((await call(server, "GET", `/smartcards/${done.scid}/certificates`, users.alice)).body).toHaveLength(1);
      const users2 = await call(server, "GET", "/requests", users.alice);
      expect(users2.body.map((x: any) => x.Uuid)).toContain(done.requestId);
    } finally {
      await server.stop();
    }
  });

  it("refuses to start with a key-encryption key that does not open the CA", async () => {
    const server = await startServer();
    await server.stop();
    await expect(startServer({ dataDir: server.dataDir, env: { OPENCLM_KEK: Buffer.alloc(32, 7).toString("base64") } })).rejects.toThrow(/exited with 1.*key-encryption key does not open the CA keys/s);
  });
});
