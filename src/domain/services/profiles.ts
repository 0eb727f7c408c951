// Software profiles: reading them and the operations their owner may start.
import type { ProfileRow } from "../../store/store.js";
import type { Caller } from "../caller.js";
import { ProfileStatus, WorkflowTypes, enumByName, operationName } from "../enums.js";
import { badInput, notFound } from "../errors.js";
import { parseGuid } from "../guid.js";
import { profileStatesFor } from "../credential-lifecycle.js";
import type { AppContext } from "./context.js";
import type { RequestService } from "./requests.js";

export class ProfileService {
  constructor(
    private readonly ctx: AppContext,
    private readonly requests: RequestService,
  ) {}

  async get(caller: Caller, uuidInput: string): Promise<ProfileRow> {
    const uuid = parseGuid(uuidInput);
    const p = uuid && (await this.ctx.store.profileByUuid(uuid));
    if (!p || !this.visible(caller, p)) throw notFound("profile");
    return p;
  }

  async list(caller: Caller, q: { status?: string; top: number; skip: number }): Promise<ProfileRow[]> {
    let status: number | undefined;
    if (q.status !== undefined && q.status !== "") {
      const name = enumByName(ProfileStatus, q.status);
      if (name === undefined) throw badInput("InvalidStatus", `status: unknown profile status "${q.status.slice(0, 32)}"`);
      status = ProfileStatus[name];
    }
    const all = this.ctx.permissions.isAuditor(caller);
    return this.ctx.store.listProfiles({ userUuid: all ? undefined : caller.uuid, status, page: { top: q.top, skip: q.skip } });
  }

  /** Profiles produced by a request (`/requests/{id}/profiles`). */
  async ofRequest(caller: Caller, requestId: string): Promise<ProfileRow[]> {
    const r = await this.requests.get(caller, requestId);
    const p = await this.ctx.store.profileByRequest(r.uuid);
    return p ? [p] : [];
  }

  operations(caller: Caller, p: ProfileRow): string[] {
    const t = this.ctx.catalog.get(p.template_uuid);
    if (!t) return [];
    return WorkflowTypes.filter(
      (w) => profileStatesFor[w]?.includes(p.status) && this.ctx.permissions.mayInitiate(caller, t, w, p.assigned_user_uuid).ok,
    ).map(operationName);
  }

  private visible(caller: Caller, p: ProfileRow): boolean {
    return this.ctx.permissions.maySeeCredential(caller, this.ctx.catalog.get(p.template_uuid), { assignedUserUuid: p.assigned_user_uuid });
  }
}
