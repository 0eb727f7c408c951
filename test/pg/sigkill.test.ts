// Acceptance (issue 6): one of two server processes on one PostgreSQL database is killed with
// SIGKILL in the middle of a load of enrollments and retirements. Clients carry on through the
// other process, retrying the interrupted step there; afterwards the consistency query finds
// nothing wrong, every enrollment a client saw through is intact, and a restarted process serves.
import { describe, expect, it } from "vitest";
import { call, type ApiResponse, type TestServer } from "../helpers/server.js";
import { des3, TestCard } from "../helpers/card.js";
import { readCrl } from "../helpers/pki.js";
import { consistencyViolations, DEFAULT_KEY, PG_AVAILABLE, query, SKIP_REASON, startCluster, VPN } from "./support.js";

const WORKERS = 8;
const ENROLLMENTS_PER_WORKER = 5;
/**
 * The kill comes once this many enrollments are through and several calls are in flight on the
 * victim: counted in progress, not in time, so a slow machine still kills mid-load.
 */
const KILL_AFTER_ENROLLMENTS = WORKERS;
const KILL_WITH_IN_FLIGHT = 3;

describe.skipIf(!PG_AVAILABLE)(`SIGKILL of one server process under load${SKIP_REASON}`, () => {
  it("leaves no request, card or certificate inconsistent", { timeout: 240_000 }, async () => {
    const cluster = await startCluster(2);
    const [A, B] = cluster.servers as [TestServer, TestServer];
    let killed = false;
    let interrupted = 0;
    let inFlightOnA = 0;
    let doneAtKill = -1;
    try {
      // Keys and CSRs first, so that during the load the clients only talk to the servers.
      const cards = await Promise.all(
        Array.from({ length: WORKERS * ENROLLMENTS_PER_WORKER }, async () => {
          const card = new TestCard(DEFAULT_KEY);
          return { card, csr: await card.csr() };
        }),
      );
      /** One step of a client: to either process while both live; a call the kill cut off is repeated on the survivor. */
      const step = async (send: (s: TestServer) => Promise<ApiResponse>): Promise<ApiResponse> => {
        const first = killed || Math.random() < 0.5 ? B : A;
        if (first === A) inFlightOnA++;
        try {
          return await send(first);
        } catch (e) {
          if (first !== A) throw e;
          interrupted++;
          return send(B);
        } finally {
          if (first === A) inFlightOnA--;
        }
      };
      const ok = (r: ApiResponse, status = 200) => {
        expect(r.status, r.text).toBe(status);
        return r;
      };

      const seen: { requestId: string; scid: string; retired: boolean }[] = [];
      const worker = async (k: number) => {
        const u = { user: `u${k + 1}`, password: `u${k + 1}` };
        for (let n = 0; n < ENROLLMENTS_PER_WORKER; n++) {
          const created = ok(
            await step((s) =>
              call(s, "POST", "/requests", { ...u, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ "Request Reason": "load" }], comment: "" } }),
            ),
            201,
          );
          const requestId = (created.body as string).split("/").pop()!;
          const { card, csr } = cards[k * ENROLLMENTS_PER_WORKER + n]!;
          const bound = ok(await step((s) => call(s, "POST", "/smartcards", { ...u, body: { requestid: requestId, cardid: card.cardId } })), 201);
          const scid = (bound.body as string).split("/").pop()!;
          const base = `/requests/${requestId}/smartcards/${scid}`;
          const key = ok(await step((s) => call(s, "GET", `${base}/diversifiedkey?cardid=${card.cardId}`, u)));
          const ch = card.getChallenge();
          const resp = ok(
            await step((s) => call(s, "GET", `${base}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(ch.toString("base64"))}&diversified=false`, u)),
          );
          expect(Buffer.from(resp.body, "base64").equals(des3(Buffer.from(DEFAULT_KEY, "hex"), ch))).toBe(true);
          expect(card.authenticate(Buffer.from(resp.body, "base64"))).toBe(true);
          card.setAdminKey(Buffer.from(key.body, "base64"));
          ok(await step((s) => call(s, "POST", `/requests/${requestId}/certificatedata`, { ...u, body: { certificaterequests: [csr.der.toString("base64")] } })));
          ok(await step((s) => call(s, "PUT", `/requests/${requestId}`, { ...u, body: { status: "Completed" } })));
          // Every other card is retired again: revocations and CRL publication under load too.
          const retire = n % 2 === 1;
          if (retire) {
            const r = ok(await step((s) => call(s, "POST", "/requests", { ...u, body: { type: "Retire", smartcard: scid, datacollection: [], comment: "" } })), 201);
            const rid = (r.body as string).split("/").pop()!;
            const done = await step((s) => call(s, "PUT", `/requests/${rid}`, { ...u, body: { status: "Completed" } }));
            // A repeated Retire after the first one committed on the killed process finds the card Retired already.
            if (done.status !== 200) expect(done.body.ErrorCode, done.text).toMatch(/InvalidRequestState|InvalidCredentialState/);
          }
          seen.push({ requestId, scid, retired: retire });
        }
      };
      const poll = setInterval(() => {
        if (seen.length < KILL_AFTER_ENROLLMENTS || inFlightOnA < KILL_WITH_IN_FLIGHT) return;
        clearInterval(poll);
        killed = true;
        doneAtKill = seen.length;
        A.process.kill("SIGKILL");
      }, 1);
      try {
        await Promise.all(Array.from({ length: WORKERS }, (_, k) => worker(k)));
      } finally {
        clearInterval(poll);
      }
      expect(killed, "the kill condition never held during the load").toBe(true);
      await new Promise<void>((resolve) => (A.process.exitCode !== null || A.process.signalCode !== null ? resolve() : A.process.once("exit", () => resolve())));
      expect(A.process.signalCode).toBe("SIGKILL");
      // The kill came mid-load: some enrollments were through, others still ahead.
      expect(doneAtKill).toBeGreaterThan(0);
      expect(doneAtKill).toBeLessThan(WORKERS * ENROLLMENTS_PER_WORKER);

      // What every client saw through is there, whole.
      expect(seen).toHaveLength(WORKERS * ENROLLMENTS_PER_WORKER);
      for (const s of seen) {
        const [r] = await query(cluster.dbUrl, "select status from requests where uuid = $1", [s.requestId]);
        expect(r.status).toBe(8);
        const [card] = await query(cluster.dbUrl, "select status from smartcards where uuid = $1", [s.scid]);
        expect(card.status).toBe(s.retired ? 6 : 3);
        const certs = await query(cluster.dbUrl, "select status from certificates where request_uuid = $1", [s.requestId]);
        expect(certs.map((c) => c.status)).toEqual([s.retired ? 1 : 0]);
      }

      // The killed process comes back on the same database and serves.
      const C = await cluster.start();
      const again = await call(C, "GET", "/requests", { user: "u1", password: "u1" });
      expect(again.status).toBe(200);
      expect(again.body.length).toBeGreaterThanOrEqual(ENROLLMENTS_PER_WORKER);
      expect(await consistencyViolations(cluster.dbUrl)).toEqual([]);
      // A revocation committed by the killed process just before it could publish is in the CRL now.
      const crl = await readCrl(C);
      const revoked = await query(cluster.dbUrl, "select serial from certificates where status = 1");
      expect(revoked.length).toBeGreaterThan(0);
      for (const r of revoked) expect(crl.entries.has(r.serial), r.serial).toBe(true);
      // Reported rather than asserted: calls whose answers were already on their way when the kill came succeed.
      process.stdout.write(`sigkill: killed with ${doneAtKill} of ${seen.length} enrollments through; ${interrupted} call(s) cut off and repeated on the survivor\n`);
    } finally {
      await cluster.stop();
    }
  });
});
