// Acceptance: every bad input of SPEC §12 and each typographic slip of the walkthrough gets its
// documented answer — a clear 4xx with the error body, never a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { call, REPO, startServer, type TestServer } from "../helpers/server.js";
import { bindCard, createRequest, users, VPN } from "../helpers/flow.js";

let server: TestServer;
let requestId: string;
beforeAll(async () => {
  server = await startServer();
  requestId = await createRequest(server, users.alice);
  await bindCard(server, users.alice, requestId);
});
afterAll(async () => {
  await server?.stop();
});

function expectError(r: { status: number; body: any; headers: Headers }, status: number, message?: RegExp) {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
  expect(Object.keys(r.body).sort()).toEqual(["CorrelationId", "ErrorCode", "Message"]);
  expect(r.body.CorrelationId).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.headers.get("x-correlation-id")).toBe(r.body.CorrelationId);
  expect(JSON.stringify(r.body)).not.toMatch(/\bat .*\.(js|ts):\d+/); // no stack trace
  if (message) expect(r.body.Message).toMatch(message);
}

function opensslCsr(args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "openclm-csr-"));
  execFileSync("openssl", ["req", "-new", "-nodes", "-subj", "/CN=x", "-keyout", join(dir, "k.pem"), "-out", join(dir, "r.der"), "-outform", "DER", ...args], { stdio: "ignore" });
  return readFileSync(join(dir, "r.der")).toString("base64");
}

const submit = (body: unknown) => call(server, "POST", `/requests/${requestId}/certificatedata`, { ...users.alice, body });

