// Portal single sign-on routes: /portal/api/oidc/start sends the browser to the identity provider,
// /portal/api/oidc/callback takes it back, signs the user in and lands on the portal. Both are
// browser navigations, so they answer with redirects, never JSON: a failure lands on the sign-in
// page with a code the portal turns into a message (and the correlation id), never with a detail
// the provider or an attacker put in the URL.
import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App, Services } from "../app.js";
import { recordAudit } from "../../domain/audit.js";
import { CALLBACK_PATH, FLOW_COOKIE, FLOW_TTL_MS, type OidcLogin, SsoFailure } from "../oidc-login.js";
import { OidcRefused, OidcUnavailable } from "../oidc.js";
import { RateLimitedError } from "../rate-limit.js";
import { isTls, type SessionAuthenticator } from "../session.js";

const START_PATH = "/portal/api/oidc/start";
const PORTAL_HOME = "/portal/";

const CallbackQuery = Type.Object({
  code: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  state: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  error: Type.Optional(Type.String({ maxLength: 256 })),
  iss: Type.Optional(Type.String({ maxLength: 2048 })),
});

/** The request as the log shows it: the callback's query carries the code and state, so it stays out. */
const withoutQuery = {
  req: (req: FastifyRequest) => ({ method: req.method, url: req.url.split("?")[0], host: req.host, remoteAddress: req.ip }),
};

export function registerPortalOidcRoutes(app: App, s: Services, sessions: SessionAuthenticator, login: OidcLogin): void {
  const cookieOptions = (req: FastifyRequest) => ({ path: CALLBACK_PATH, httpOnly: true, sameSite: "lax" as const, secure: isTls(req) });

  const fail = async (req: FastifyRequest, reply: FastifyReply, e: unknown) => {
    const failure = asFailure(e);
    if (failure.code === "internal") req.log.error({ err: { message: (e as Error).message, name: (e as Error).name } }, "single sign-on failed");
    else req.log.info({ code: failure.code }, "single sign-on refused");
    if (failure.counted) await login.identities.failed(req, "oidc", failure.reason);
    // Refusals while locked out are not audited one by one (the lock-out was), as for passwords:
    // otherwise anyone could make the server write without limit.
    if (failure.code !== "limited")
      await recordAudit(s.ctx.store, {
        actorUuid: null,
        actorName: "anonymous",
        action: "portal.login",
        targetType: "user",
        correlationId: req.id,
        outcome: "failure",
        details: { method: "oidc", reason: failure.reason },
      });
    reply.clearCookie(FLOW_COOKIE, cookieOptions(req));
    return reply.redirect(`${PORTAL_HOME}?sso_error=${failure.code}&ref=${encodeURIComponent(req.id)}`, 302);
  };

  app.get(START_PATH, { schema: { hide: true } }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    try {
      login.identities.check(req);
      const { cookie, location } = login.begin();
      reply.setCookie(FLOW_COOKIE, cookie, { ...cookieOptions(req), maxAge: FLOW_TTL_MS / 1000 });
      return reply.redirect(location, 302);
    } catch (e) {
      return fail(req, reply, e);
    }
  });

  app.get(CALLBACK_PATH, { schema: { hide: true, querystring: CallbackQuery }, attachValidation: true, logSerializers: withoutQuery }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    try {
      login.identities.check(req);
      if (req.validationError) throw new SsoFailure("invalid", "malformed callback parameters");
      const q = req.query;
      // The state is used up whatever the outcome, so an answer can never be tried twice.
      const flow = await login.resume(req.cookies[FLOW_COOKIE], q.state);
      if (q.error !== undefined) throw new SsoFailure("denied", `provider answered ${/^[a-z_]{1,64}$/.test(q.error) ? q.error : "an error"}`);
      if (q.code === undefined) throw new SsoFailure("invalid", "no code parameter");
      // RFC 9207: an answer naming another issuer is a mix-up between providers.
      if (q.iss !== undefined && q.iss !== login.identities.config.issuer) throw new SsoFailure("token", "iss parameter names another issuer");
      const idToken = await login.exchange(q.code, flow);
      const { caller, assertedGroups } = await login.identities.identify(req, idToken, {
        method: "oidc",
        audience: login.config.clientId,
        clientId: login.config.clientId,
        nonce: flow.nonce,
      });
      await sessions.signIn(req, reply, caller, "oidc", assertedGroups);
      reply.clearCookie(FLOW_COOKIE, cookieOptions(req));
      return reply.redirect(PORTAL_HOME, 302);
    } catch (e) {
      return fail(req, reply, e);
    }
  });
}

function asFailure(e: unknown): SsoFailure {
  if (e instanceof SsoFailure) return e;
  // Already counted and audited as auth.failure by OidcIdentities.
  if (e instanceof OidcRefused) return new SsoFailure(e.reason.startsWith("user disabled") ? "account" : "token", e.reason, false);
  if (e instanceof OidcUnavailable) return new SsoFailure("provider", "provider keys unavailable", false);
  if (e instanceof RateLimitedError) return new SsoFailure("limited", "too many failures from this address", false);
  return new SsoFailure("internal", "server error", false);
}
