// `openclm enroll`: the seed walkthrough from the user's side. Everything that needs asking is
// asked first; then the steps run with progress shown, and the run ends with a summary or one
// JSON object (--json). Ctrl-C or a server error abandons the request and cleans the card.
import { Command } from "commander";
import type { ApiClient } from "../client/api.js";
import { CardError } from "../client/card/errors.js";
import { CardStore, type LockedCard } from "../client/card/store.js";
import { parseDataOptions, dataCollectionBody } from "../client/enroll-input.js";
import { needsUserPin, runEnrollment, type EnrollOutcome, type EnrollPlan } from "../client/enroll-flow.js";
import { chooseTemplate, collectComment, collectCurrentPin, collectDataItems, collectNewPin } from "../client/enroll-prompts.js";
import { recoverInterruptedEnrollments, resolveInterruptedEnrollment, type RecoveryOutcome } from "../client/enroll-recovery.js";
import { EXIT_CODES_HELP, ExitCode, InputError } from "../client/errors.js";
import type { StepRunner } from "../client/steps.js";
import { findSmartcardRecord } from "../client/unblock-flow.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
import { UserPinOption } from "../client/wire-enums.js";
import type { ProfileTemplateView } from "../client/wire.js";
import {
  addRequestInputOptions,
  addServerOptions,
  commandHint,
  connect,
  guidArgument,
  printJson,
  reportPending,
  secretFromEnv,
  startSteps,
  type ServerOptions,
  usageErrorsExit2,
} from "./client-common.js";

interface EnrollOptions extends ServerOptions {
  template?: string;
  onBehalfOf?: string;
  card?: string;
  request?: string;
  resume?: string;
  data: string[];
  comment?: string;
  pinEnv?: string;
  yes?: boolean;
  json?: boolean;
  cardDir: string;
}

/** --request and its alias --resume (the wording of a requester who waited for approval). */
function continuedRequest(opts: { request?: string; resume?: string }): string | undefined {
  if (opts.request && opts.resume && guidArgument(opts.request, "--request") !== guidArgument(opts.resume, "--resume")) {
    throw new InputError("--request and --resume name different requests");
  }
  const ref = opts.resume ?? opts.request;
  return ref === undefined ? undefined : guidArgument(ref, opts.resume ? "--resume" : "--request");
}

/**
 * Test hook: OPENCLM_TEST_CRASH_AT=<checkpoint> kills this process with SIGKILL at that point
 * (after-create-request, after-bind, after-key-release, before-certificatedata,
 * after-certificatedata, before-complete), to test recovery from a real crash.
 */
function crashHook(name: string): void {
  if (process.env.OPENCLM_TEST_CRASH_AT === name) process.kill(process.pid, "SIGKILL");
}

const HELP = `
Non-interactive use: --password-env VAR, --pin-env VAR, --data "Item=value" for each required
item, --template, and --yes. Secrets are never taken on the command line.

A request that needs approval stops the run with exit code 6; once an approver has accepted it,
"openclm enroll --resume REQUEST" (same --server, --user and, for a physical-card template,
--card) continues it. --request is the same option under its older name.

If an earlier enroll was interrupted (Ctrl-C, crash, server error), its card holds a journal:
the next enroll against the same server as the same user abandons that request on the server
(or completes it if its certificates were already installed) and removes the keys it left on
the card before starting.

${EXIT_CODES_HELP}`;

export function registerEnrollCommand(program: Command): void {
  const cmd = usageErrorsExit2(program.command("enroll").description("enroll for a smart card profile template onto a software virtual smart card"));
  addRequestInputOptions(
    addServerOptions(cmd)
      .option("--template <name|uuid>", "profile template (default: ask, or the only one)")
      .option("--on-behalf-of <user>", "enroll a card for this user, as an enrollment agent")
      .option("--card <card>", "existing card (id, id prefix or file) instead of a new virtual card")
      .option("--resume <request>", "continue this request once it has been approved (after exit code 6)")
      .option("--request <uuid>", "the same as --resume")
      .option("--pin-env <var>", "read the PIN from this environment variable"),
    "enrollment",
  )
    .addHelpText("after", HELP)
    .action(async (opts: EnrollOptions) => {
      process.exitCode = await enroll(opts);
    });
}

