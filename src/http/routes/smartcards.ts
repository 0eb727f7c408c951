import { Type } from "@sinclair/typebox";
import type { App, Services } from "../app.js";
import type { SmartcardRow } from "../../store/store.js";
import { certificateShortView, smartcardView } from "../wire.js";
import { actorOf, callerOf, created, IdParam, jsonString, Paging } from "./common.js";

const BindBody = Type.Object({
  requestid: Type.String({ maxLength: 80 }),
  cardid: Type.String({ maxLength: 80 }),
  atr: Type.Optional(Type.Union([Type.String({ maxLength: 80 }), Type.Null()])),
});
const RequestCardParams = Type.Object({ reqid: Type.String({ maxLength: 80 }), scid: Type.String({ maxLength: 80 }) });
const KeyQuery = Type.Object({ cardid: Type.String({ maxLength: 80 }), atr: Type.Optional(Type.String({ maxLength: 80 })) });
const ResponseQuery = Type.Object({
  cardid: Type.String({ maxLength: 80 }),
  challenge: Type.String({ maxLength: 64 }),
  diversified: Type.Optional(Type.String({ maxLength: 8 })),
  atr: Type.Optional(Type.String({ maxLength: 80 })),
});

export function registerSmartcardRoutes(app: App, s: Services): void {
  const view = (c: SmartcardRow) => smartcardView(c, s.ctx.catalog.get(c.template_uuid)?.name);
  app.post("/smartcards", { schema: { body: BindBody } }, async (req, reply) => {
    const card = await s.smartcards.bind(actorOf(req), { requestId: req.body.requestid, cardId: req.body.cardid, atr: req.body.atr ?? undefined });
    return created(reply, `api/v1.0/smartcards/${card.uuid}`);
  });

  const ListQuery = Type.Object({ cardid: Type.Optional(Type.String({ maxLength: 80 })), targetuser: Type.Optional(Type.String({ maxLength: 256 })), ...Paging });
  app.get("/smartcards", { schema: { querystring: ListQuery } }, async (req) => {
    const q = req.query;
    const rows = await s.smartcards.list(callerOf(req), { cardId: q.cardid, targetUser: q.targetuser, top: q.top ?? 100, skip: q.skip ?? 0 });
    return rows.map(view);
  });

  app.get("/smartcards/:id", { schema: { params: IdParam } }, async (req) => view(await s.smartcards.get(callerOf(req), req.params.id)));

  app.get("/smartcards/:id/operations", { schema: { params: IdParam } }, async (req) => {
    const caller = callerOf(req);
    return s.smartcards.operations(caller, await s.smartcards.get(caller, req.params.id));
  });

  app.get("/smartcards/:id/certificates", { schema: { params: IdParam } }, async (req) => {
    const card = await s.smartcards.get(callerOf(req), req.params.id);
    return (await s.ctx.store.certificatesOfSmartcard(card.uuid)).map(certificateShortView);
  });

  app.get("/requests/:reqid/smartcards/:scid", { schema: { params: RequestCardParams } }, async (req) =>
    view((await s.smartcards.inRequest(callerOf(req), req.params.reqid, req.params.scid)).card),
  );

  app.put("/requests/:reqid/smartcards/:scid", { schema: { params: RequestCardParams, body: Type.Object({ status: Type.String({ minLength: 1, maxLength: 32 }) }) } }, async (req) =>
    view(await s.smartcards.setStatusInRequest(actorOf(req), req.params.reqid, req.params.scid, req.body.status)),
  );

  app.get("/smartcards/:id/serverproposedpin", { schema: { params: IdParam } }, async (req, reply) =>
    jsonString(reply, await s.smartcards.serverProposedPin(actorOf(req), req.params.id)),
  );

  app.get("/requests/:reqid/smartcards/:scid/diversifiedkey", { schema: { params: RequestCardParams, querystring: KeyQuery } }, async (req, reply) => {
    const key = await s.smartcards.release(actorOf(req), { requestId: req.params.reqid, smartcardId: req.params.scid, cardId: req.query.cardid, kind: "key" });
    return jsonString(reply, key.toString("base64"));
  });

  app.get("/requests/:reqid/smartcards/:scid/authenticationresponse", { schema: { params: RequestCardParams, querystring: ResponseQuery } }, async (req, reply) => {
    const response = await s.smartcards.release(actorOf(req), {
      requestId: req.params.reqid,
      smartcardId: req.params.scid,
      cardId: req.query.cardid,
      kind: "response",
      challenge: req.query.challenge,
      diversified: req.query.diversified,
    });
    return jsonString(reply, response.toString("base64"));
  });
}
