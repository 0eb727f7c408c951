import { Type } from "@sinclair/typebox";
import type { App, Services } from "../app.js";
import { certificateLongView } from "../wire.js";
import { callerOf, Paging } from "./common.js";

export function registerCertificateRoutes(app: App, s: Services): void {
  app.get("/certificates", { schema: { querystring: Type.Object({ ...Paging }) } }, async (req) => {
    const caller = callerOf(req);
    const page = { top: req.query.top ?? 100, skip: req.query.skip ?? 0 };
    const all = s.ctx.permissions.isAuditor(caller);
    const rows = await s.ctx.store.listCertificates({ userUuid: all ? undefined : caller.uuid, excludeRetired: true, page });
    return rows.map((r) => certificateLongView(r, r.requester_name));
  });
}
