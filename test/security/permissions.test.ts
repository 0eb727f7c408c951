// Acceptance (issue 5): the permission matrix. Every endpoint × every role × {an object of the
// caller's own, an object of someone else}, with the exact status, and no 403/404 body that
// tells more than a request for an object that does not exist. Plus the enrollment agent flow:
// carol enrolls a card for alice and the request, card, certificate and audit trail show both.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer, type ApiResponse, type TestServer } from "../helpers/server.js";
import { TestCard } from "../helpers/card.js";
import { configYaml, LOGON, personas, SOFTWARE, VPN, VPN_KEY, writeConfig, type Persona } from "./support.js";

const P = personas();
const ROLES = ["anonymous", "target", "other", "approver", "agent", "helpdesk", "auditor", "admin"] as const;
type Role = (typeof ROLES)[number];
const WHO: Record<Role, Persona | undefined> = {
  anonymous: undefined,
  target: P.alice,
  other: P.grace,
  approver: P.bob,
  agent: P.carol,
  helpdesk: P.erin,
  auditor: P.frank,
  admin: P.dave,
};

/** The objects a user owns, as the endpoints are called with them. */
interface Objects {
  user: string;
  userUuid: string;
  /** A completed VPN enrollment (request, card, certificate). */
  done: { requestId: string; scid: string; cardId: string; serial: string };
  /** An executing VPN enrollment with a bound card. */
  open: { requestId: string; scid: string; cardId: string };
  /** A software profile. */
  profileId: string;
}

let server: TestServer;
const owned = new Map<string, Objects>();

const as = (who: Persona | undefined) => (who ? { user: who.user, password: who.password } : {});
const idOf = (r: ApiResponse) => (r.body as string).split("/").pop()!;

async function request(who: Persona, body: Record<string, unknown>): Promise<string> {
  const r = await call(server, "POST", "/requests", { ...as(who), body: { datacollection: [], comment: "", ...body } });
  expect(r.status, r.text).toBe(201);
  return idOf(r);
}

async function bind(who: Persona, requestId: string): Promise<{ scid: string; card: TestCard }> {
  const card = new TestCard(VPN_KEY);
  const r = await call(server, "POST", "/smartcards", { ...as(who), body: { requestid: requestId, cardid: card.cardId } });
  expect(r.status, r.text).toBe(201);
  return { scid: idOf(r), card };
}

async function issue(who: Persona, requestId: string, card: TestCard): Promise<void> {
  const csr = await card.csr();
  const r = await call(server, "POST", `/requests/${requestId}/certificatedata`, { ...as(who), body: { certificaterequests: [csr.der.toString("base64")] } });
  expect(r.status, r.text).toBe(200);
  const done = await call(server, "PUT", `/requests/${requestId}`, { ...as(who), body: { status: "Completed" } });
  expect(done.status, done.text).toBe(200);
}

async function objectsOf(who: Persona): Promise<Objects> {
  const me = await call(server, "GET", `/requests/${await request(who, { type: "Enroll", profiletemplateuuid: VPN })}`, as(who));
  const doneId = me.body.Uuid as string;
  const d = await bind(who, doneId);
  await issue(who, doneId, d.card);
  const serial = (await call(server, "GET", `/smartcards/${d.scid}/certificates`, as(who))).body[0].SerialNumber as string;
  const openId = await request(who, { type: "Enroll", profiletemplateuuid: VPN });
  const o = await bind(who, openId);
  const sw = await request(who, { type: "Enroll", profiletemplateuuid: SOFTWARE });
  const pfx = await call(server, "POST", `/requests/${sw}/certificatedata`, { ...as(who), body: { certificaterequests: [], pfxpassword: "matrix-pfx" } });
  expect(pfx.status, pfx.text).toBe(200);
  const profileId = (await call(server, "GET", `/requests/${sw}/profiles`, as(who))).body[0].Uuid as string;
  return {
    user: who.user,
    userUuid: me.body.TargetUserUuid,
    done: { requestId: doneId, scid: d.scid, cardId: d.card.cardId, serial },
    open: { requestId: openId, scid: o.scid, cardId: o.card.cardId },
    profileId,
  };
}