describe("bad input", () => {
  it("401 without or with wrong credentials, with WWW-Authenticate", async () => {
    const none = await call(server, "GET", "/requests");
    expectError(none, 401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic/);
    expectError(await call(server, "GET", "/requests", { user: "alice", password: "wrong" }), 401);
    expectError(await call(server, "GET", "/requests", { user: "nobody", password: "x" }), 401);
  });

  it("413 for a body over 1 MiB, 415 for a non-JSON body, 400 for malformed JSON", async () => {
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: JSON.stringify({ type: "Enroll", comment: "x".repeat(1_100_000) }) }), 413);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: "type=Enroll", headers: { "content-type": "application/x-www-form-urlencoded" } }), 415);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: "{\"type\": \"Enroll\"" }), 400, /not valid JSON/);
  });

  it("400 naming the field for schema violations and overlong strings", async () => {
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [] } }), 400, /comment/);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "", target: "x".repeat(300) } }), 400, /target/);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Frobnicate", profiletemplateuuid: VPN, datacollection: [], comment: "" } }), 400, /type/);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Enroll", profiletemplateuuid: "not-a-guid", datacollection: [], comment: "" } }), 400, /profiletemplateuuid/);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [], comment: "" } }), 400, /Request Reason/);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: [{ Unknown: "x" }, { "Request Reason": "r" }], comment: "" } }), 400, /unknown item/);
    expectError(await call(server, "POST", "/requests", { ...users.alice, body: { type: "Enroll", profiletemplateuuid: VPN, datacollection: "[{broken", comment: "" } }), 400, /datacollection/);
  });

  it("accepts the lenient forms clients send", async () => {
    const r = await call(server, "POST", "/requests", {
      ...users.alice,
      body: `{"Type":"enroll","ProfileTemplateUuid":"{${VPN.toUpperCase()}}","DataCollection":[{"Name":"Request Reason","Value":"x"},],"Comment":"","Priority":"4",}`,
    });
    expect(r.status, r.text).toBe(201);
    const lower = await call(server, "GET", `/certificatemanagement/API/v1.0/requests/${(r.body as string).split("/").pop()}/`, users.alice);
    expect(lower.status).toBe(200);
  });

  it("400 for bad base64, truncated DER, weak keys, wrong curves and bad signatures", async () => {
    expectError(await submit({ certificaterequests: ["!!!not base64!!!"] }), 400, /certificaterequests\[0\]/);
    const good = opensslCsr(["-newkey", "rsa:2048", "-sha256"]);
    const der = Buffer.from(good, "base64");
    expectError(await submit({ certificaterequests: [der.subarray(0, der.length - 40).toString("base64")] }), 400, /certificaterequests\[0\]/);
    expectError(await submit({ certificaterequests: [opensslCsr(["-newkey", "rsa:512", "-sha256"])] }), 400, /2048/);
    expectError(await submit({ certificaterequests: [opensslCsr(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-sha256"])] }), 400, /RSA/);
    expectError(await submit({ certificaterequests: [opensslCsr(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256"])] }), 400, /RSA/);
    const flipped = Buffer.from(der);
    flipped[flipped.length - 5] ^= 0x01;
    expectError(await submit({ certificaterequests: [flipped.toString("base64")] }), 400, /signature/);
    expectError(await submit({ certificaterequests: [good, good] }), 400, /one per generation option/);
  });

  it("parses the real Windows SHA-1 CSR and refuses it for its hash", async () => {
    const vector = readFileSync(resolve(REPO, "test/fixtures/mimcm-doc-csr-sha1-rsa2048.b64"), "utf8");
    expectError(await submit({ certificaterequests: [vector] }), 400, /SHA1.*not allow/);
  });

  it("refuses the walkthrough's 7-byte hex challenge and bad booleans", async () => {
    const other = await createRequest(server, users.alice);
    const { scid, card } = await bindCard(server, users.alice, other);
    const base = `/requests/${other}/smartcards/${scid}/authenticationresponse?cardid=${card.cardId}`;
    expectError(await call(server, "GET", `${base}&challenge=CFAA62118BBD25&diversified=false`, users.alice), 400, /8-byte challenge/);
    expectError(await call(server, "GET", `${base}&challenge=${encodeURIComponent(Buffer.alloc(8).toString("base64"))}&diversified=maybe`, users.alice), 400, /diversified/);
    expectError(await call(server, "GET", `/requests/${other}/smartcards/${scid}/diversifiedkey`, users.alice), 400, /cardid/);
  });

  it("404 for unknown objects and paths, and 200 [] for empty collections", async () => {
    expectError(await call(server, "GET", `/requests/${crypto.randomUUID()}`, users.alice), 404);
    expectError(await call(server, "GET", "/requests/not-a-guid", users.alice), 404);
    expectError(await call(server, "GET", "/nothing/here", users.alice), 404);
    const empty = await call(server, "GET", "/smartcards", users.dave);
    expect(empty.status).toBe(200);
    const bobCerts = await call(server, "GET", "/certificates", users.bob);
    expect(bobCerts.body).toEqual([]);
  });

  it("serves health, readiness, OpenAPI and a signed empty CRL without credentials", async () => {
    expect((await call(server, "GET", "/healthz")).status).toBe(200);
    expect((await call(server, "GET", "/readyz")).status).toBe(200);
    const api = await call(server, "GET", "/openapi.json");
    expect(api.status).toBe(200);
    expect(Object.keys(api.body.paths)).toEqual(expect.arrayContaining(["/CertificateManagement/api/v1.0/requests/{id}/certificatedata"]));
    const crl = await fetch(`${server.url}/CertificateManagement/api/v1.0/ca/crl`);
    expect(crl.headers.get("content-type")).toBe("application/pkix-crl");
    const dir = mkdtempSync(join(tmpdir(), "openclm-crl-"));
    writeFileSync(join(dir, "crl.der"), Buffer.from(await crl.arrayBuffer()));
    const chain = await call(server, "GET", "/ca/certificates");
    writeFileSync(join(dir, "issuing.pem"), chain.text.split(/(?<=-----END CERTIFICATE-----\n?)/)[0]!);
    const out = execFileSync("openssl", ["crl", "-inform", "DER", "-in", join(dir, "crl.der"), "-noout", "-text", "-CAfile", join(dir, "issuing.pem")], { stdio: ["ignore", "pipe", "pipe"] }).toString();
    expect(out).toMatch(/No Revoked Certificates/);
    expect(out).toMatch(/X509v3 CRL Number/);
  });
});

describe("access log", () => {
  it("writes one line per answered request, under the correlation id the client got", async () => {
    const answers = [await call(server, "GET", "/requests", users.alice), await call(server, "GET", "/requests"), await fetch(`${server.url}/no-such-path`)];
    const ids = answers.map((a) => a.headers.get("x-correlation-id")!);
    const linesOf = (id: string) =>
      readFileSync(server.logFile, "utf8")
        .split("\n")
        .filter((l) => l.includes(`"correlationId":"${id}"`) && l.includes('"msg":"request completed"'));
    // The line is written once the response has gone out, so it may trail the client a little.
    for (let i = 0; i < 100 && !ids.every((id) => linesOf(id).length > 0); i++) await new Promise((r) => setTimeout(r, 20));
    expect(ids.map((id) => linesOf(id).map((l) => JSON.parse(l).res.statusCode))).toEqual([[200], [401], [404]]);
  });
});

describe("metrics", () => {
  it("exposes request counters and latency histograms", async () => {
    await call(server, "GET", "/requests", users.alice);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const m = { text: await res.text() };
    expect(m.text).toMatch(/openclm_http_requests_total\{method="GET",route="\/CertificateManagement\/api\/v1\.0\/requests",status="200"\} \d+/);
    expect(m.text).toMatch(/openclm_http_request_duration_seconds_bucket\{.*le="\+Inf"\}/);
    expect(m.text).toMatch(/process_resident_memory_bytes \d+/);
    // Each series' buckets are cumulative, and the last one (+Inf) holds every request it counted.
    const series = '{method="GET",route="/CertificateManagement/api/v1.0/requests",status="200"';
    const buckets = m.text
      .split("\n")
      .filter((l) => l.startsWith(`openclm_http_request_duration_seconds_bucket${series},`))
      .map((l) => Number(l.split(" ").pop()));
    const count = Number(m.text.split("\n").find((l) => l.startsWith(`openclm_http_request_duration_seconds_count${series}}`))!.split(" ").pop());
    expect(buckets).toHaveLength(12);
    expect(count).toBeGreaterThanOrEqual(1);
    buckets.forEach((b, i) => expect(b).toBeGreaterThanOrEqual(i === 0 ? 0 : buckets[i - 1]!));
    expect(buckets.at(-1)).toBe(count);
  });
});
