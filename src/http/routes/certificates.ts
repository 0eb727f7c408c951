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
    // RequesterName is who asked for the certificate: the enrollment agent, when one acted for the user.
    const requesters = new Map<string, string>();
    const names = new Map<string, string>();
    const nameOf = async (uuid: string) => {
      if (!names.has(uuid)) names.set(uuid, (await s.ctx.store.userByUuid(uuid))?.name ?? "");
      return names.get(uuid)!;
    };
    for (const r of rows)
      if (!requesters.has(r.request_uuid)) requesters.set(r.request_uuid, await nameOf((await s.ctx.store.requestByUuid(r.request_uuid))?.originator_uuid ?? r.user_uuid));
    return rows.map((r) => certificateLongView(r, requesters.get(r.request_uuid)!));
  });
}
