// User and group administration for admins (read-only for auditors): what `openclm admin user …`
// does on the database, over the API, for the web portal.
import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type { App, Services } from "../app.js";
import { forbidden } from "../../domain/errors.js";
import { createUser, directoryActor, listGroups, listUsers, updateUser, userDetails, userView } from "../../domain/services/users.js";
import { actorOf, callerOf, created, Paging } from "./common.js";

const NameParam = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) });
const Groups = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 });
const Attributes = {
  displayname: Type.Optional(Type.String({ maxLength: 256 })),
  email: Type.Optional(Type.String({ maxLength: 256 })),
  upn: Type.Optional(Type.String({ maxLength: 256 })),
  groups: Type.Optional(Groups),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  disabled: Type.Optional(Type.Boolean()),
};
const CreateBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), ...Attributes });
const UpdateBody = Type.Object({ ...Attributes, addgroups: Type.Optional(Groups), removegroups: Type.Optional(Groups) });

export function registerAdminRoutes(app: App, s: Services): void {
  const { permissions, store } = s.ctx;
  const mayRead = (req: FastifyRequest) => {
    if (!permissions.mayReadUsers(callerOf(req))) throw forbidden("NotAuthorized", "the user directory is for admins and auditors");
  };
  const mayWrite = (req: FastifyRequest) => {
    if (!permissions.mayAdministerUsers(callerOf(req))) throw forbidden("NotAuthorized", "administering users needs the admin role");
  };

  app.get("/admin/users", { schema: { querystring: Type.Object({ group: Type.Optional(Type.String({ maxLength: 128 })), ...Paging }) } }, async (req) => {
    mayRead(req);
    const rows = await listUsers(store, { group: req.query.group, top: req.query.top ?? 100, skip: req.query.skip ?? 0 });
    return rows.map(userView);
  });

  app.get("/admin/users/:name", { schema: { params: NameParam } }, async (req) => {
    mayRead(req);
    return userView(await userDetails(store, req.params.name));
  });

  app.post("/admin/users", { schema: { body: CreateBody } }, async (req, reply) => {
    mayWrite(req);
    const b = req.body;
    const u = await createUser(store, directoryActor(actorOf(req)), {
      name: b.name,
      displayName: b.displayname,
      email: b.email,
      upn: b.upn,
      groups: b.groups,
      password: b.password,
      disabled: b.disabled,
    });
    return created(reply, `api/v1.0/admin/users/${encodeURIComponent(u.row.name)}`);
  });

  app.put("/admin/users/:name", { schema: { params: NameParam, body: UpdateBody } }, async (req) => {
    mayWrite(req);
    const b = req.body;
    const u = await updateUser(store, directoryActor(actorOf(req)), req.params.name, {
      displayName: b.displayname,
      email: b.email,
      upn: b.upn,
      groups: b.groups,
      addGroups: b.addgroups,
      removeGroups: b.removegroups,
      password: b.password,
      disabled: b.disabled,
    });
    return userView(u);
  });

  app.get("/admin/groups", async (req) => {
    mayRead(req);
    return (await listGroups(store)).map((g) => ({ Name: g.name, Members: g.members }));
  });
}
