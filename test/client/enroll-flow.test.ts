import { afterEach, describe, expect, it } from "vitest";
import { ApiClient } from "../../src/client/api.js";
import { adminChallengeResponse } from "../../src/client/card/des.js";
import { CardStore } from "../../src/client/card/store.js";
import { runEnrollment, type EnrollPlan } from "../../src/client/enroll-flow.js";
import { StepRunner, type StepEvent } from "../../src/client/steps.js";
import { runOnlineUnblock } from "../../src/client/unblock-flow.js";
import { DEFAULT_KEY_HEX, fakeDiversifiedKey, startFakeCm } from "./support/fake-cm.js";
import { tempDir } from "./support/tmp.js";

let fake: Awaited<ReturnType<typeof startFakeCm>> | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function enroll(f: NonNullable<typeof fake>, opts: { store?: CardStore; cardRef?: string; pin?: string | null } = {}) {
  const api = new ApiClient({ server: f.url, user: "alice", password: "alice" });
  const store = opts.store ?? new CardStore(tempDir());
  const template = (await api.listProfileTemplates())[0]!;
  const events: StepEvent[] = [];
  const plan: EnrollPlan = {
    template,
    policy: await api.getPolicy(template.uuid, "enroll"),
    smartcardConfig: await api.getSmartcardConfig(template.uuid),
    dataCollection: [],
    comment: "",
    pin: opts.pin === undefined ? "user-PIN-1" : opts.pin,
    card: opts.cardRef ? store.openLocked(opts.cardRef) : null,
  };
  const outcome = await runEnrollment(plan, { api, store, steps: new StepRunner((e) => events.push(e)) });
  return { outcome, store, events, titles: events.filter((e) => e.type === "done").map((e) => (e as { title: string }).title) };
}

describe("enrollment flow (fake server)", () => {
  it("runs the walkthrough's steps in order and sets the diversified admin key on the card", async () => {
    fake = await startFakeCm();
    const { outcome, store, titles } = await enroll(fake);
    expect(titles).toEqual([
      "Create request",
      "Check request status",
      "Create virtual smart card",
      "Bind card to request",
      "Set card admin key",
      "Set user PIN",
      "Read certificate request options",
      "Generate RSA 2048 key on card",
      "Create certificate request (SHA256)",
      "Submit certificate requests",
      "Install certificates",
      "Complete request",
    ]);
    if (outcome.kind !== "completed") throw new Error("not completed");
    const card = store.open(outcome.cardId).card;
    // The card now answers to the diversified key only.
    card.authenticateAdmin(adminChallengeResponse(fakeDiversifiedKey(card.cardId), card.getChallenge()));
    expect(() => card.authenticateAdmin(adminChallengeResponse(Buffer.from(DEFAULT_KEY_HEX, "hex"), card.getChallenge()))).toThrow();
    expect(card.pinStatus()).toMatchObject({ set: true, maxAttempts: 4 });
    expect(card.journal).toBeNull();
    expect(fake.requests.get(outcome.requestId)!.status).toBe(8);
  });

  it("keeps the default admin key when the template does not diversify, and makes one key per option", async () => {
    fake = await startFakeCm({
      diversify: false,
      options: [
        { KeyAlgorithmName: "ECDSA_P384", KeySize: 384, HashAlgorithmName: "SHA384", Subject: "" },
        { KeyAlgorithmName: "RSA", KeySize: 3072, HashAlgorithmName: "SHA256", Subject: "CN=x" },
      ],
      doNotInstallCaCertificates: true,
    });
    const { outcome, store, titles } = await enroll(fake);
    expect(titles).not.toContain("Set card admin key");
    expect(titles).toContain("Generate ECDSA P-384 key on card");
    expect(titles).toContain("Generate RSA 3072 key on card");
    if (outcome.kind !== "completed") throw new Error("not completed");
    expect(outcome.certificates).toHaveLength(2);
    const card = store.open(outcome.cardId).card;
    expect(card.containers().every((c) => c.certificate)).toBe(true);
    expect(card.caCertificates()).toHaveLength(0);
    card.authenticateAdmin(adminChallengeResponse(Buffer.from(DEFAULT_KEY_HEX, "hex"), card.getChallenge()));
  });

  it("sets the PIN the server proposes and hands it back once", async () => {
    fake = await startFakeCm({ userPinOption: 3 });
    const { outcome, store, titles } = await enroll(fake, { pin: null });
    expect(titles).toContain("Set server-proposed PIN");
    if (outcome.kind !== "completed") throw new Error("not completed");
    expect(outcome.serverProposedPin).toBe(fake.serverPin);
    store.open(outcome.cardId).card.verifyPin(fake.serverPin);
  });

  it("re-enrolls a card that already carries its diversified admin key", async () => {
    fake = await startFakeCm();
    const first = await enroll(fake);
    if (first.outcome.kind !== "completed") throw new Error("not completed");
    const again = await enroll(fake, { store: first.store, cardRef: first.outcome.cardId, pin: "second-PIN" });
    expect(again.outcome.kind).toBe("completed");
    const adminStep = again.events.find((e) => e.type === "done" && e.title === "Set card admin key") as { detail?: string };
    expect(adminStep.detail).toBe("already diversified");
    const card = first.store.open(first.outcome.cardId).card;
    expect(card.containers().filter((c) => c.certificate)).toHaveLength(2);
    card.verifyPin("second-PIN");
  });

  it("leaves nothing behind when a request needs approval", async () => {
    fake = await startFakeCm({ approvals: 1 });
    const { outcome, store } = await enroll(fake);
    expect(outcome).toMatchObject({ kind: "pending" });
    expect(store.list()).toEqual([]);
  });
});

describe("online unblock flow (fake server)", () => {
  it("sets the PIN the server proposes when the template says so, and completes the request", async () => {
    fake = await startFakeCm({ userPinOption: 2 });
    const { outcome, store } = await enroll(fake, { pin: null });
    if (outcome.kind !== "completed") throw new Error("expected a completed enrollment");
    const locked = store.openLocked(outcome.cardId);
    try {
      const card = locked.card;
      card.changePin(fake.serverPin, "user-changed-1");
      for (let i = 0; i < 4; i++) expect(() => card.verifyPin("wrong-pin-x")).toThrow();
      expect(card.pinStatus().blocked).toBe(true);

      const api = new ApiClient({ server: fake.url, user: "alice", password: "alice" });
      const smartcard = await api.getSmartcard(outcome.smartcardUuid);
      const config = await api.getSmartcardConfig(fake.template.uuid);
      const events: StepEvent[] = [];
      const done = await runOnlineUnblock(
        { card, smartcard, config, newPin: null, dataCollection: [], comment: "" },
        { api, steps: new StepRunner((e) => events.push(e)) },
      );
      expect(done).toMatchObject({ kind: "completed", serverProposedPin: fake.serverPin, pin: { blocked: false } });
      expect(events.filter((e) => e.type === "done").map((e) => (e as { title: string }).title)).toEqual([
        "Create unblock request",
        "Check request status",
        "Get server-proposed PIN",
        "Authenticate to card with the server's response",
        "Set server-proposed PIN",
        "Complete request",
      ]);
      expect(() => card.verifyPin(fake!.serverPin)).not.toThrow();
      expect(fake.requests.get(done.requestId)!.status).toBe(8);
      const proposed = fake.seen.filter((r) => r.url.pathname.endsWith("/serverproposedpin"));
      expect(proposed.at(-1)!.url.pathname).toContain(outcome.smartcardUuid);
    } finally {
      locked.release();
    }
  });
});
