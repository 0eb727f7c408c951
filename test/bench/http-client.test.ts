// The bench's own HTTP/1.1 client (bench/http.ts) against node:http servers: what it reads must be
// what was sent, however the body is framed, or the bench would count answers it never checked.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { basicAuth, HttpClient } from "../../bench/http.js";

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: http.RequestListener, opts: http.ServerOptions = {}): Promise<string> {
  const server = http.createServer(opts, handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`;
}

const readBody = (req: http.IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (text += c));
    req.on("end", () => resolve(text));
  });

describe("the bench's HTTP client", () => {
  it("sends method, path, authorization and body, and reads Content-Length answers on one kept-alive connection", async () => {
    const peers = new Set<string>();
    const url = await serve(async (req, res) => {
      peers.add(`${req.socket.remotePort}`);
      const body = await readBody(req);
      const answer = JSON.stringify({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers["content-type"], body, é: "ü" });
      res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) }).end(answer);
    });
    const client = new HttpClient(url, 1, basicAuth("alice", "secret"));
    for (let i = 0; i < 3; i++) {
      const r = await client.request("POST", `/requests?n=${i}`, JSON.stringify({ i }));
      expect(r.status).toBe(201);
      expect(JSON.parse(r.text)).toEqual({ method: "POST", url: `/base/requests?n=${i}`, auth: basicAuth("alice", "secret"), type: "application/json", body: `{"i":${i}}`, é: "ü" });
    }
    const get = await client.request("GET", "/x");
    const echoed = JSON.parse(get.text);
    expect(echoed).toMatchObject({ method: "GET", body: "" });
    expect(echoed.type).toBeUndefined();
    expect(peers.size).toBe(1);
    client.close();
  });

  it("reads chunked answers, split across many writes, and large ones", async () => {
    const big = "x".repeat(200_000);
    const url = await serve((req, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // no length: node:http chunks it
      const text = JSON.stringify({ path: req.url, big: req.url === "/base/big" ? big : "" });
      let at = 0;
      const next = () => {
        if (at >= text.length) return void res.end();
        res.write(text.slice(at, (at += 7)));
        setImmediate(next);
      };
      if (req.url === "/base/big") res.end(text);
      else next();
    });
    const client = new HttpClient(url, 2);
    const [a, b] = await Promise.all([client.request("GET", "/small"), client.request("GET", "/big")]);
    expect(JSON.parse(a.text)).toEqual({ path: "/base/small", big: "" });
    expect(JSON.parse(b.text).big).toBe(big);
    client.close();
  });

  it("opens a new connection after the server closes one, and reports errors and timeouts", async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls++;
      if (req.url === "/base/hang") return; // never answers
      if (req.url === "/base/cut") return void req.socket.destroy();
      res.writeHead(200, { connection: "close", "content-length": "2" }).end("{}");
    });
    const client = new HttpClient(url, 1, undefined, 300);
    expect((await client.request("GET", "/a")).text).toBe("{}");
    expect((await client.request("GET", "/b")).status).toBe(200);
    await expect(client.request("GET", "/cut")).rejects.toThrow(/closed before the response/);
    await expect(client.request("GET", "/hang")).rejects.toThrow(/timeout after 300 ms/);
    expect((await client.request("GET", "/c")).text).toBe("{}");
    expect(calls).toBe(5);
    client.close();
  });

  it("refuses more requests in flight than connections, and non-loopback servers", async () => {
    const url = await serve((_req, res) => void setTimeout(() => res.end("{}"), 50));
    const client = new HttpClient(url, 1);
    const first = client.request("GET", "/a");
    await expect(client.request("GET", "/b")).rejects.toThrow(/more than 1 requests in flight/);
    expect((await first).text).toBe("{}");
    client.close();
    expect(() => new HttpClient("http://example.com/", 1)).toThrow(/loopback/);
  });
});
