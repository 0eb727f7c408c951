// The load generator's HTTP/1.1 client: keep-alive connections on node:net, each request written as
// one string and each response read by a small parser (status line, Content-Length or chunked
// body). node:http's client cost the bench about 250 µs of CPU per call on a 2-core machine it
// shares with the server it measures — as much as some of the calls it measured — this one a tenth
// of that. It speaks only what the bench needs: loopback, no pipelining (one request in flight per
// connection), no 1xx answers, no trailers.
import net from "node:net";

export interface HttpResult {
  status: number;
  text: string;
}

const CRLF2 = Buffer.from("\r\n\r\n");

/** One keep-alive connection; `request` must not be called again before its promise settles. */
export class HttpConnection {
  private socket?: net.Socket;
  private buffered: Buffer[] = [];
  private bufferedLength = 0;
  private pending?: { resolve: (r: HttpResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
  /** Bytes of the current response's head, its status and how its body ends, once the head is in. */
  private head?: { status: number; contentLength?: number; chunked: boolean; close: boolean; bodyStart: number };

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  request(wire: string): Promise<HttpResult> {
    if (this.pending) return Promise.reject(new Error("a request is already in flight on this connection"));
    const socket = this.socket ?? this.connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`timeout after ${this.timeoutMs} ms`)), this.timeoutMs);
      this.pending = { resolve, reject, timer };
      socket.write(wire, "latin1");
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    // Events of a socket this connection has already let go of (closed after an answer) are not its business.
    socket.on("data", (chunk: Buffer) => this.socket === socket && this.onData(chunk));
    socket.on("error", (e) => this.socket === socket && this.fail(e));
    socket.on("close", () => this.socket === socket && this.fail(new Error("connection closed before the response was complete")));
    this.socket = socket;
    this.buffered = [];
    this.bufferedLength = 0;
    this.head = undefined;
    return socket;
  }

  private fail(e: Error): void {
    this.close(); // an idle connection the server closed is opened again by the next request
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(e);
  }

  private onData(chunk: Buffer): void {
    if (!this.pending) return this.close(); // nothing asked: not a server the bench can measure
    this.buffered.push(chunk);
    this.bufferedLength += chunk.length;
    const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedLength);
    this.buffered = [data];
    if (!this.head) {
      const end = data.indexOf(CRLF2);
      if (end < 0) return;
      try {
        this.head = parseHead(data.toString("latin1", 0, end), end + 4);
      } catch (e) {
        return this.fail(e as Error);
      }
    }
    const h = this.head;
    let body: Buffer | undefined;
    let consumed = 0;
    if (h.chunked) {
      const r = dechunk(data, h.bodyStart);
      if (r instanceof Error) return this.fail(r);
      if (!r) return;
      [body, consumed] = r;
    } else {
      const length = h.contentLength ?? 0;
      if (data.length < h.bodyStart + length) return;
      body = data.subarray(h.bodyStart, h.bodyStart + length);
      consumed = h.bodyStart + length;
    }
    if (consumed !== data.length) return this.fail(new Error("more bytes than one response (the bench does not pipeline)"));
    const p = this.pending;
    this.pending = undefined;
    this.head = undefined;
    this.buffered = [];
    this.bufferedLength = 0;
    clearTimeout(p.timer);
    if (h.close) this.close();
    p.resolve({ status: h.status, text: body.toString("utf8") });
  }
}

function parseHead(text: string, bodyStart: number) {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
  if (!m) throw new Error(`not an HTTP/1.1 response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const status = Number(m[1]);
  let contentLength: number | undefined;
  let chunked = false;
  let close = lines[0]!.startsWith("HTTP/1.0");
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim().toLowerCase();
    if (name === "content-length") contentLength = Number(value);
    else if (name === "transfer-encoding") chunked = value.split(",").pop()!.trim() === "chunked";
    else if (name === "connection") close = value === "close";
  }
  if (!chunked && contentLength === undefined && status !== 204 && status !== 304) throw new Error("a response without Content-Length or chunked body");
  return { status, contentLength, chunked, close, bodyStart };
}

/** The body of a complete chunked message from `start` and where it ended; undefined while incomplete. */
function dechunk(data: Buffer, start: number): [Buffer, number] | Error | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = data.indexOf("\r\n", at, "latin1");
    if (eol < 0) return undefined;
    const size = parseInt(data.toString("latin1", at, eol).split(";")[0]!, 16);
    if (!Number.isInteger(size) || size < 0) return new Error("malformed chunk size");
    const dataStart = eol + 2;
    if (size === 0) {
      // No trailers from the servers the bench talks to: the last chunk is followed by an empty line.
      if (data.length < dataStart + 2) return undefined;
      return [Buffer.concat(parts), dataStart + 2];
    }
    if (data.length < dataStart + size + 2) return undefined;
    parts.push(data.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}

/**
 * Keep-alive connections to one loopback server, at most `sockets` of them: a request takes an idle
 * connection (or opens one) and gives it back when its answer is in.
 */
export class HttpClient {
  private readonly host: string;
  private readonly port: number;
  private readonly base: string;
  private readonly fixedHeaders: string;
  private readonly idle: HttpConnection[] = [];
  private readonly all: HttpConnection[] = [];

  constructor(
    baseUrl: string,
    private readonly sockets: number,
    authorization?: string,
    private readonly timeoutMs = 30_000,
  ) {
    const u = new URL(baseUrl);
    if (u.protocol !== "http:") throw new Error(`only http:// on loopback is supported, got ${baseUrl}`);
    this.host = u.hostname.replace(/^\[|\]$/g, "");
    if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(this.host)) throw new Error(`the load generator only talks to loopback addresses, got ${baseUrl}`);
    this.port = Number(u.port || 80);
    this.base = u.pathname.replace(/\/$/, "");
    this.fixedHeaders = `Host: ${u.host}\r\nAccept: application/json\r\n${authorization ? `Authorization: ${authorization}\r\n` : ""}`;
  }

  async request(method: string, path: string, body?: string): Promise<HttpResult> {
    let wire = `${method} ${this.base}${path} HTTP/1.1\r\n${this.fixedHeaders}`;
    if (body === undefined) wire += "\r\n";
    else {
      const bytes = Buffer.from(body, "utf8");
      if (bytes.length !== body.length) throw new Error("the bench sends ASCII bodies only");
      wire += `Content-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n${body}`;
    }
    const connection = this.take();
    try {
      return await connection.request(wire);
    } finally {
      this.idle.push(connection);
    }
  }

  close(): void {
    for (const c of this.all) c.close();
  }

  private take(): HttpConnection {
    const c = this.idle.pop();
    if (c) return c;
    if (this.all.length >= this.sockets) throw new Error(`more than ${this.sockets} requests in flight`);
    const created = new HttpConnection(this.host, this.port, this.timeoutMs);
    this.all.push(created);
    return created;
  }
}

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
