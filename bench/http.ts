// A minimal keep-alive HTTP/1.1 client on node:http: one Agent per job, one socket per
// virtual client, bodies read as text. Cheaper per call than fetch, which matters when the
// load generator shares a small machine with the server it measures.
import http from "node:http";

export interface HttpResult {
  status: number;
  text: string;
}

export class HttpClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly base: string;

  constructor(
    baseUrl: string,
    sockets: number,
    private readonly authorization?: string,
    private readonly timeoutMs = 30_000,
  ) {
    const u = new URL(baseUrl);
    if (u.protocol !== "http:") throw new Error(`only http:// on loopback is supported, got ${baseUrl}`);
    this.host = u.hostname.replace(/^\[|\]$/g, "");
    if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(this.host)) throw new Error(`the load generator only talks to loopback addresses, got ${baseUrl}`);
    this.port = Number(u.port || 80);
    this.base = u.pathname.replace(/\/$/, "");
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: "lifo" });
  }

  request(method: string, path: string, body?: string): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { accept: "application/json" };
      if (this.authorization) headers.authorization = this.authorization;
      let payload: Buffer | undefined;
      if (body !== undefined) {
        payload = Buffer.from(body, "utf8");
        headers["content-type"] = "application/json";
        headers["content-length"] = payload.length;
      }
      const req = http.request({ agent: this.agent, host: this.host, port: this.port, method, path: this.base + path, headers }, (res) => {
        res.setEncoding("utf8");
        let text = "";
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
