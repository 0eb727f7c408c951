// `openclm unblock`: online unblock with the card at hand. The server releases one admin
// challenge response for the card; the card takes a new PIN (typed, checked against the
// template's PIN policy, or proposed by the server) and its retry counter is reset.
import type { Command } from "commander";
import { CardStore, type LockedCard } from "../client/card/store.js";
import { dataCollectionBody, parseDataOptions } from "../client/enroll-input.js";
import { collectComment, collectDataItems, collectNewPin } from "../client/enroll-prompts.js";
import { EXIT_CODES_HELP, ExitCode, InputError } from "../client/errors.js";
import { pinStatusText } from "../client/card-view.js";
import { findSmartcardRecord, runOnlineUnblock, serverChoosesPin } from "../client/unblock-flow.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
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

interface UnblockOptions extends ServerOptions {
  card: string;
  pinEnv?: string;
  resume?: string;
  data: string[];
  comment?: string;
  yes?: boolean;
  json?: boolean;
  cardDir: string;
}

const HELP = `
The card's server record (found by its card id) must be Active. Without the card at hand, use
offline unblock instead: "openclm card unblock CARD --challenge", a helpdesk operator answers
with "openclm helpdesk unblock-response", then "openclm card unblock CARD --response HEX".

${EXIT_CODES_HELP}`;

export function registerUnblockCommand(program: Command): void {
  const cmd = usageErrorsExit2(program.command("unblock").description("unblock a card's PIN online: the server authorizes a new PIN for the card at hand"));
  addRequestInputOptions(
    addServerOptions(cmd)
      .requiredOption("--card <card>", "the blocked card (id, id prefix or file)")
      .option("--pin-env <var>", "read the new PIN from this environment variable (else asked twice)")
      .option("--resume <request>", "continue this unblock request once it has been approved (after exit code 6)"),
    "unblock",
  )
    .addHelpText("after", HELP)
    .action(async (opts: UnblockOptions) => {
      process.exitCode = await unblock(opts);
    });
}

async function unblock(opts: UnblockOptions): Promise<number> {
  const json = Boolean(opts.json);
  const session = startSteps(json, "ending the unblock request");
  const { steps, progress } = session;
  let locked: LockedCard | null = null;
  try {
    const requestId = opts.resume === undefined ? undefined : guidArgument(opts.resume, "--resume");
    const prompter = new Prompter();
    if (!opts.yes && !prompter.interactive) throw new InputError("not on a terminal: pass --yes (and --password-env, --pin-env) to run unattended");
    const api = await connect(opts, prompter, session.signal);
    locked = new CardStore(opts.cardDir).openLocked(opts.card);
    const card = locked.card;

    const smartcard = await steps.run("find-card", "Find the card on the server", () => findSmartcardRecord(api, card.cardId), (c) => c.uuid);
    const config = await steps.run("smartcard-config", "Read smart card configuration", () => api.getSmartcardConfig(smartcard.profileTemplateUuid));
    const policy = await steps.run("policy", "Read unblock policy", () => api.getPolicy(smartcard.profileTemplateUuid, "unblock"));

    progress.pause();
    let dataCollection: Record<string, string>[] = [];
    let comment = "";
    if (!requestId) {
      dataCollection = dataCollectionBody(policy, await collectDataItems(prompter, policy, parseDataOptions(opts.data), Boolean(opts.yes)));
      const c = await collectComment(prompter, policy, opts.comment);
      if (c.ignored) steps.notice("--comment ignored: this policy does not collect comments");
      comment = c.comment;
    }
    const pinEnv = opts.pinEnv ? secretFromEnv(opts.pinEnv, "--pin-env") : undefined;
    let newPin: string | null = null;
    if (serverChoosesPin(config)) {
      if (pinEnv !== undefined) steps.notice("--pin-env ignored: this template has the server choose the PIN");
    } else {
      newPin = await collectNewPin(prompter, config.userPinPolicy, pinEnv);
    }
    if (!opts.yes) {
      const go = await prompter.confirm(`Unblock card ${card.cardId} and set its new PIN?`);
      if (!go) {
        process.stderr.write("nothing was requested\n");
        return ExitCode.Ok;
      }
    }

    const outcome = await runOnlineUnblock(
      { card, smartcard, config, newPin, dataCollection, comment, ...(requestId ? { requestId } : {}) },
      { api, steps },
    );
    if (outcome.kind === "pending") {
      return reportPending(json, outcome.requestId, `${commandHint("unblock", opts)} --card ${card.cardId} --resume ${outcome.requestId}`);
    }
    if (json) {
      printJson({
        ok: true,
        status: "Completed",
        requestId: outcome.requestId,
        smartcardUuid: outcome.smartcardUuid,
        cardId: outcome.cardId,
        pin: outcome.pin,
        ...(outcome.serverProposedPin ? { serverProposedPin: outcome.serverProposedPin } : {}),
      });
      return ExitCode.Ok;
    }
    const c = colorsFor(process.stdout);
    const lines = [
      "",
      c.green(c.bold("Card unblocked.")),
      `  Card         ${outcome.cardId}`,
      `  Request      ${outcome.requestId}`,
      `  PIN          ${pinStatusText(outcome.pin)}`,
    ];
    if (outcome.serverProposedPin) lines.push(c.yellow(`  PIN chosen by the server: ${outcome.serverProposedPin}  (write it down; it is not shown again)`));
    process.stdout.write(`${lines.join("\n")}\n`);
    return ExitCode.Ok;
  } catch (err) {
    return session.fail(err);
  } finally {
    locked?.card.logout();
    locked?.release();
    session.dispose();
  }
}