/** Objects that do not exist: what a 404 for an invisible object must be indistinguishable from. */
function ghost(user: string): Objects {
  const g = () => randomUUID();
  return {
    user,
    userUuid: g(),
    done: { requestId: g(), scid: g(), cardId: g().toUpperCase(), serial: "00" },
    open: { requestId: g(), scid: g(), cardId: g().toUpperCase() },
    profileId: g(),
  };
}

beforeAll(async () => {
  const config = writeConfig(configYaml(Object.values(P)));
  server = await startServer({ demo: false, args: ["--config", config] });
  for (const who of Object.values(P)) if (who !== P.zed) owned.set(who.user, await objectsOf(who));
}, 300_000);
afterAll(async () => {
  await server?.stop();
});

interface Endpoint {
  name: string;
  /** Per role in ROLES order: "own/foreign" statuses. */
  expect: string;
  /** Objects for this call; endpoints that change state get fresh ones. */
  fresh?: (owner: Persona) => Promise<Partial<Objects>>;
  call: (who: Persona | undefined, o: Objects, side: "own" | "foreign") => Promise<ApiResponse>;
}

const get = (path: string) => (who: Persona | undefined) => call(server, "GET", path, as(who));
const freshOpen = async (owner: Persona) => {
  const requestId = await request(owner, { type: "Enroll", profiletemplateuuid: VPN });
  const { scid, card } = await bind(owner, requestId);
  return { open: { requestId, scid, cardId: card.cardId } };
};
const freshApproved = async (owner: Persona) => ({ open: { requestId: await request(owner, { type: "Enroll", profiletemplateuuid: VPN }), scid: "", cardId: "" } });
const freshPendingLogon = async (owner: Persona) => ({
  open: { requestId: await request(owner, { type: "Enroll", profiletemplateuuid: LOGON }), scid: "", cardId: "" },
});
let created = 0;

