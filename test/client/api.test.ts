import { afterEach, describe, expect, it } from "vitest";
import { ApiClient, apiBaseUrl } from "../../src/client/api.js";
import { ApiError, errorKind, exitCodeFor, ExitCode, InputError, InterruptedError, NetworkError } from "../../src/client/errors.js";
import { PinBlockedError, WrongPinError } from "../../src/client/card/errors.js";
import { ProtocolError } from "../../src/client/wire.js";
import { json, startStub } from "./support/stub-server.js";

const BASE = "/CertificateManagement/api/v1.0";
let stub: Awaited<ReturnType<typeof startStub>> | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

const client = (url: string, extra: Partial<ConstructorParameters<typeof ApiClient>[0]> = {}) =>
  new ApiClient({ server: url, user: "alice", password: "s3cret:x", ...extra });

describe("api client", () => {
  it("puts the base path after the server URL once", () => {
    expect(apiBaseUrl("http://h:1")).toBe(`http://h:1${BASE}`);
    expect(apiBaseUrl("http://h:1/")).toBe(`http://h:1${BASE}`);
    expect(apiBaseUrl(`https://h${BASE}/`)).toBe(`https://h${BASE}`);
    expect(apiBaseUrl("https://h/prefix")).toBe(`https://h/prefix${BASE}`);
    expect(() => apiBaseUrl("ftp://h")).toThrow(NetworkError);
  });

  it("sends Basic credentials and reads PascalCase objects", async () => {
    stub = await startStub((_req, res) =>
      json(res, 200, [{ Name: "Virtual Smartcard VPN", Description: "d", Uuid: "97CD65FA-AF4B-4587-9309-0DD6BFD8B4E1", IsSmartcardProfileTemplate: true, IsVirtualSmartcardProfileTemplate: true }]),
    );
    const templates = await client(stub.url).listProfileTemplates();
    expect(templates).toEqual([{ name: "Virtual Smartcard VPN", description: "d", uuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1", isSmartcard: true, isVirtualSmartcard: true }]);
    expect(stub.seen[0]!.url.pathname).toBe(`${BASE}/profiletemplates`);
    expect(stub.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from("alice:s3cret:x").toString("base64")}`);
  });

  it("creates a request with the walkthrough's body and reads the id from the URI string", async () => {
    stub = await startStub((_req, res) =>
      json(res, 201, "api/v1.0/requests/C6BAD97C-F97F-4920-8947-BE980C98C6B5", { location: "/x" }),
    );
    const id = await client(stub.url).createRequest({ type: "Enroll", profiletemplateuuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1", datacollection: [{ "Request Reason": "Need VPN" }], comment: "" });
    expect(id).toBe("c6bad97c-f97f-4920-8947-be980c98c6b5");
    expect(JSON.parse(stub.seen[0]!.body)).toEqual({ type: "Enroll", profiletemplateuuid: "97cd65fa-af4b-4587-9309-0dd6bfd8b4e1", datacollection: [{ "Request Reason": "Need VPN" }], comment: "" });
    expect(stub.seen[0]!.headers["content-type"]).toBe("application/json");
  });

  it("falls back to the Location header when the body is not a URI string", async () => {
    stub = await startStub((_req, res) => {
      res.writeHead(201, { location: `${BASE}/smartcards/d700d97c-f91f-4930-8947-be980c98a644` });
      res.end();
    });
    expect(await client(stub.url).bindSmartcard("r", "c", "atr")).toBe("d700d97c-f91f-4930-8947-be980c98a644");
  });

  it("sends the admin challenge as base64 with cardid and diversified, and checks the answer's length", async () => {
    stub = await startStub((req, res) => json(res, 200, req.url.searchParams.get("diversified") === "true" ? "AAAA" : "F0Zudm4wPLY="));
    const api = client(stub.url);
    const challenge = Buffer.from("d61143f9ccffd2ca", "hex");
    const response = await api.getAuthenticationResponse("r1", "s1", "card-1", "3b8d", challenge, false);
    expect(response.toString("base64")).toBe("F0Zudm4wPLY=");
    const q = stub.seen[0]!.url.searchParams;
    expect(stub.seen[0]!.url.pathname).toBe(`${BASE}/requests/r1/smartcards/s1/authenticationresponse`);
    expect(q.get("challenge")).toBe("1hFD+cz/0so=");
    expect(q.get("cardid")).toBe("card-1");
    expect(q.get("diversified")).toBe("false");
    await expect(api.getAuthenticationResponse("r1", "s1", "card-1", "3b8d", challenge, true)).rejects.toThrow(ProtocolError);
  });

  it("turns an error body into an ApiError with Message, ErrorCode and CorrelationId", async () => {
    stub = await startStub((_req, res) =>
      json(res, 403, { Message: "you may not enroll for this template", ErrorCode: "forbidden", CorrelationId: "0b6c3c4e-1111-2222-3333-444455556666" }),
    );
    const err = await client(stub.url).getPolicy("t", "enroll").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, message: "you may not enroll for this template", errorCode: "forbidden", correlationId: "0b6c3c4e-1111-2222-3333-444455556666" });
    expect(exitCodeFor(err)).toBe(ExitCode.Permission);
  });

  it("copes with an error that has no JSON body", async () => {
    stub = await startStub((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    });
    const err = (await client(stub.url).getRequest("x").catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/502/);
    expect(exitCodeFor(err)).toBe(ExitCode.Server);
  });

  it("reports an unreachable server as a network error", async () => {
    const err = await client("http://127.0.0.1:1").getRequest("x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(exitCodeFor(err)).toBe(ExitCode.Server);
  });

  it("gives up after its timeout", async () => {
    stub = await startStub(() => {
      // never answers
    });
    const err = await client(stub.url, { timeoutMs: 200 }).getRequest("x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(/no answer/);
  });

  it("stops at once when aborted, as Ctrl-C does", async () => {
    stub = await startStub(() => {});
    const abort = new AbortController();
    const pending = client(stub.url, { signal: abort.signal }).getRequest("x").catch((e: unknown) => e);
    setTimeout(() => abort.abort(), 50);
    expect(await pending).toBeInstanceOf(InterruptedError);
  });
});

describe("exit codes", () => {
  const api = (status: number) => new ApiError(status, "m", null, null, "GET", "/");
  it.each([
    [400, ExitCode.Input],
    [401, ExitCode.Auth],
    [403, ExitCode.Permission],
    [404, ExitCode.Permission],
    [409, ExitCode.Input],
    [413, ExitCode.Input],
    [415, ExitCode.Input],
    [429, ExitCode.Server],
    [500, ExitCode.Server],
    [503, ExitCode.Server],
  ])("server status %i exits %i", (status, code) => {
    expect(exitCodeFor(api(status))).toBe(code);
  });

  it("maps local errors", () => {
    expect(exitCodeFor(new InputError("x"))).toBe(2);
    expect(exitCodeFor(new WrongPinError(2))).toBe(2);
    expect(exitCodeFor(new PinBlockedError())).toBe(7);
    expect(exitCodeFor(new NetworkError("x"))).toBe(5);
    expect(exitCodeFor(new InterruptedError())).toBe(130);
    expect(errorKind(new Error("boom"))).toBe("internal");
    expect(exitCodeFor(new Error("boom"))).toBe(1);
  });
});
