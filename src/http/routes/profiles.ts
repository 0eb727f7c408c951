import { Type } from "@sinclair/typebox";
import type { App, Services } from "../app.js";
import { certificateShortView, profileView } from "../wire.js";
import { callerOf, IdParam, Paging } from "./common.js";

export function registerProfileRoutes(app: App, s: Services): void {
  app.get("/profiles", { schema: { querystring: Type.Object({ status: Type.Optional(Type.String({ maxLength: 32 })), ...Paging }) } }, async (req) => {
    const caller = callerOf(req);
    const rows = await s.profiles.list(caller, { status: req.query.status, top: req.query.top ?? 100, skip: req.query.skip ?? 0 });
    return rows.map((p) => profileView(p, s.profiles.operations(caller, p), s.ctx.catalog.get(p.template_uuid)?.name));
  });

  app.get("/profiles/:id", { schema: { params: IdParam } }, async (req) => {
    const caller = callerOf(req);
    const p = await s.profiles.get(caller, req.params.id);
    return profileView(p, s.profiles.operations(caller, p), s.ctx.catalog.get(p.template_uuid)?.name);
  });

  app.get("/profiles/:id/operations", { schema: { params: IdParam } }, async (req) => {
    const caller = callerOf(req);
    return s.profiles.operations(caller, await s.profiles.get(caller, req.params.id));
  });

  app.get("/profiles/:id/certificates", { schema: { params: IdParam } }, async (req) => {
    const p = await s.profiles.get(callerOf(req), req.params.id);
    return (await s.ctx.store.certificatesOfProfile(p.uuid)).map(certificateShortView);
  });

  app.get("/requests/:id/profiles", { schema: { params: IdParam } }, async (req) => {
    const caller = callerOf(req);
    return (await s.profiles.ofRequest(caller, req.params.id)).map((p) => profileView(p, s.profiles.operations(caller, p), s.ctx.catalog.get(p.template_uuid)?.name));
  });
}