async function enroll(opts: EnrollOptions): Promise<number> {
  const json = Boolean(opts.json);
  const session = startSteps(json, "ending the request and cleaning up the card");
  const { steps, progress } = session;
  let locked: LockedCard | null = null;
  const recovered: RecoveryOutcome[] = [];
  try {
    const requestId = continuedRequest(opts);
    const prompter = new Prompter();
    if (!opts.yes && !prompter.interactive) throw new InputError("not on a terminal: pass --yes (and --password-env, --pin-env, --data) to run unattended");
    const api = await connect(opts, prompter, session.signal);
    const user = api.user;
    const store = new CardStore(opts.cardDir);

    if (opts.card) {
      const given = await openGivenCard(api, store, steps, opts.card);
      locked = given.locked;
      if (given.recovered) recovered.push(given.recovered);
    }
    recovered.push(...(await recoverInterruptedEnrollments(api, store, steps, locked?.path)));

    // Template, policy and card configuration (walkthrough steps 1–4 and 12).
    const templates = await steps.run("templates", "Find profile templates", () => api.listProfileTemplates(opts.onBehalfOf), (t) => `${t.length} available`);
    let template: ProfileTemplateView;
    if (requestId) {
      const request = await steps.run("read-request", "Read request", () => api.getRequest(requestId));
      template = templates.find((t) => t.uuid === request.profileTemplateUuid) ?? {
        name: request.profileTemplateUuid,
        description: "",
        uuid: request.profileTemplateUuid,
        isSmartcard: true,
        isVirtualSmartcard: true,
      };
    } else {
      progress.pause();
      template = await chooseTemplate(prompter, templates, opts.template);
      if (!opts.template && !json) process.stderr.write(`Profile template: ${template.name}\n`);
    }
    if (!template.isSmartcard && !template.isVirtualSmartcard) {
      throw new InputError(`template "${template.name}" issues a software profile; this client enrolls smart cards only`);
    }
    const policy = await steps.run("policy", "Read enrollment policy", () => api.getPolicy(template.uuid, "enroll"));
    const config = await steps.run("smartcard-config", "Read smart card configuration", () => api.getSmartcardConfig(template.uuid));
    if (!locked && !config.createVirtualSmartcard && !template.isVirtualSmartcard) {
      throw new InputError(
        `template "${template.name}" is for physical smart cards: pass --card with a card to use ` +
          "(a software stand-in: openclm card create --admin-key <the template's default admin key>)",
      );
    }

    // Everything the user must supply, before the server is asked to create anything.
    progress.pause();
    let dataCollection: Record<string, string>[] = [];
    let comment = "";
    if (!requestId) {
      const values = await collectDataItems(prompter, policy, parseDataOptions(opts.data), Boolean(opts.yes));
      dataCollection = dataCollectionBody(policy, values);
      const c = await collectComment(prompter, policy, opts.comment);
      if (c.ignored) steps.notice("--comment ignored: this policy does not collect comments");
      comment = c.comment;
    }
    const pinEnv = opts.pinEnv ? secretFromEnv(opts.pinEnv, "--pin-env") : undefined;
    let pin: string | null = null;
    const keepsCardPin = config.userPinOption === UserPinOption.None && Boolean(locked?.card.pinStatus().set);
    if (keepsCardPin) pin = await collectCurrentPin(prompter, pinEnv);
    else if (needsUserPin(config)) pin = await collectNewPin(prompter, config.userPinPolicy, pinEnv);

    if (!opts.yes) {
      const where = locked ? `card ${locked.card.cardId}` : "a new virtual smart card";
      const who = opts.onBehalfOf ? `${opts.onBehalfOf} (as enrollment agent ${user})` : user;
      const go = await prompter.confirm(`Enroll ${who} for "${template.name}" on ${where}?`);
      if (!go) {
        process.stderr.write("nothing was requested\n");
        return ExitCode.Ok;
      }
    }

    const plan: EnrollPlan = {
      template,
      policy,
      smartcardConfig: config,
      dataCollection,
      comment,
      pin,
      card: locked,
      ...(requestId ? { requestId } : {}),
      ...(opts.onBehalfOf ? { onBehalfOf: opts.onBehalfOf } : {}),
    };
    const cardRef = locked ? ` --card ${locked.card.cardId}` : "";
    locked = null; // the flow owns the lock from here
    const outcome = await runEnrollment(plan, { api, store, steps, checkpoint: crashHook });
    if (outcome.kind === "pending") return reportPending(json, outcome.requestId, `${commandHint("enroll", opts)} --resume ${outcome.requestId}${cardRef}`);
    return report(outcome, { json, template, recovered });
  } catch (err) {
    return session.fail(err);
  } finally {
    locked?.release();
    session.dispose();
  }
}

