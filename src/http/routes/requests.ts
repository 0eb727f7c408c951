import { Type } from "@sinclair/typebox";
import type { App, Services } from "../app.js";
import { requestView, generationOptionView, certificateAnswerView } from "../wire.js";
import { actorOf, callerOf, created, IdParam, Paging } from "./common.js";
import type { RequestRow } from "../../store/store.js";

const CreateBody = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  profiletemplateuuid: Type.Optional(Type.String({ maxLength: 80 })),
  smartcard: Type.Optional(Type.String({ maxLength: 80 })),
  profile: Type.Optional(Type.String({ maxLength: 80 })),
  target: Type.Optional(Type.String({ maxLength: 256 })),
  // Array or string holding an array (SPEC §2); parsed and checked by the domain, since schema
  // type coercion would turn a string into a one-element array.
  datacollection: Type.Unknown(),
  comment: Type.String({ maxLength: 4096 }),
  priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  revocationreason: Type.Optional(Type.String({ maxLength: 32 })),
});

const StatusBody = Type.Object({ status: Type.String({ minLength: 1, maxLength: 32 }) });
const ApprovalBody = Type.Object({ decision: Type.String({ minLength: 1, maxLength: 16 }), comment: Type.Optional(Type.String({ maxLength: 1024 })) });
const CertificateDataBody = Type.Object({
  certificaterequests: Type.Array(Type.String({ minLength: 1, maxLength: 65536 }), { minItems: 0, maxItems: 16 }),
  pfxpassword: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
  comments: Type.Optional(Type.Union([Type.String({ maxLength: 4096 }), Type.Null()])),
});

export function registerRequestRoutes(app: App, s: Services): void {
  // Names beside the uuids, so an approver's queue is readable without directory access. A list
  // names the same few users again and again: each is read once per answer.
  const view = async (r: RequestRow, names = new Map<string, Promise<string>>()) => {
    const nameOf = (uuid: string) => {
      let name = names.get(uuid);
      if (!name) names.set(uuid, (name = s.ctx.store.userByUuid(uuid).then((u) => u?.name ?? "")));
      return name;
    };
    return requestView(r, s.ctx.catalog.get(r.template_uuid), await s.requests.approvals(r), {
      target: await nameOf(r.target_uuid),
      originator: r.originator_uuid === r.target_uuid ? undefined : await nameOf(r.originator_uuid),
    });
  };

  app.post("/requests", { schema: { body: CreateBody } }, async (req, reply) => {
    const b = req.body;
    const r = await s.requests.create(actorOf(req), {
      type: b.type,
      profileTemplateUuid: b.profiletemplateuuid,
      smartcard: b.smartcard,
      profile: b.profile,
      target: b.target,
      dataCollection: b.datacollection,
      comment: b.comment,
      priority: b.priority,
      revocationReason: b.revocationreason,
    });
    return created(reply, `api/v1.0/requests/${r.uuid}`);
  });

  app.get(
    "/requests",
    { schema: { querystring: Type.Object({ status: Type.Optional(Type.String({ maxLength: 32 })), targetuser: Type.Optional(Type.String({ maxLength: 256 })), ...Paging }) } },
    async (req) => {
      const q = req.query;
      const rows = await s.requests.list(callerOf(req), { status: q.status, targetUser: q.targetuser, top: q.top ?? 100, skip: q.skip ?? 0 });
      const names = new Map<string, Promise<string>>();
      return Promise.all(rows.map((r) => view(r, names)));
    },
  );

  app.get("/requests/:id", { schema: { params: IdParam } }, async (req) => view(await s.requests.get(callerOf(req), req.params.id)));

  app.put("/requests/:id", { schema: { params: IdParam, body: StatusBody } }, async (req) =>
    view(await s.requests.setStatus(actorOf(req), req.params.id, req.body.status)),
  );

  app.post("/requests/:id/approvals", { schema: { params: IdParam, body: ApprovalBody } }, async (req) =>
    view(await s.requests.decide(actorOf(req), req.params.id, req.body.decision, req.body.comment ?? "")),
  );

  app.get("/requests/:id/certificaterequestgenerationoptions", { schema: { params: IdParam } }, async (req) =>
    (await s.issuance.generationOptions(callerOf(req), req.params.id)).map(generationOptionView),
  );

  app.post("/requests/:id/certificatedata", { schema: { params: IdParam, body: CertificateDataBody } }, async (req) => {
    const issued = await s.issuance.submit(actorOf(req), req.params.id, {
      certificateRequests: req.body.certificaterequests,
      pfxPassword: req.body.pfxpassword ?? undefined,
    });
    return issued.map(certificateAnswerView);
  });
}
