import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ApiClient } from "../../src/client/api.js";
import type { EnrollmentJournal } from "../../src/client/card/card-file.js";
import { CardStore } from "../../src/client/card/store.js";
import { recoverInterruptedEnrollments, resolveInterruptedEnrollment } from "../../src/client/enroll-recovery.js";
import { certificatesFromCms } from "../../src/client/install.js";
import { StepRunner } from "../../src/client/steps.js";
import { DEMO_KEY } from "./support/card.js";
import { json, startStub } from "./support/stub-server.js";
import { tempDir } from "./support/tmp.js";

const REQUEST = "c6bad97c-f97f-4920-8947-be980c98c6b5";
const SOME_CERT = certificatesFromCms(readFileSync(resolve(import.meta.dirname, "../fixtures/adcs-cmc-response.b64"), "utf8"))[1]!;

/** A server that knows one request and lets the client change its status. */
async function requestServer(initial: number, opts: { refuseAbandon?: boolean } = {}) {
  let status = initial;
  const puts: string[] = [];
  const stub = await startStub((req, res) => {
    if (!req.url.pathname.endsWith(`/requests/${REQUEST}`)) return json(res, 404, { Message: "no", ErrorCode: "not_found", CorrelationId: "c" });
    if (req.method === "PUT") {
      const wanted = JSON.parse(req.body).status as string;
      puts.push(wanted);
      if (wanted === "Abandoned" && opts.refuseAbandon) return json(res, 409, { Message: "not executing", ErrorCode: "conflict", CorrelationId: "c" });
      status = { Abandoned: 19, Canceled: 17, Completed: 8 }[wanted]!;
    }
    json(res, 200, { Uuid: REQUEST, RequestType: 1, Status: status });
  });
  return { ...stub, puts, status: () => status };
}

let server: Awaited<ReturnType<typeof requestServer>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function journal(api: ApiClient, patch: Partial<EnrollmentJournal>): EnrollmentJournal {
  const now = new Date().toISOString();
  return {
    server: api.baseUrl,
    user: "alice",
    requestId: REQUEST,
    templateUuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1",
    templateName: "Virtual Smartcard VPN",
    smartcardUuid: "d700d97c-f91f-4930-8947-be980c98a644",
    step: "certificatedata",
    createdCard: true,
    containerIds: [],
    startedAt: now,
    updatedAt: now,
    ...patch,
  };
}

/** A card as a killed enrollment leaves it: a key without certificate and a journal. */
async function interruptedCard(store: CardStore, api: ApiClient, patch: Partial<EnrollmentJournal> = {}, withCertificate = false) {
  const { card, path } = store.create({ adminKey: DEMO_KEY, pin: "123456" });
  card.verifyPin("123456");
  const key = await card.generateKey({ algorithm: "ECDSA_P256" });
  if (withCertificate) card.installCertificate(key.id, SOME_CERT);
  card.setJournal(journal(api, { containerIds: [key.id], ...patch }));
  return { path, cardId: card.cardId, keyId: key.id };
}

describe("recovery after an interrupted enrollment", () => {
  it("abandons an executing request and deletes the card the enrollment had created", async () => {
    server = await requestServer(18);
    const api = new ApiClient({ server: server.url, user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const { path } = await interruptedCard(store, api);
    const outcome = await resolveInterruptedEnrollment(api, store, store.openLocked(path));
    expect(server.puts).toEqual(["Abandoned"]);
    expect(outcome).toMatchObject({ serverAction: "abandoned", requestStatus: 19, removedContainers: 1, cardDeleted: true, resolved: true });
    expect(existsSync(path)).toBe(false);
  });

  it("on an existing card removes only the orphan key and clears the journal", async () => {
    server = await requestServer(18);
    const api = new ApiClient({ server: server.url, user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const { path, keyId } = await interruptedCard(store, api, { createdCard: false });
    const locked = store.openLocked(path);
    await resolveInterruptedEnrollment(api, store, locked);
    locked.release();
    const card = store.open(path).card;
    expect(card.containers().map((c) => c.id)).not.toContain(keyId);
    expect(card.journal).toBeNull();
  });

  it("completes a request whose certificates were already installed (only the last PUT was missing)", async () => {
    server = await requestServer(18);
    const api = new ApiClient({ server: server.url, user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const { path, keyId } = await interruptedCard(store, api, { step: "complete" }, true);
    const outcome = await resolveInterruptedEnrollment(api, store, store.openLocked(path));
    expect(server.puts).toEqual(["Completed"]);
    expect(outcome).toMatchObject({ serverAction: "completed", removedContainers: 0, cardDeleted: false });
    const card = store.open(path).card;
    expect(card.containers().find((c) => c.id === keyId)?.certificate).not.toBeNull();
    expect(card.journal).toBeNull();
  });

  it("cancels an approved request when the server does not let it be abandoned", async () => {
    server = await requestServer(3, { refuseAbandon: true });
    const api = new ApiClient({ server: server.url, user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const { path } = await interruptedCard(store, api, { step: "bind" });
    const outcome = await resolveInterruptedEnrollment(api, store, store.openLocked(path));
    expect(server.puts).toEqual(["Abandoned", "Canceled"]);
    expect(outcome).toMatchObject({ serverAction: "canceled", requestStatus: 17 });
  });

  it("only cleans the card when the request had already ended", async () => {
    server = await requestServer(19);
    const api = new ApiClient({ server: server.url, user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const { path } = await interruptedCard(store, api);
    const outcome = await resolveInterruptedEnrollment(api, store, store.openLocked(path));
    expect(server.puts).toEqual([]);
    expect(outcome).toMatchObject({ serverAction: "none", cardDeleted: true });
  });

  it("keeps journal and keys when the server cannot be reached, so the next run can finish the job", async () => {
    const api = new ApiClient({ server: "http://127.0.0.1:1", user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const { path, keyId } = await interruptedCard(store, api);
    const locked = store.openLocked(path);
    const outcome = await resolveInterruptedEnrollment(api, store, locked);
    locked.release();
    expect(outcome).toMatchObject({ resolved: false });
    expect(outcome!.message).toMatch(/next enroll will try again/);
    const card = store.open(path).card;
    expect(card.journal?.requestId).toBe(REQUEST);
    expect(card.containers().map((c) => c.id)).toEqual([keyId]);
  });

  it("scans the card directory for this server and user only, and leaves cards in use alone", async () => {
    server = await requestServer(18);
    const api = new ApiClient({ server: server.url, user: "alice", password: "alice" });
    const store = new CardStore(tempDir());
    const mine = await interruptedCard(store, api);
    const otherUser = await interruptedCard(store, api, { user: "bob" });
    const otherServer = await interruptedCard(store, api, { server: "https://elsewhere/CertificateManagement/api/v1.0" });
    const busy = await interruptedCard(store, api);
    const held = store.openLocked(busy.path);
    const notices: string[] = [];
    const outcomes = await recoverInterruptedEnrollments(api, store, new StepRunner((e) => e.type === "notice" && notices.push(e.message)));
    held.release();
    expect(outcomes.map((o) => o.cardId)).toEqual([mine.cardId]);
    expect(existsSync(mine.path)).toBe(false);
    expect(existsSync(otherUser.path) && existsSync(otherServer.path) && existsSync(busy.path)).toBe(true);
    expect(notices.join("\n")).toMatch(/in use by process/);
  });
});