/**
 * Locks the card given with --card and first settles an enrollment it was left in. A card that
 * only existed for that enrollment is deleted by the recovery; this run then makes a new one.
 */
async function openGivenCard(
  api: ApiClient,
  store: CardStore,
  steps: StepRunner,
  ref: string,
): Promise<{ locked: LockedCard | null; recovered?: RecoveryOutcome }> {
  const locked = store.openLocked(ref);
  try {
    const journal = locked.card.journal;
    if (!journal) return { locked };
    if (journal.server !== api.baseUrl || journal.user.toLowerCase() !== api.user.toLowerCase()) {
      throw new CardError(
        `card ${locked.card.cardId} has an unfinished enrollment on ${journal.server} as ${journal.user}; ` +
          "run enroll there first (or delete the card)",
      );
    }
    const outcome = await steps.run("recover", "Resolve interrupted enrollment of this card", () =>
      resolveInterruptedEnrollment(api, store, locked), (o) => o?.message,
    );
    if (outcome && !outcome.resolved) {
      steps.notice(outcome.message);
      throw outcome.error ?? new CardError(outcome.message);
    }
    if (outcome?.cardDeleted) {
      steps.notice(`card ${outcome.cardId} was created by the interrupted enrollment and has been deleted; a new card will be used`);
      locked.release();
      return { locked: null, recovered: outcome };
    }
    return { locked, ...(outcome ? { recovered: outcome } : {}) };
  } catch (err) {
    locked.release();
    throw err;
  }
}

function report(
  outcome: Extract<EnrollOutcome, { kind: "completed" }>,
  ctx: { json: boolean; template: ProfileTemplateView; recovered: RecoveryOutcome[] },
): number {
  if (ctx.json) {
    printJson({
      ok: true,
      status: "Completed",
      requestId: outcome.requestId,
      smartcardUuid: outcome.smartcardUuid,
      cardId: outcome.cardId,
      cardFile: outcome.cardPath,
      cardCreated: outcome.cardCreated,
      template: { name: ctx.template.name, uuid: ctx.template.uuid },
      certificates: outcome.certificates,
      recovered: ctx.recovered.map((r) => ({ cardId: r.cardId, requestId: r.requestId, action: r.serverAction, message: r.message })),
      ...(outcome.serverProposedPin ? { serverProposedPin: outcome.serverProposedPin } : {}),
    });
    return ExitCode.Ok;
  }
  const c = colorsFor(process.stdout);
  const lines = [
    "",
    c.green(c.bold("Enrollment complete.")),
    `  Card         ${outcome.cardId}${outcome.cardCreated ? " (new virtual smart card)" : ""}`,
    `  Card file    ${outcome.cardPath}`,
    `  Request      ${outcome.requestId}`,
  ];
  for (const cert of outcome.certificates) {
    lines.push(`  Certificate  ${cert.subject}`, `    Serial     ${cert.serialNumber}`, `    Expires    ${cert.notAfter}`);
  }
  if (outcome.serverProposedPin) lines.push(c.yellow(`  PIN chosen by the server: ${outcome.serverProposedPin}  (write it down; it is not shown again)`));
  process.stdout.write(`${lines.join("\n")}\n`);
  return ExitCode.Ok;
}

// --- openclm renew ---------------------------------------------------------------------------

interface RenewOptions extends ServerOptions {
  card: string;
  request?: string;
  resume?: string;
  data: string[];
  comment?: string;
  pinEnv?: string;
  yes?: boolean;
  json?: boolean;
  cardDir: string;
}

const RENEW_HELP = `
The card's server record (found by its card id) must be Active and its template must renew cards
in place (ReuseCardOnRenew). New keys are made on the card behind its current PIN, the new
certificates installed, the request completed; the server then marks the earlier certificates
superseded and they are removed from the card with their keys. The card's admin key moves to
the template's current master-secret version on the way.

${EXIT_CODES_HELP}`;

export function registerRenewCommand(program: Command): void {
  const cmd = usageErrorsExit2(program.command("renew").description("renew the certificates of an enrolled card: new keys and certificates on the same card"));
  addRequestInputOptions(
    addServerOptions(cmd)
      .requiredOption("--card <card>", "the card to renew (id, id prefix or file)")
      .option("--resume <request>", "continue this renewal request once it has been approved (after exit code 6)")
      .option("--request <uuid>", "the same as --resume")
      .option("--pin-env <var>", "read the card's current PIN from this environment variable"),
    "renew",
  )
    .addHelpText("after", RENEW_HELP)
    .action(async (opts: RenewOptions) => {
      process.exitCode = await renew(opts);
    });
}

