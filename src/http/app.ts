// The Fastify application: wire conventions (SPEC §2), authentication, error mapping, routes.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AppContext } from "../domain/services/context.js";
import type { Caller } from "../domain/caller.js";
import { DomainError, type ErrorKind } from "../domain/errors.js";
import { RequestService } from "../domain/services/requests.js";
import { SmartcardService } from "../domain/services/smartcards.js";
import { IssuanceService } from "../domain/services/issuance.js";
import { authenticatorsFor, challengesFor } from "./auth.js";
import { RateLimitedError } from "./rate-limit.js";
import { authenticateRequest, type Authenticator } from "./authn.js";
import { lowerCaseKeys, parseLenientJson } from "./lenient-json.js";
import { normalizePath } from "./paths.js";
import { registerProfileTemplateRoutes } from "./routes/profiletemplates.js";
import { registerRequestRoutes } from "./routes/requests.js";
import { registerSmartcardRoutes } from "./routes/smartcards.js";
import { registerCertificateRoutes } from "./routes/certificates.js";
import { registerProfileRoutes } from "./routes/profiles.js";
import { ProfileService } from "../domain/services/profiles.js";
import { registerCaRoutes } from "./routes/ca.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerAuditRoutes } from "./routes/audit.js";
import { registerAdminRoutes } from "./routes/admin.js";
import { portalRoutes, registerSessions } from "./routes/portal.js";
import { registerMetrics, RequestMetrics } from "./metrics.js";
import { AccessLog } from "./access-log.js";

export const BASE = "/CertificateManagement/api/v1.0";

declare module "fastify" {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export interface Services {
  ctx: AppContext;
  requests: RequestService;
  smartcards: SmartcardService;
  issuance: IssuanceService;
  profiles: ProfileService;
}

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

const STATUS: Record<ErrorKind, number> = {
  input: 400,
  auth: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  tooLarge: 413,
  unsupportedMedia: 415,
  rateLimited: 429,
};

export async function buildApp(ctx: AppContext, logger: Logger, opts: { https?: { key: Buffer; cert: Buffer } } = {}): Promise<App> {
  const metrics = new RequestMetrics();
  const app = Fastify({
    loggerInstance: logger,
    ...(opts.https ? { https: opts.https } : {}),
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    bodyLimit: ctx.config.server.bodyLimitBytes,
    genReqId: () => randomUUID(),
    logController: new AccessLog(metrics),
    rewriteUrl: (req) => normalizePath(req.url ?? "/"),
    ajv: { customOptions: { coerceTypes: "array", removeAdditional: true, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const services: Services = {
    ctx,
    requests: new RequestService(ctx),
    smartcards: undefined as unknown as SmartcardService,
    issuance: undefined as unknown as IssuanceService,
    profiles: undefined as unknown as ProfileService,
  };
  services.profiles = new ProfileService(ctx, services.requests);
  services.smartcards = new SmartcardService(ctx, services.requests);
  services.issuance = new IssuanceService(ctx, services.requests);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(["application/json", "text/json"], { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, lowerCaseKeys(parseLenientJson(body as string)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser("*", (_req, _payload, done) => {
    done(new DomainError("unsupportedMedia", "UnsupportedMediaType", "request bodies must be application/json"), undefined);
  });

  app.addHook("onSend", (req, reply, payload, done) => {
    reply.header("x-correlation-id", req.id);
    const type = reply.getHeader("content-type");
    if (!type || String(type).startsWith("application/json")) reply.header("content-type", "application/json; charset=utf-8");
    done(null, payload);
  });

  const authenticators: Authenticator[] = authenticatorsFor(ctx);
  const challenges = challengesFor(ctx);
  const sessions = await registerSessions(app, services);
  authenticators.push(sessions); // portal session cookie (after Basic)

  app.setErrorHandler((err: FastifyError | DomainError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const { status, code, message } = describeError(err);
    if (status >= 500) req.log.error({ err }, "request failed");
    else req.log.info({ status, code }, "request refused");
    if (status === 401 && challenges.length) reply.header("www-authenticate", challenges.join(", "));
    if (err instanceof RateLimitedError) reply.header("retry-after", String(err.retryAfterSeconds));
    reply.status(status).send({ Message: message, ErrorCode: code, CorrelationId: req.id });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ Message: "no such resource", ErrorCode: "NotFound", CorrelationId: req.id });
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "OpenCLM — Certificate Management REST API v1.0", version: "0.1.0" },
      components: { securitySchemes: { basic: { type: "http", scheme: "basic" } } },
      security: [{ basic: [] }],
    },
  });

  registerHealthRoutes(app, services);
  await app.register(portalRoutes, { services, sessions, authenticators });
  registerMetrics(app as unknown as FastifyInstance, metrics, async (req) => {
    if (ctx.config.server.metricsPublic) return;
    const caller = await authenticateRequest(req, authenticators);
    if (!ctx.permissions.isAuditor(caller)) throw new DomainError("forbidden", "NotAuthorized", "metrics are for administrators and auditors");
  });
  await app.register(
    async (api) => {
      registerCaRoutes(api as App, services);
      await api.register(async (authed) => {
        authed.addHook("onRequest", async (req) => {
          req.caller = await authenticateRequest(req, authenticators);
        });
        registerProfileTemplateRoutes(authed as App, services);
        registerRequestRoutes(authed as App, services);
        registerSmartcardRoutes(authed as App, services);
        registerCertificateRoutes(authed as App, services);
        registerProfileRoutes(authed as App, services);
        registerAuditRoutes(authed as App, services);
        registerAdminRoutes(authed as App, services);
      });
    },
    { prefix: BASE },
  );
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  app.get(`${BASE}/openapi.json`, { schema: { hide: true } }, async () => app.swagger());
  return app;
}

function describeError(err: FastifyError | DomainError | Error): { status: number; code: string; message: string } {
  if (err instanceof DomainError) return { status: STATUS[err.kind], code: err.code, message: err.message };
  const fe = err as FastifyError;
  if (fe.validation) {
    const v = fe.validation[0];
    const where = `${fe.validationContext ?? "input"}${v?.instancePath ? v.instancePath.replace(/\//g, ".") : ""}`;
    return { status: 400, code: "InvalidInput", message: `${where}: ${v?.message ?? "invalid"}` };
  }
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") return { status: 413, code: "BodyTooLarge", message: "the request body is too large" };
  if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return { status: 415, code: "UnsupportedMediaType", message: "request bodies must be application/json" };
  if (fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return { status: 400, code: "MalformedJson", message: "the request body is empty" };
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, code: "BadRequest", message: "the request could not be processed" };
  return { status: 500, code: "InternalError", message: "internal error; quote the correlation id to your administrator" };
}