//                                   anonymous target  other   approver agent   helpdesk auditor admin
const ENDPOINTS: Endpoint[] = [
  { name: "GET /healthz", expect: "200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: (w) => call(server, "GET", "/healthz", as(w)) },
  { name: "GET /ca/certificates", expect: "200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/ca/certificates") },
  { name: "GET /ca/crl", expect: "200/200 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/ca/crl") },
  { name: "GET /profiletemplates", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/profiletemplates") },
  { name: "GET /profiletemplates/{id}", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get(`/profiletemplates/${VPN}`) },
  { name: "GET /profiletemplates/{id}/policies/enroll", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get(`/profiletemplates/${VPN}/policies/enroll`) },
  { name: "GET /profiletemplates/{id}/configuration/smartcards", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get(`/profiletemplates/${VPN}/configuration/smartcards`) },
  {
    name: "POST /requests (self / for the other user)",
    expect: "401/401 201/403 201/403 201/403 201/201 201/201 201/403 201/403",
    call: (w, o, side) =>
      call(server, "POST", "/requests", { ...as(w), body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "", ...(side === "foreign" ? { target: o.user } : {}) } }),
  },
  { name: "GET /requests", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/requests") },
  { name: "GET /requests/{id}", expect: "401/401 200/404 200/404 200/404 200/200 200/200 200/200 200/200", call: (w, o) => get(`/requests/${o.done.requestId}`)(w) },
  {
    name: "PUT /requests/{id} Canceled",
    expect: "401/401 200/404 200/404 200/404 200/403 200/403 200/403 200/200",
    fresh: freshApproved,
    call: (w, o) => call(server, "PUT", `/requests/${o.open.requestId}`, { ...as(w), body: { status: "Canceled" } }),
  },
  {
    name: "POST /requests/{id}/approvals",
    expect: "401/401 403/404 403/404 403/200 403/403 403/404 403/403 403/403",
    fresh: freshPendingLogon,
    call: (w, o) => call(server, "POST", `/requests/${o.open.requestId}/approvals`, { ...as(w), body: { decision: "Approve", comment: "matrix" } }),
  },
  {
    name: "GET /requests/{id}/certificaterequestgenerationoptions",
    expect: "401/401 200/404 200/404 200/404 200/403 200/403 200/403 200/403",
    call: (w, o) => get(`/requests/${o.open.requestId}/certificaterequestgenerationoptions`)(w),
  },
  {
    name: "POST /requests/{id}/certificatedata (a garbage CSR)",
    expect: "401/401 400/404 400/404 400/404 400/403 400/403 400/403 400/403",
    call: (w, o) => call(server, "POST", `/requests/${o.open.requestId}/certificatedata`, { ...as(w), body: { certificaterequests: ["AA=="] } }),
  },
  { name: "GET /requests/{id}/profiles", expect: "401/401 200/404 200/404 200/404 200/200 200/200 200/200 200/200", call: (w, o) => get(`/requests/${o.done.requestId}/profiles`)(w) },
  {
    name: "POST /smartcards (bind)",
    expect: "401/401 201/404 201/404 201/404 201/403 201/403 201/403 201/403",
    fresh: freshApproved,
    call: (w, o) => call(server, "POST", "/smartcards", { ...as(w), body: { requestid: o.open.requestId, cardid: randomUUID() } }),
  },
  { name: "GET /smartcards", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/smartcards") },
  { name: "GET /smartcards/{id}", expect: "401/401 200/404 200/404 200/404 200/200 200/200 200/200 200/200", call: (w, o) => get(`/smartcards/${o.done.scid}`)(w) },
  { name: "GET /smartcards/{id}/operations", expect: "401/401 200/404 200/404 200/404 200/200 200/200 200/200 200/200", call: (w, o) => get(`/smartcards/${o.done.scid}/operations`)(w) },
  { name: "GET /smartcards/{id}/certificates", expect: "401/401 200/404 200/404 200/404 200/200 200/200 200/200 200/200", call: (w, o) => get(`/smartcards/${o.done.scid}/certificates`)(w) },
  // VPN cards take user-provided PINs: whoever may see the card is told so (409).
  { name: "GET /smartcards/{id}/serverproposedpin", expect: "401/401 409/404 409/404 409/404 409/409 409/409 409/409 409/409", call: (w, o) => get(`/smartcards/${o.done.scid}/serverproposedpin`)(w) },
  {
    name: "GET /requests/{r}/smartcards/{s}",
    expect: "401/401 200/404 200/404 200/404 200/200 200/200 200/200 200/200",
    call: (w, o) => get(`/requests/${o.open.requestId}/smartcards/${o.open.scid}`)(w),
  },
  {
    name: "PUT /requests/{r}/smartcards/{s} Retired",
    expect: "401/401 200/404 200/404 200/404 200/403 200/403 200/403 200/403",
    fresh: freshOpen,
    call: (w, o) => call(server, "PUT", `/requests/${o.open.requestId}/smartcards/${o.open.scid}`, { ...as(w), body: { status: "Retired" } }),
  },
  {
    name: "GET /requests/{r}/smartcards/{s}/diversifiedkey",
    expect: "401/401 200/404 200/404 200/404 200/403 200/403 200/403 200/403",
    call: (w, o) => get(`/requests/${o.open.requestId}/smartcards/${o.open.scid}/diversifiedkey?cardid=${o.open.cardId}`)(w),
  },
  {
    name: "GET /requests/{r}/smartcards/{s}/authenticationresponse",
    expect: "401/401 200/404 200/404 200/404 200/403 200/403 200/403 200/403",
    call: (w, o) => get(`/requests/${o.open.requestId}/smartcards/${o.open.scid}/authenticationresponse?cardid=${o.open.cardId}&challenge=AQIDBAUGBwg%3D&diversified=false`)(w),
  },
  { name: "GET /profiles", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/profiles") },
  // The software template names agents but no helpdesk: the helpdesk does not see its profiles.
  { name: "GET /profiles/{id}", expect: "401/401 200/404 200/404 200/404 200/200 200/404 200/200 200/200", call: (w, o) => get(`/profiles/${o.profileId}`)(w) },
  { name: "GET /profiles/{id}/operations", expect: "401/401 200/404 200/404 200/404 200/200 200/404 200/200 200/200", call: (w, o) => get(`/profiles/${o.profileId}/operations`)(w) },
  { name: "GET /profiles/{id}/certificates", expect: "401/401 200/404 200/404 200/404 200/200 200/404 200/200 200/200", call: (w, o) => get(`/profiles/${o.profileId}/certificates`)(w) },
  { name: "GET /certificates", expect: "401/401 200/200 200/200 200/200 200/200 200/200 200/200 200/200", call: get("/certificates") },
  { name: "GET /audit", expect: "401/401 403/403 403/403 403/403 403/403 403/403 200/200 200/200", call: (w, o) => get(`/audit?target=${o.userUuid}`)(w) },
  { name: "GET /admin/users", expect: "401/401 403/403 403/403 403/403 403/403 403/403 200/200 200/200", call: get("/admin/users") },
  { name: "GET /admin/users/{name}", expect: "401/401 403/403 403/403 403/403 403/403 403/403 200/200 200/200", call: (w, o) => get(`/admin/users/${o.user}`)(w) },
  { name: "GET /admin/groups", expect: "401/401 403/403 403/403 403/403 403/403 403/403 200/200 200/200", call: get("/admin/groups") },
  {
    name: "POST /admin/users",
    expect: "401/401 403/403 403/403 403/403 403/403 403/403 403/403 201/201",
    call: (w) => call(server, "POST", "/admin/users", { ...as(w), body: { name: `matrix-${++created}`, groups: ["cm-users"] } }),
  },
  {
    name: "PUT /admin/users/{name} (self / another user)",
    expect: "401/401 403/403 403/403 403/403 403/403 403/403 403/403 200/200",
    call: (w, o, side) => call(server, "PUT", `/admin/users/${side === "own" ? (w?.user ?? "alice") : P.zed.user}`, { ...as(w), body: { displayname: `Renamed ${++created}` } }),
  },
];

/** What a 403/404 body may not contain: anything identifying the object or its owner. */
function identifiers(o: Objects): string[] {
  return [o.userUuid, `${o.user}@example.test`, o.done.requestId, o.done.scid, o.done.cardId, o.done.serial, o.open.requestId, o.open.scid, o.open.cardId, o.profileId].filter((s) => s.length > 2).flatMap((s) => [
    s,
    s.toLowerCase(),
  ]);
}

describe("permission matrix", () => {
  it.each(ENDPOINTS.map((e) => [e.name, e] as const))("%s", async (_name, endpoint) => {
    const expected = endpoint.expect.split(/\s+/).map((pair) => pair.split("/").map(Number) as [number, number]);
    expect(expected).toHaveLength(ROLES.length);
    const failures: string[] = [];
    for (const [i, role] of ROLES.entries()) {
      const who = WHO[role];
      for (const side of ["own", "foreign"] as const) {
        // Anonymous callers own nothing: both columns use alice's objects.
        const owner = side === "own" && who ? who : who === P.alice ? P.grace : P.alice;
        const base = owned.get(owner.user)!;
        const o = endpoint.fresh ? { ...base, ...(await endpoint.fresh(owner)) } : base;
        const r = await endpoint.call(who, o, side);
        const want = expected[i]![side === "own" ? 0 : 1];
        if (r.status !== want) failures.push(`${role}/${side}: expected ${want}, got ${r.status} ${r.text.slice(0, 160)}`);
        if (r.status === 401) expect(r.headers.get("www-authenticate")).toMatch(/^Basic realm="OpenCLM"/);
        if (r.status === 403 || r.status === 404) {
          expect(Object.keys(r.body).sort(), `${role}/${side}`).toEqual(["CorrelationId", "ErrorCode", "Message"]);
          for (const id of identifiers(o)) expect(r.text, `${role}/${side} leaks ${id}`).not.toContain(id);
        }
        if (r.status === 404) {
          // Invisible and non-existent look the same.
          const none = await endpoint.call(who, ghost(o.user), side);
          expect(none.status, `${role}/${side} for a non-existent object`).toBe(404);
          expect({ Message: none.body.Message, ErrorCode: none.body.ErrorCode }).toEqual({ Message: r.body.Message, ErrorCode: r.body.ErrorCode });
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("lists only what each role may see", async () => {
    const alice = owned.get("alice")!;
    const ids = async (who: Persona, path: string, key = "Uuid") => ((await call(server, "GET", path, as(who))).body as any[]).map((x) => x[key]);
    expect(await ids(P.grace, "/requests?top=1000")).not.toContain(alice.done.requestId);
    expect(await ids(P.grace, "/smartcards?top=1000")).not.toContain(alice.done.scid);
    expect(await ids(P.grace, "/profiles?top=1000")).not.toContain(alice.profileId);
    expect(await ids(P.grace, "/certificates?top=1000", "SerialNumber")).not.toContain(alice.done.serial);
    expect(await ids(P.grace, `/smartcards?cardid=${alice.done.cardId}`)).toEqual([]);
    for (const who of [P.frank, P.dave]) {
      expect(await ids(who, "/requests?top=1000")).toContain(alice.done.requestId);
      expect(await ids(who, "/smartcards?top=1000")).toContain(alice.done.scid);
      expect(await ids(who, "/certificates?top=1000", "SerialNumber")).toContain(alice.done.serial);
    }
    // Templates offered for another user: only to those who may start enrollments for them.
    expect(await ids(P.grace, `/profiletemplates?targetuser=alice`)).toEqual([]);
    expect(await ids(P.carol, `/profiletemplates?targetuser=alice`)).toEqual(expect.arrayContaining([VPN, LOGON, SOFTWARE]));
    expect(await ids(P.dave, `/profiletemplates?targetuser=alice`)).toEqual([]);
  });
});

describe("enrollment agent", () => {
  it("carol enrolls a card for alice; request, card, certificate and audit trail name both", async () => {
    const alice = owned.get("alice")!;
    const id = await request(P.carol, { type: "Enroll", profiletemplateuuid: VPN, target: "alice" });
    const req = (await call(server, "GET", `/requests/${id}`, as(P.alice))).body;
    const carolUuid = (await call(server, "GET", "/admin/users/carol", as(P.dave))).body.Uuid;
    expect(req).toMatchObject({ OriginatorUserUuid: carolUuid, TargetUserUuid: alice.userUuid, IsEnrollmentAgent: true, Status: 3 });
    // The agent carries it out; the target cannot take over the agent's request.
    const early = await call(server, "POST", "/smartcards", { ...as(P.alice), body: { requestid: id, cardid: randomUUID() } });
    expect(early.status).toBe(403);
    const { scid, card } = await bind(P.carol, id);
    const key = await call(server, "GET", `/requests/${id}/smartcards/${scid}/diversifiedkey?cardid=${card.cardId}`, as(P.alice));
    expect(key.status).toBe(403);
    const challenge = card.getChallenge();
    const resp = await call(server, "GET", `/requests/${id}/smartcards/${scid}/authenticationresponse?cardid=${card.cardId}&challenge=${encodeURIComponent(challenge.toString("base64"))}`, as(P.carol));
    expect(resp.status, resp.text).toBe(200);
    expect(card.authenticate(Buffer.from(resp.body, "base64"))).toBe(true);
    const options = await call(server, "GET", `/requests/${id}/certificaterequestgenerationoptions`, as(P.carol));
    expect(options.body[0].Subject).toBe("CN=Alice Test");
    await issue(P.carol, id, card);

    const cardView = (await call(server, "GET", `/smartcards/${scid}`, as(P.alice))).body;
    expect(cardView).toMatchObject({ AssignedUserUuid: alice.userUuid, Status: 3 });
    expect(cardView.Comment).toContain("carol");
    const [onCard] = (await call(server, "GET", `/smartcards/${scid}/certificates`, as(P.alice))).body as any[];
    const certs = (await call(server, "GET", "/certificates?top=1000", as(P.alice))).body as any[];
    expect(certs.find((c) => c.SerialNumber === onCard.SerialNumber)).toMatchObject({ Subject: expect.stringContaining("Alice Test"), RequesterName: "carol" });

    const trail = (await call(server, "GET", `/audit?request=${id}`, as(P.frank))).body as any[];
    const actions = trail.map((e) => `${e.Action}:${e.ActorName}`);
    expect(actions).toEqual(
      expect.arrayContaining(["request.create:carol", "smartcard.bind:carol", "smartcard.authenticationresponse:carol", "certificate.issue:carol", "request.complete:carol"]),
    );
    expect(trail.find((e) => e.Action === "request.create").Details.target).toBe(alice.userUuid);
    expect(trail.find((e) => e.Action === "certificate.issue").Details.user).toBe(alice.userUuid);
    expect(trail.find((e) => e.Action === "smartcard.bind").Details.user).toBe(alice.userUuid);
    // alice's refused attempt at the agent's key is on record too.
    expect(trail.find((e) => e.Action === "smartcard.diversifiedkey" && e.ActorName === "alice")).toMatchObject({ Outcome: "denied", Details: { reason: "NotAuthorized" } });
  });

  it("a helpdesk operator starts an enrollment for alice, which alice carries out herself", async () => {
    const id = await request(P.erin, { type: "Enroll", profiletemplateuuid: VPN, target: "alice" });
    expect((await call(server, "GET", `/requests/${id}`, as(P.alice))).body.IsEnrollmentAgent).toBe(false);
    expect((await call(server, "POST", "/smartcards", { ...as(P.erin), body: { requestid: id, cardid: randomUUID() } })).status).toBe(403);
    const { card } = await bind(P.alice, id);
    await issue(P.alice, id, card);
  });

  it("a helpdesk operator revokes alice's card and completes it, but obtains no keys", async () => {
    const alice = owned.get("alice")!;
    const enrolled = await request(P.alice, { type: "Enroll", profiletemplateuuid: VPN });
    const { scid, card } = await bind(P.alice, enrolled);
    await issue(P.alice, enrolled, card);
    // Unblock for alice: started by the helpdesk, its response goes to alice, not to erin.
    const unblock = await request(P.erin, { type: "Unblock", smartcard: scid });
    const q = `/requests/${unblock}/smartcards/${scid}/authenticationresponse?cardid=${card.cardId}&challenge=AQIDBAUGBwg%3D&diversified=true`;
    expect((await call(server, "GET", q, as(P.erin))).status).toBe(403);
    expect((await call(server, "GET", q, as(P.alice))).status).toBe(200);
    const id = await request(P.erin, { type: "Revoke", smartcard: scid, revocationreason: "keyCompromise" });
    expect((await call(server, "GET", `/requests/${id}`, as(P.erin))).body).toMatchObject({ IsEnrollmentAgent: true, TargetUserUuid: alice.userUuid });
    const done = await call(server, "PUT", `/requests/${id}`, { ...as(P.erin), body: { status: "Completed" } });
    expect(done.status, done.text).toBe(200);
    expect((await call(server, "GET", `/smartcards/${scid}`, as(P.alice))).body.Status).toBe(4);
  });
});
