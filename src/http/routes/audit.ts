import { Type } from "@sinclair/typebox";
import type { App, Services } from "../app.js";
import { forbidden } from "../../domain/errors.js";
import { auditView, listAuditEvents } from "../../domain/services/audit-query.js";
import { callerOf, Paging } from "./common.js";

const AuditQuery = Type.Object({
  actor: Type.Optional(Type.String({ maxLength: 256 })),
  action: Type.Optional(Type.String({ maxLength: 128 })),
  request: Type.Optional(Type.String({ maxLength: 80 })),
  target: Type.Optional(Type.String({ maxLength: 256 })),
  outcome: Type.Optional(Type.String({ maxLength: 16 })),
  from: Type.Optional(Type.String({ maxLength: 64 })),
  to: Type.Optional(Type.String({ maxLength: 64 })),
  order: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")])),
  ...Paging,
});

/** `GET /audit`: the trail for auditors and admins, oldest first unless `order=desc`. */
export function registerAuditRoutes(app: App, s: Services): void {
  app.get("/audit", { schema: { querystring: AuditQuery } }, async (req) => {
    if (!s.ctx.permissions.mayReadAudit(callerOf(req))) throw forbidden("NotAuthorized", "reading the audit trail needs the auditor or admin role");
    const q = req.query;
    const rows = await listAuditEvents(
      s.ctx.store,
      { actor: q.actor, action: q.action, request: q.request, target: q.target, outcome: q.outcome, from: q.from, to: q.to },
      { top: q.top ?? 100, skip: q.skip ?? 0, newestFirst: q.order === "desc" },
    );
    return rows.map(auditView);
  });
}
