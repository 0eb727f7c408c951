// The web portal's static files (the Vite build in dist/portal) under /portal/: hashed assets are
// cached for a year, index.html is revalidated on every load (ETag), unknown paths that are not
// files fall back to index.html so the single-page application handles its own routes.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyReply, FastifyRequest } from "fastify";

/** dist/portal beside dist/http, where `vite build --config portal/vite.config.ts` writes. */
export const PORTAL_DIST = resolve(fileURLToPath(new URL("../portal/", import.meta.url)));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
  ".webmanifest": "application/manifest+json",
};

/** No external origin anywhere: scripts, styles, images and API calls come from this server. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const IMMUTABLE = "public, max-age=31536000, immutable";

interface CachedFile {
  mtimeMs: number;
  size: number;
  body: Buffer;
  etag: string;
}

export class StaticFiles {
  private readonly cache = new Map<string, CachedFile>();

  constructor(readonly root: string = PORTAL_DIST) {}

  /** Serves `rel` (the path after /portal/, still URL-encoded). */
  async serve(req: FastifyRequest, reply: FastifyReply, rel: string): Promise<FastifyReply> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rel);
    } catch {
      return notFound(req, reply);
    }
    const segments = decoded.split(/[/\\]+/).filter((s) => s !== "" && s !== ".");
    if (segments.some((s) => s === ".." || s.includes("\0") || s.startsWith("."))) return notFound(req, reply);
    const wanted = segments.join("/");

    let file = wanted === "" ? "index.html" : wanted;
    let found = await this.load(file);
    if (!found) {
      // Asset-looking paths (a file extension, or under assets/) get a real 404; everything else is
      // a route of the single-page application.
      if (wanted.startsWith("assets/") || extname(wanted) !== "") return notFound(req, reply);
      file = "index.html";
      found = await this.load(file);
      if (!found)
        return reply.status(503).send({
          Message: "the web portal is not built on this server (run npm run build)",
          ErrorCode: "PortalNotBuilt",
          CorrelationId: req.id,
        });
    }
    const type = TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
    const isHtml = type.startsWith("text/html");
    reply.header("content-type", type);
    reply.header("x-content-type-options", "nosniff");
    reply.header("cache-control", file.startsWith("assets/") ? IMMUTABLE : isHtml ? "no-cache" : "public, max-age=3600");
    reply.header("etag", found.etag);
    if (isHtml) {
      reply.header("content-security-policy", CSP);
      reply.header("referrer-policy", "no-referrer");
      reply.header("x-frame-options", "DENY");
    }
    if (req.headers["if-none-match"] === found.etag) return reply.status(304).send();
    return reply.send(found.body);
  }

  /** The file under the root, or undefined when it is not a regular file inside the root. */
  private async load(rel: string): Promise<CachedFile | undefined> {
    const full = resolve(this.root, rel);
    if (!full.startsWith(this.root + sep)) return undefined;
    let st;
    try {
      st = await stat(full);
    } catch {
      return undefined;
    }
    if (!st.isFile()) return undefined;
    const hit = this.cache.get(full);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const body = await readFile(full);
    const entry = { mtimeMs: st.mtimeMs, size: st.size, body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
    this.cache.set(full, entry);
    return entry;
  }
}

function notFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(404).send({ Message: "no such file", ErrorCode: "NotFound", CorrelationId: req.id });
}
