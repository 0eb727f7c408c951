// The portal's only door to the server: the public CM API and /portal/api/session, same origin,
// with the session cookie. Every failure becomes an ApiError carrying the server's Message,
// ErrorCode and CorrelationId so the page can show them.

export const API = "/CertificateManagement/api/v1.0";
export const SESSION = "/portal/api/session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly correlationId: string | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let csrfToken: string | null = null;
let unauthorized: (e: ApiError) => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when an API call answers 401 (the session ended): the app goes back to sign-in. */
export function onUnauthorized(handler: (e: ApiError) => void): void {
  unauthorized = handler;
}

export interface CallOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** "json" (default), "text" or "bytes". */
  as?: "json" | "text" | "bytes";
}

/** A path under the API base, or an absolute path (/portal/api/…). */
export function url(path: string): string {
  return path.startsWith("/portal/") ? path : `${API}${path}`;
}

export async function call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", "x-openclm-client": "portal" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(url(path), {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "same-origin",
      cache: "no-store",
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", "the server could not be reached; check your connection and try again", null);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    let body: { Message?: unknown; ErrorCode?: unknown; CorrelationId?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      /* not JSON: a proxy's error page, say */
    }
    const err = new ApiError(
      res.status,
      typeof body.ErrorCode === "string" ? body.ErrorCode : `HTTP${res.status}`,
      typeof body.Message === "string" ? body.Message : `the server answered ${res.status} ${res.statusText}`.trim(),
      typeof body.CorrelationId === "string" ? body.CorrelationId : res.headers.get("x-correlation-id"),
    );
    if (res.status === 401 && !path.startsWith(SESSION)) unauthorized(err);
    throw err;
  }
  if (opts.as === "bytes") return new Uint8Array(await res.arrayBuffer()) as T;
  const text = await res.text();
  if (opts.as === "text") return text as T;
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>("GET", path, { signal });
export const post = <T>(path: string, body: unknown) => call<T>("POST", path, { body });
export const put = <T>(path: string, body: unknown) => call<T>("PUT", path, { body });

/** The id at the end of a "Create" answer ("api/v1.0/requests/<uuid>"). */
export function idOfCreated(relative: string): string {
  return relative.split("/").pop() ?? "";
}

/** Runs calls one after another with a bounded fan-out (the API is per-object). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
