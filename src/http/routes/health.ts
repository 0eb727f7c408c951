import type { App, Services } from "../app.js";

export function registerHealthRoutes(app: App, s: Services): void {
  app.get("/healthz", { schema: { hide: true } }, async () => ({ Status: "ok" }));
  app.get("/readyz", { schema: { hide: true } }, async (_req, reply) => {
    try {
      await s.ctx.store.ping();
      return { Status: "ready" };
    } catch {
      reply.status(503);
      return { Status: "unavailable" };
    }
  });
}
