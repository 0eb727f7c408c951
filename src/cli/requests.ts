// `openclm requests …`: the requests a user, approver or helpdesk operator can see, and the
// status changes they make (approve, deny, cancel, complete). Thin commands over the API.
import type { Command } from "commander";
import type { ApiClient } from "../client/api.js";
import { EXIT_CODES_HELP, InputError } from "../client/errors.js";
import { colorsFor } from "../client/ui/terminal.js";
import { RequestStatus, requestStatusByName, requestStatusName, requestTypeName } from "../client/wire-enums.js";
import { EMPTY_GUID, type ProfileTemplateView, type RequestView } from "../client/wire.js";
import { addExitCodeHelp, addServerOptions, connect, guidArgument, jsonOption, printJson, runCommand, type ServerOptions, usageErrorsExit2 } from "./client-common.js";

interface RequestsOptions extends ServerOptions {
  json?: boolean;
}

/** Template names the caller can resolve; others are shown by uuid (approvers see few templates). */
async function templateNames(api: ApiClient): Promise<Map<string, string>> {
  const templates = await api.listProfileTemplates().catch((): ProfileTemplateView[] => []);
  return new Map(templates.map((t) => [t.uuid, t.name]));
}

export function requestTypeText(r: RequestView): string {
  return r.workflow ?? requestTypeName(r.requestType);
}

const orNull = (guid: string) => (guid === EMPTY_GUID ? null : guid);

/** The request as `--json` prints it: names beside the wire numbers, "none" GUIDs as null. */
export function requestJson(r: RequestView, names: Map<string, string>) {
  return {
    id: r.uuid,
    type: requestTypeText(r),
    requestType: r.requestType,
    status: requestStatusName(r.status),
    statusCode: r.status,
    template: { uuid: r.profileTemplateUuid, name: names.get(r.profileTemplateUuid) ?? null },
    target: r.targetUserUuid,
    originator: r.originatorUserUuid,
    onBehalf: r.isEnrollmentAgent,
    submitted: r.submitted,
    completed: r.completed,
    approvalsNeeded: r.approvalsNeeded,
    approvals: r.approvals,
    smartcard: orNull(r.oldSmartcardUuid) ?? orNull(r.newSmartcardUuid),
    newSmartcard: orNull(r.newSmartcardUuid),
    profile: orNull(r.oldProfileUuid) ?? orNull(r.newProfileUuid),
    newProfile: orNull(r.newProfileUuid),
    comment: r.comment,
    dataCollection: r.dataCollection,
  };
}

