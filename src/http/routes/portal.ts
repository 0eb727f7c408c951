// The web portal: its sign-in endpoints (/portal/api/session, and single sign-on under
// /portal/api/oidc/ when configured) and its static files (/portal/…). Everything else the portal
// shows comes from the public CM API, called with the session cookie.
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import cookie from "@fastify/cookie";
import type { App, Services } from "../app.js";
import type { Authenticator } from "../authn.js";
import { BasicAuthenticator } from "../auth.js";
import { namedIn, type Caller } from "../../domain/caller.js";
import { recordAudit } from "../../domain/audit.js";
import { clearSessionCookie, SessionAuthenticator, sessionIdOf } from "../session.js";
import { StaticFiles } from "../static.js";
import { BearerAuthenticator } from "../oidc.js";
import { OidcLogin } from "../oidc-login.js";
import { registerPortalOidcRoutes } from "./portal-oidc.js";

/** Header the portal sends on every call, so a 401 never makes the browser show its Basic dialog. */
export const PORTAL_CLIENT_HEADER = "x-openclm-client";

/**
 * Cookie parsing and the session authenticator. Call on the root instance before the API routes
 * are registered: the hook below must see every response.
 */
export async function registerSessions(app: App, s: Services): Promise<SessionAuthenticator> {
  await app.register(cookie);
  // A browser answers `WWW-Authenticate: Basic` on a fetch() with its own password dialog; the
  // portal handles 401 itself (back to its sign-in form), so it gets a challenge it won't act on.
  app.addHook("onSend", async (req, reply, payload) => {
    if (reply.statusCode === 401 && (sessionIdOf(req) !== undefined || req.headers[PORTAL_CLIENT_HEADER] !== undefined))
      reply.header("www-authenticate", 'Session realm="OpenCLM portal"');
    return payload;
  });
  return new SessionAuthenticator(s.ctx.store);
}

export interface PortalOptions {
  services: Services;
  sessions: SessionAuthenticator;
  authenticators: readonly Authenticator[];
}

const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ maxLength: 1024 }),
});

/** Routes under /portal: register with `app.register(portalRoutes, {…})`. */
export const portalRoutes: FastifyPluginAsync<PortalOptions> = async (instance, opts) => {
  const app = instance as unknown as App;
  const { services: s, sessions } = opts;
  const files = new StaticFiles();

  const userView = (c: Caller) => {
    const policies = s.ctx.catalog.all().flatMap((t) => Object.values(t.policies).filter((p) => p && p.enabled));
    return {
      uuid: c.uuid,
      name: c.name,
      displayName: c.displayName,
      email: c.email,
      groups: c.groups,
      isAdmin: s.ctx.permissions.isAdmin(c),
      isAuditor: s.ctx.permissions.isAuditor(c),
      isApprover: policies.some((p) => namedIn(c, p!.authorizedApprover)),
      isHelpdesk: policies.some((p) => namedIn(c, p!.authorizedHelpdesk)),
      isEnrollmentAgent: policies.some((p) => namedIn(c, p!.authorizedEnrollmentAgent)),
    };
  };
  const sso = ssoLogin(s, opts.authenticators);
  if (sso) registerPortalOidcRoutes(app, s, sessions, sso);
  const methods = () => ({ password: s.ctx.config.auth.basic.enabled, oidc: sso !== undefined });
  const problem = (req: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string) =>
    reply.status(status).send({ Message: message, ErrorCode: code, CorrelationId: req.id });

  // Sign in with the local directory's password; answers the user and the CSRF token.
  app.post("/portal/api/session", { schema: { hide: true, body: LoginBody } }, async (req, reply) => {
    if (!sameOrigin(req)) return problem(req, reply, 403, "CrossOrigin", "sign-in from another site is refused");
    const basic = opts.authenticators.find((a): a is BasicAuthenticator => a instanceof BasicAuthenticator);
    if (!basic) return problem(req, reply, 403, "PasswordSignInDisabled", "password sign-in is not enabled on this server");
    const { username, password } = req.body;
    // Through the same guard as Basic: per-user and per-address failure limits (429), audited failures.
    const caller = await basic.login(req, username, password, "portal");
    if (!caller) {
      await recordAudit(s.ctx.store, {
        actorUuid: null,
        actorName: username.slice(0, 64),
        action: "portal.login",
        targetType: "user",
        correlationId: req.id,
        outcome: "failure",
        details: { method: "password" },
      });
      reply.header("www-authenticate", 'Session realm="OpenCLM portal"'); // not Basic: no browser dialog
      return problem(req, reply, 401, "NotAuthenticated", "wrong user name or password");
    }
    const session = await sessions.signIn(req, reply, caller, "password");
    reply.header("cache-control", "no-store");
    return { user: userView(caller), csrfToken: session.csrfToken, methods: methods() };
  });

  // The current session: `user` is null when signed out (200, so a fresh page load logs no error).
  app.get("/portal/api/session", { schema: { hide: true } }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    const id = sessionIdOf(req);
    const found = id ? await sessions.resolve(id) : undefined;
    if (!found) {
      if (id) clearSessionCookie(req, reply);
      return { user: null, csrfToken: null, methods: methods() };
    }
    return { user: userView(found.caller), csrfToken: found.csrfToken, methods: methods() };
  });

  // Sign out; needs the CSRF token while the session is alive.
  app.delete("/portal/api/session", { schema: { hide: true } }, async (req, reply) => {
    const id = sessionIdOf(req);
    const found = id ? await sessions.resolve(id) : undefined;
    if (id && found && !sessions.csrfValid(id, req))
      return problem(req, reply, 403, "CsrfTokenInvalid", "missing or wrong X-CSRF-Token header for this session; reload the page");
    if (id) await sessions.destroy(id);
    if (found)
      await recordAudit(s.ctx.store, {
        actorUuid: found.caller.uuid,
        actorName: found.caller.name,
        action: "portal.logout",
        targetType: "user",
        targetUuid: found.caller.uuid,
        correlationId: req.id,
        outcome: "success",
      });
    clearSessionCookie(req, reply);
    return reply.status(204).send();
  });

  app.all("/portal/api/*", { schema: { hide: true } }, async (req, reply) => problem(req, reply, 404, "NotFound", "no such resource"));

  // "/portal/" also lands here (the router ignores trailing slashes); "/portal" gets the slash so
  // the page's relative URLs resolve under /portal/.
  app.get("/portal", { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split("?")[0]!;
    if (!path.endsWith("/")) return reply.redirect(`/portal/${req.url.slice(path.length)}`, 301);
    return files.serve(req, reply, "");
  });
  // The path is taken from the URL itself: the router matches case-insensitively and file names
  // (hashed assets) are case-sensitive.
  app.get("/portal/*", { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split("?")[0]!;
    return files.serve(req, reply, path.replace(/^\/portal\/?/i, ""));
  });
};

/** Single sign-on, when `auth.oidc.portal` is configured; it verifies ID tokens with the bearer tokens' rules. */
function ssoLogin(s: Services, authenticators: readonly Authenticator[]): OidcLogin | undefined {
  const portal = s.ctx.config.auth.oidc?.portal;
  const bearer = authenticators.find((a): a is BearerAuthenticator => a instanceof BearerAuthenticator);
  return portal && bearer ? new OidcLogin(s.ctx, portal, bearer.identities) : undefined;
}

/** True unless the browser says the request comes from another origin. */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
