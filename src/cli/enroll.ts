// `openclm enroll`: the seed walkthrough from the user's side. Everything that needs asking is
// asked first; then the steps run with progress shown, and the run ends with a summary or one
// JSON object (--json). Ctrl-C or a server error abandons the request and cleans the card.
import { Command, Option } from "commander";
import { ApiClient } from "../client/api.js";
import { CardError } from "../client/card/errors.js";
import { CardStore, type LockedCard } from "../client/card/store.js";
import { parseDataOptions, dataCollectionBody } from "../client/enroll-input.js";
import { needsUserPin, runEnrollment, type EnrollOutcome, type EnrollPlan } from "../client/enroll-flow.js";
import { chooseTemplate, collectComment, collectCurrentPin, collectDataItems, collectNewPin } from "../client/enroll-prompts.js";
import { recoverInterruptedEnrollments, resolveInterruptedEnrollment, type RecoveryOutcome } from "../client/enroll-recovery.js";
import { EXIT_CODES_HELP, ExitCode, InputError, InterruptedError } from "../client/errors.js";
import { StepRunner, type StepEvent } from "../client/steps.js";
import { createProgressRenderer } from "../client/ui/progress.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
import { UserPinOption } from "../client/wire-enums.js";
import { normaliseGuid, type ProfileTemplateView } from "../client/wire.js";
import { cardDirOption, printJson, reportError, secretFromEnv } from "./client-common.js";

interface EnrollOptions {
  server?: string;
  user?: string;
  template?: string;
  card?: string;
  request?: string;
  data: string[];
  comment?: string;
  passwordEnv?: string;
  pinEnv?: string;
  yes?: boolean;
  json?: boolean;
  cardDir: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

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

If an earlier enroll was interrupted (Ctrl-C, crash, server error), its card holds a journal:
the next enroll against the same server as the same user abandons that request on the server
(or completes it if its certificates were already installed) and removes the keys it left on
the card before starting.

${EXIT_CODES_HELP}`;

export function registerEnrollCommand(program: Command): void {
  program
    .command("enroll")
    .description("enroll for a smart card profile template onto a software virtual smart card")
    .option("--server <url>", "server URL, e.g. https://cm.example.com (env OPENCLM_SERVER)")
    .option("--user <name>", "user name for Basic authentication (env OPENCLM_USER)")
    .option("--template <name|uuid>", "profile template (default: ask, or the only one)")
    .option("--card <card>", "existing card (id, id prefix or file) instead of a new virtual card")
    .option("--request <uuid>", "continue this approved request instead of creating one")
    .option("--data <item=value>", "data collection item (repeatable)", collect, [])
    .option("--comment <text>", "request comment (used when the policy collects comments)")
    .option("--password-env <var>", "read the password from this environment variable")
    .option("--pin-env <var>", "read the PIN from this environment variable")
    .option("--yes", "do not ask for confirmation or for optional items")
    .addOption(new Option("--json", "print one machine-readable JSON result on stdout"))
    .addOption(cardDirOption())
    .addHelpText("after", HELP)
    .action(async (opts: EnrollOptions) => {
      process.exitCode = await enroll(opts);
    });
}

async function enroll(opts: EnrollOptions): Promise<number> {
  const json = Boolean(opts.json);
  const progress = createProgressRenderer(process.stdout);
  const listener = json
    ? (e: StepEvent) => {
        if (e.type === "notice") process.stderr.write(`note: ${e.message}\n`);
      }
    : progress.listener;
  const steps = new StepRunner(listener);
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.Interrupted);
    progress.pause();
    process.stderr.write("\ninterrupted: ending the request and cleaning up the card (Ctrl-C again to quit at once)\n");
    abort.abort();
  };
  let locked: LockedCard | null = null;
  const recovered: RecoveryOutcome[] = [];
  try {
    const server = opts.server ?? process.env.OPENCLM_SERVER;
    const user = opts.user ?? process.env.OPENCLM_USER;
    if (!server) throw new InputError("--server URL is required");
    if (!user) throw new InputError("--user NAME is required");
    const prompter = new Prompter();
    if (!opts.yes && !prompter.interactive) throw new InputError("not on a terminal: pass --yes (and --password-env, --pin-env, --data) to run unattended");
    const password = opts.passwordEnv
      ? secretFromEnv(opts.passwordEnv, "--password-env")
      : await prompter.askHidden(`Password for ${user}:`, "use --password-env VAR");
    process.on("SIGINT", onSigint);
    const api = new ApiClient({ server, user, password, signal: abort.signal });
    const store = new CardStore(opts.cardDir);

    if (opts.card) {
      const given = await openGivenCard(api, store, steps, opts.card);
      locked = given.locked;
      if (given.recovered) recovered.push(given.recovered);
    }
    recovered.push(...(await recoverInterruptedEnrollments(api, store, steps, locked?.path)));

    // Template, policy and card configuration (walkthrough steps 1–4 and 12).
    const templates = await steps.run("templates", "Find profile templates", () => api.listProfileTemplates(), (t) => `${t.length} available`);
    let template: ProfileTemplateView;
    if (opts.request) {
      const request = await steps.run("read-request", "Read request", () => api.getRequest(normaliseGuid(opts.request!)));
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
          `(a software stand-in: openclm card create --admin-key ${config.defaultAdminKeyHex || "<template default admin key>"})`,
      );
    }

    // Everything the user must supply, before the server is asked to create anything.
    progress.pause();
    let dataCollection: Record<string, string>[] = [];
    let comment = "";
    if (!opts.request) {
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
      const go = await prompter.confirm(`Enroll ${user} for "${template.name}" on ${where}?`);
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
      ...(opts.request ? { requestId: normaliseGuid(opts.request) } : {}),
    };
    locked = null; // the flow owns the lock from here
    const outcome = await runEnrollment(plan, { api, store, steps, checkpoint: crashHook });
    return report(outcome, { json, user, server, template, recovered });
  } catch (err) {
    progress.pause();
    if (abort.signal.aborted && !(err instanceof InterruptedError)) return reportError(new InterruptedError(), json);
    return reportError(err, json);
  } finally {
    locked?.release();
    process.off("SIGINT", onSigint);
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
  outcome: EnrollOutcome,
  ctx: { json: boolean; user: string; server: string; template: ProfileTemplateView; recovered: RecoveryOutcome[] },
): number {
  if (outcome.kind === "pending") {
    const message =
      `request ${outcome.requestId} awaits approval. Once it is approved, continue with: ` +
      `openclm enroll --server ${ctx.server} --user ${ctx.user} --request ${outcome.requestId}`;
    if (ctx.json) printJson({ ok: false, status: "Pending", requestId: outcome.requestId, message, exitCode: ExitCode.PendingApproval });
    else process.stdout.write(`\n${colorsFor(process.stdout).yellow("Pending approval:")} ${message}\n`);
    return ExitCode.PendingApproval;
  }
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