async function renew(opts: RenewOptions): Promise<number> {
  const json = Boolean(opts.json);
  const session = startSteps(json, "ending the request and removing the new keys from the card");
  const { steps, progress } = session;
  let locked: LockedCard | null = null;
  try {
    const requestId = continuedRequest(opts);
    const prompter = new Prompter();
    if (!opts.yes && !prompter.interactive) throw new InputError("not on a terminal: pass --yes (and --password-env, --pin-env) to run unattended");
    const api = await connect(opts, prompter, session.signal);
    const store = new CardStore(opts.cardDir);
    const given = await openGivenCard(api, store, steps, opts.card);
    if (!given.locked) throw new CardError(`card ${opts.card} only held an unfinished enrollment and has been deleted; there is nothing to renew`);
    locked = given.locked;
    await recoverInterruptedEnrollments(api, store, steps, locked.path);
    const card = locked.card;

    const smartcard = await steps.run("find-card", "Find the card on the server", () => findSmartcardRecord(api, card.cardId), (c) => c.uuid);
    const templates = await api.listProfileTemplates().catch((): ProfileTemplateView[] => []);
    const template = templates.find((t) => t.uuid === smartcard.profileTemplateUuid) ?? {
      name: smartcard.profileTemplateUuid,
      description: "",
      uuid: smartcard.profileTemplateUuid,
      isSmartcard: true,
      isVirtualSmartcard: false,
    };
    const policy = await steps.run("policy", "Read renewal policy", () => api.getPolicy(template.uuid, "renew"));
    const config = await steps.run("smartcard-config", "Read smart card configuration", () => api.getSmartcardConfig(template.uuid));
    if (!config.reuseCardOnRenew) {
      throw new InputError(`template "${template.name}" renews onto a new card (ReuseCardOnRenew is off); this client renews cards in place only`);
    }

    progress.pause();
    let dataCollection: Record<string, string>[] = [];
    let comment = "";
    if (!requestId) {
      dataCollection = dataCollectionBody(policy, await collectDataItems(prompter, policy, parseDataOptions(opts.data), Boolean(opts.yes)));
      const c = await collectComment(prompter, policy, opts.comment);
      if (c.ignored) steps.notice("--comment ignored: this policy does not collect comments");
      comment = c.comment;
    }
    const pin = await collectCurrentPin(prompter, opts.pinEnv ? secretFromEnv(opts.pinEnv, "--pin-env") : undefined);
    // Checked now, so a mistyped PIN costs no request (a wrong one counts, as on any card).
    card.verifyPin(pin);
    card.logout();

    if (!opts.yes) {
      const go = await prompter.confirm(`Renew the certificates of card ${card.cardId} ("${template.name}")?`);
      if (!go) {
        process.stderr.write("nothing was requested\n");
        return ExitCode.Ok;
      }
    }
    const plan: EnrollPlan = {
      template,
      policy,
      smartcardConfig: config,
      dataCollection,
      comment,
      pin,
      card: locked,
      renew: { smartcardUuid: smartcard.uuid },
      ...(requestId ? { requestId } : {}),
    };
    locked = null; // the flow owns the lock from here
    const outcome = await runEnrollment(plan, { api, store, steps, checkpoint: crashHook });
    if (outcome.kind === "pending") {
      return reportPending(json, outcome.requestId, `${commandHint("renew", opts)} --card ${card.cardId} --resume ${outcome.requestId}`);
    }
    const removed = outcome.removedSuperseded ?? [];
    if (json) {
      printJson({
        ok: true,
        status: "Completed",
        requestId: outcome.requestId,
        smartcardUuid: outcome.smartcardUuid,
        cardId: outcome.cardId,
        template: { name: template.name, uuid: template.uuid },
        certificates: outcome.certificates,
        removedSuperseded: removed,
      });
      return ExitCode.Ok;
    }
    const c = colorsFor(process.stdout);
    const lines = ["", c.green(c.bold("Renewal complete.")), `  Card         ${outcome.cardId}`, `  Request      ${outcome.requestId}`];
    for (const cert of outcome.certificates) {
      lines.push(`  Certificate  ${cert.subject}`, `    Serial     ${cert.serialNumber}`, `    Expires    ${cert.notAfter}`);
    }
    for (const serial of removed) lines.push(`  Removed      superseded certificate ${serial} and its key`);
    process.stdout.write(`${lines.join("\n")}\n`);
    return ExitCode.Ok;
  } catch (err) {
    return session.fail(err);
  } finally {
    locked?.release();
    session.dispose();
  }
}