const shortDate = (iso: string | null) => (iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z") : "-");

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

function statusText(r: RequestView): string {
  const name = requestStatusName(r.status);
  if (r.status === RequestStatus.Pending && r.approvalsNeeded !== null) return `${name} (${r.approvals ?? 0} of ${r.approvalsNeeded} approvals)`;
  return name;
}

function printRequest(r: RequestView, names: Map<string, string>): void {
  const c = colorsFor(process.stdout);
  const template = names.get(r.profileTemplateUuid);
  const lines = [
    `${c.bold("Request")}     ${r.uuid}`,
    `Type        ${requestTypeText(r)}`,
    `Status      ${statusText(r)}`,
    `Template    ${template ? `${template} (${r.profileTemplateUuid})` : r.profileTemplateUuid}`,
    `Target      ${r.targetUserUuid}${r.isEnrollmentAgent ? "  (on behalf, by an agent)" : ""}`,
    `Originator  ${r.originatorUserUuid}`,
    `Submitted   ${r.submitted ?? "-"}`,
    `Completed   ${r.completed ?? "-"}`,
  ];
  const card = orNull(r.oldSmartcardUuid) ?? orNull(r.newSmartcardUuid);
  if (card) lines.push(`Smart card  ${card}${orNull(r.newSmartcardUuid) && r.newSmartcardUuid !== card ? ` -> ${r.newSmartcardUuid}` : ""}`);
  const profile = orNull(r.oldProfileUuid) ?? orNull(r.newProfileUuid);
  if (profile) lines.push(`Profile     ${profile}`);
  if (r.comment) lines.push(`Comment     ${r.comment}`);
  for (const d of r.dataCollection) lines.push(`Data        ${d.name} = ${d.value}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

function statusFilter(opts: { pending?: boolean; status?: string }): string | undefined {
  const given = opts.status === undefined ? undefined : requestStatusByName(opts.status);
  if (opts.status !== undefined && !given) {
    throw new InputError(`--status ${opts.status}: one of ${Object.keys(RequestStatus).filter((k) => k !== "None").join(", ")}`);
  }
  if (opts.pending && given && given !== "Pending") throw new InputError("--pending and --status name different states");
  return opts.pending ? "Pending" : (given ?? undefined);
}

/** One status change and its report: "request ID approved: now Approved". */
async function change(opts: RequestsOptions, id: string, verb: string, act: (api: ApiClient, id: string) => Promise<RequestView>): Promise<void> {
  const api = await connect(opts);
  const r = await act(api, id);
  if (opts.json) {
    printJson({ ok: true, request: requestJson(r, await templateNames(api)) });
    return;
  }
  process.stdout.write(`request ${r.uuid} ${verb}: now ${statusText(r)}\n`);
}

export function registerRequestsCommands(program: Command): void {
  const requests = usageErrorsExit2(program.command("requests").description("list, inspect, approve, deny, cancel and complete requests"));
  addExitCodeHelp(requests, EXIT_CODES_HELP);

  addServerOptions(requests.command("list").description("requests you can see (yours, and those waiting for you as approver or helpdesk)"))
    .option("--pending", "only requests awaiting approval")
    .option("--status <name>", "only requests in this state (Pending, Approved, Executing, Completed, Denied, Canceled, …)")
    .addOption(jsonOption())
    .action((opts: RequestsOptions & { pending?: boolean; status?: string }) =>
      runCommand(Boolean(opts.json), async () => {
        const status = statusFilter(opts);
        const api = await connect(opts);
        const [list, names] = await Promise.all([api.listRequests(status), templateNames(api)]);
        if (opts.json) {
          printJson(list.map((r) => requestJson(r, names)));
          return;
        }
        if (list.length === 0) {
          process.stdout.write(`no ${status ? `${status.toLowerCase()} ` : ""}requests\n`);
          return;
        }
        const rows = [["ID", "TYPE", "STATUS", "TARGET", "TEMPLATE", "SUBMITTED"]];
        for (const r of list) {
          rows.push([r.uuid, requestTypeText(r), requestStatusName(r.status), r.targetUserUuid, names.get(r.profileTemplateUuid) ?? r.profileTemplateUuid, shortDate(r.submitted)]);
        }
        process.stdout.write(`${table(rows)}\n`);
      }),
    );

  addServerOptions(requests.command("show").description("one request in full").argument("<request>", "request uuid"))
    .addOption(jsonOption())
    .action((ref: string, opts: RequestsOptions) =>
      runCommand(Boolean(opts.json), async () => {
        const id = guidArgument(ref, "request");
        const api = await connect(opts);
        const [r, names] = await Promise.all([api.getRequest(id), templateNames(api)]);
        if (opts.json) printJson(requestJson(r, names));
        else printRequest(r, names);
      }),
    );

  for (const [name, decision, verb] of [
    ["approve", "Approve", "approved"],
    ["deny", "Deny", "denied"],
  ] as const) {
    addServerOptions(requests.command(name).description(`${name} a pending request (authorized approvers; never your own)`).argument("<request>", "request uuid"))
      .option("--comment <text>", "a comment recorded with the decision", "")
      .addOption(jsonOption())
      .action((ref: string, opts: RequestsOptions & { comment: string }) =>
        runCommand(Boolean(opts.json), () => change(opts, guidArgument(ref, "request"), verb, (api, id) => api.decideRequest(id, decision, opts.comment))),
      );
  }

  addServerOptions(requests.command("cancel").description("cancel a pending or approved request (its originator, target or an admin)").argument("<request>", "request uuid"))
    .addOption(jsonOption())
    .action((ref: string, opts: RequestsOptions) =>
      runCommand(Boolean(opts.json), () => change(opts, guidArgument(ref, "request"), "canceled", (api, id) => api.setRequestStatus(id, "Canceled"))),
    );

  addServerOptions(
    requests
      .command("complete")
      .description("mark an approved or executing request Completed (e.g. an offline unblock once the card took its new PIN)")
      .argument("<request>", "request uuid"),
  )
    .addOption(jsonOption())
    .action((ref: string, opts: RequestsOptions) =>
      runCommand(Boolean(opts.json), () => change(opts, guidArgument(ref, "request"), "completed", (api, id) => api.setRequestStatus(id, "Completed"))),
    );
}
