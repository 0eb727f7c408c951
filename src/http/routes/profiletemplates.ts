import { Type } from "@sinclair/typebox";
import type { App, Services } from "../app.js";
import { parseWorkflowType } from "../../domain/enums.js";
import { badInput, notFound } from "../../domain/errors.js";
import { parseGuid } from "../../domain/guid.js";
import { findUser } from "../../domain/services/users.js";
import { policyView, profileTemplateLimitedView, profileTemplateView, smartcardConfigView } from "../wire.js";
import { callerOf, IdParam } from "./common.js";
import type { Caller } from "../../domain/caller.js";
import type { ProfileTemplate } from "../../domain/templates.js";

export function registerProfileTemplateRoutes(app: App, s: Services): void {
  const { catalog, permissions, store } = s.ctx;

  const visibleTemplate = (caller: Caller, id: string): ProfileTemplate => {
    const uuid = parseGuid(id);
    const t = uuid && catalog.get(uuid);
    if (!t || !permissions.maySeeTemplate(caller, t)) throw notFound("profile template");
    return t;
  };

  app.get(
    "/profiletemplates",
    { schema: { querystring: Type.Object({ targetuser: Type.Optional(Type.String({ maxLength: 256 })) }) } },
    async (req) => {
      const caller = callerOf(req);
      let target = caller.uuid;
      if (req.query.targetuser && req.query.targetuser.trim() !== "") {
        const u = await findUser(store, req.query.targetuser);
        if (!u) return [];
        target = u.uuid;
      }
      return catalog.all().filter((t) => permissions.mayEnrollFor(caller, t, target)).map(profileTemplateLimitedView);
    },
  );

  app.get("/profiletemplates/:id", { schema: { params: IdParam } }, async (req) => profileTemplateView(visibleTemplate(callerOf(req), req.params.id)));

  const policyHandler = async (caller: Caller, id: string, type: string) => {
    const t = visibleTemplate(caller, id);
    const w = parseWorkflowType(type);
    if (!w) throw badInput("InvalidPolicyType", `unknown policy type "${type.slice(0, 64)}"`);
    const p = t.policies[w];
    if (!p) throw notFound("policy");
    return policyView(p);
  };
  const PolicyParams = Type.Object({ id: Type.String({ maxLength: 80 }), type: Type.String({ maxLength: 64 }) });
  app.get("/profiletemplates/:id/policies/:type", { schema: { params: PolicyParams } }, async (req) => policyHandler(callerOf(req), req.params.id, req.params.type));
  app.get("/profiletemplates/:id/policy/workflow/:type", { schema: { params: PolicyParams } }, async (req) =>
    policyHandler(callerOf(req), req.params.id, req.params.type),
  );

  app.get("/profiletemplates/:id/configuration/smartcards", { schema: { params: IdParam } }, async (req) => {
    const t = visibleTemplate(callerOf(req), req.params.id);
    if (!t.smartcard) throw notFound("smart card configuration");
    return smartcardConfigView(t.smartcard);
  });
}
