// `openclm card …`: the local software virtual smart cards. No command here prints or exports
// a private key or the admin key; secrets come in through the terminal or --*-env variables.
import { Command, Option } from "commander";
import { AdminAuthError } from "../client/card/errors.js";
import { CardStore } from "../client/card/store.js";
import { DEMO_DEFAULT_ADMIN_KEY_HEX, DEFAULT_PIN_MAX_ATTEMPTS } from "../client/card/constants.js";
import { parseAdminKeyHex } from "../client/card/des.js";
import { cardView, pinStatusText, type CardView } from "../client/card-view.js";
import { dataCollectionBody, parseDataOptions } from "../client/enroll-input.js";
import { collectComment, collectDataItems } from "../client/enroll-prompts.js";
import { EXIT_CODES_HELP, ExitCode, InputError } from "../client/errors.js";
import { pinPolicyProblem } from "../client/pin-policy.js";
import { formatHex, offlineUnblockChallenge, parseHex8, smartcardByRef, unblockWithResponse } from "../client/unblock-flow.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
import { requestStatusName, smartcardStatusName, RequestStatus } from "../client/wire-enums.js";
import {
  addExitCodeHelp,
  addServerOptions,
  cardDirOption,
  collectRepeatable,
  commandHint,
  connect,
  guidArgument,
  printJson,
  reportPending,
  runCommand,
  secretFromEnv,
  type ServerOptions,
  usageErrorsExit2,
} from "./client-common.js";

interface CommonOpts {
  cardDir: string;
  json?: boolean;
}

const jsonOption = () => new Option("--json", "print one machine-readable JSON result");

/** Reads a new PIN: from --pin-env, else typed twice on the terminal. Empty allowed when optional. */
async function readNewPin(prompter: Prompter, envVar: string | undefined, envOption: string, optional: boolean): Promise<string | null> {
  if (envVar) {
    const pin = secretFromEnv(envVar, envOption);
    const problem = pinPolicyProblem(pin, null);
    if (problem) throw new InputError(problem);
    return pin;
  }
  if (!prompter.interactive) {
    if (optional) return null;
    throw new InputError(`no PIN given: use ${envOption} VAR when not on a terminal`);
  }
  for (;;) {
    const pin = await prompter.askHidden(optional ? "New PIN (empty: leave unset, enrollment sets it):" : "New PIN:", `use ${envOption}`);
    if (pin === "" && optional) return null;
    const problem = pinPolicyProblem(pin, null);
    if (problem) {
      process.stderr.write(`${problem}\n`);
      continue;
    }
    if ((await prompter.askHidden("Repeat the PIN:")) === pin) return pin;
    process.stderr.write("the two PINs differ, try again\n");
  }
}

async function readPin(prompter: Prompter, envVar: string | undefined): Promise<string> {
  if (envVar) return secretFromEnv(envVar, "--pin-env");
  return prompter.askHidden("PIN:", "use --pin-env VAR");
}

function printCard(view: CardView): void {
  const c = colorsFor(process.stdout);
  const lines = [
    `${c.bold("Card")}      ${view.cardId}${view.label ? `  (${view.label})` : ""}`,
    `File      ${view.file}`,
    `ATR       ${view.atr}`,
    `Created   ${view.createdAt}`,
    `PIN       ${view.pin.blocked ? c.red(pinStatusText(view.pin)) : pinStatusText(view.pin)}`,
  ];
  if (view.keys.length === 0) lines.push("Keys      none");
  for (const k of view.keys) {
    lines.push(`Key       ${k.containerId}  ${k.algorithm}${k.algorithm === "RSA" ? ` ${k.keySize}` : ""}${k.friendlyName ? `  "${k.friendlyName}"` : ""}`);
    if (k.certificate) {
      lines.push(`  Certificate  ${k.certificate.subject}`);
      lines.push(`  Issuer       ${k.certificate.issuer}`);
      lines.push(`  Serial       ${k.certificate.serialNumber}`);
      lines.push(`  Valid        ${k.certificate.notBefore} to ${k.certificate.notAfter}`);
      lines.push(`  Thumbprint   ${k.certificate.thumbprint}`);
    } else {
      lines.push(`  ${c.yellow("no certificate: orphan key of an unfinished enrollment")}`);
    }
  }
  for (const ca of view.caCertificates) lines.push(`CA cert   ${ca.subject}`);
  if (view.offlineUnblockChallenge) {
    lines.push(`Unblock   offline challenge ${view.offlineUnblockChallenge.challenge} waiting for the helpdesk's response (until ${view.offlineUnblockChallenge.expiresAt})`);
  }
  const j = view.unfinishedEnrollment;
  if (j) {
    lines.push(
      c.yellow(`Unfinished enrollment: request ${j.requestId} ("${j.templateName}") stopped at step "${j.step}" on ${j.server} as ${j.user}, ${j.updatedAt}.`),
      c.yellow(`  The next "openclm enroll --server … --user ${j.user}" abandons it and removes its keys.`),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function registerCardCommands(program: Command): void {
  const card = usageErrorsExit2(program.command("card").description("manage local software virtual smart cards, and cards' server-side workflows"));
  addExitCodeHelp(card, EXIT_CODES_HELP);

  card
    .command("create")
    .description("create a virtual smart card (TPM virtual smart card ATR, 3DES admin key)")
    .option("--admin-key <hex>", `initial 3DES admin key, 48 hex digits (default: the demo key ${DEMO_DEFAULT_ADMIN_KEY_HEX})`)
    .option("--pin-env <var>", "read the initial PIN from this environment variable")
    .option("--max-attempts <n>", "wrong PIN entries before the card blocks", String(DEFAULT_PIN_MAX_ATTEMPTS))
    .option("--label <text>", "a label shown by card list", "")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .action((opts: CommonOpts & { adminKey?: string; pinEnv?: string; maxAttempts: string; label: string }) =>
      runCommand(Boolean(opts.json), async () => {
        let adminKey: Buffer;
        try {
          adminKey = parseAdminKeyHex(opts.adminKey ?? DEMO_DEFAULT_ADMIN_KEY_HEX);
        } catch (err) {
          throw new InputError(`--admin-key: ${(err as Error).message}`);
        }
        if (!opts.adminKey) {
          process.stderr.write(
            `note: no --admin-key given; the card gets the demo default admin key ${DEMO_DEFAULT_ADMIN_KEY_HEX} ` +
              "(the DefaultAdminKeyHex of the demo templates). Do not use it for real cards.\n",
          );
        }
        const maxAttempts = Number(opts.maxAttempts);
        if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 255) throw new InputError("--max-attempts must be 1 to 255");
        const pin = await readNewPin(new Prompter(), opts.pinEnv, "--pin-env", true);
        const store = new CardStore(opts.cardDir);
        const created = store.create({ adminKey, pinMaxAttempts: maxAttempts, label: opts.label, ...(pin ? { pin } : {}) });
        adminKey.fill(0);
        if (opts.json) printJson({ ok: true, cardId: created.card.cardId, file: created.path, atr: created.card.atr, pinSet: pin !== null });
        else process.stdout.write(`created card ${created.card.cardId}\n  file ${created.path}\n  PIN ${pin ? "set" : "not set"}\n`);
      }),
    );

  card
    .command("list")
    .description("list the cards in the card directory")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .action((opts: CommonOpts) =>
      runCommand(Boolean(opts.json), async () => {
        const entries = new CardStore(opts.cardDir).list();
        if (opts.json) {
          printJson(entries.map((e) => (e.card ? cardView(e.card, e.path) : { file: e.path, error: e.error })));
          return;
        }
        if (entries.length === 0) {
          process.stdout.write(`no cards in ${new CardStore(opts.cardDir).dir}\n`);
          return;
        }
        for (const e of entries) {
          if (!e.card) {
            process.stdout.write(`${e.path}  unreadable: ${e.error}\n`);
            continue;
          }
          const v = cardView(e.card, e.path);
          const certs = v.keys.filter((k) => k.state === "certified").length;
          const orphans = v.keys.length - certs;
          const notes = [
            `${certs} certificate${certs === 1 ? "" : "s"}`,
            ...(orphans ? [`${orphans} orphan key${orphans === 1 ? "" : "s"}`] : []),
            `PIN ${pinStatusText(v.pin)}`,
            ...(v.unfinishedEnrollment ? ["unfinished enrollment"] : []),
          ];
          process.stdout.write(`${v.cardId}  ${v.createdAt}  ${notes.join(", ")}${v.label ? `  ${v.label}` : ""}\n`);
        }
      }),
    );

  card
    .command("show")
    .description("show a card: PIN state, keys, certificates, unfinished enrollment")
    .argument("<card>", "card id (or unique prefix) or card file path")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .action((ref: string, opts: CommonOpts) =>
      runCommand(Boolean(opts.json), async () => {
        const { card: c, path } = new CardStore(opts.cardDir).open(ref);
        const view = cardView(c, path);
        if (opts.json) printJson(view);
        else printCard(view);
      }),
    );

  card
    .command("delete")
    .description("destroy a card and every key on it")
    .argument("<card>", "card id (or unique prefix) or card file path")
    .option("--yes", "do not ask for confirmation")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .action((ref: string, opts: CommonOpts & { yes?: boolean }) =>
      runCommand(Boolean(opts.json), async () => {
        const store = new CardStore(opts.cardDir);
        const locked = store.openLocked(ref);
        try {
          const view = cardView(locked.card, locked.path);
          if (!opts.yes) {
            const certs = view.keys.filter((k) => k.certificate).length;
            const sure = await new Prompter().confirm(`Destroy card ${view.cardId} with ${view.keys.length} key(s) and ${certs} certificate(s)?`, false);
            if (!sure) {
              process.stderr.write("nothing deleted\n");
              return 0;
            }
          }
          if (view.unfinishedEnrollment) {
            process.stderr.write(`note: request ${view.unfinishedEnrollment.requestId} of this card's unfinished enrollment stays open on the server\n`);
          }
          store.remove(locked.path);
          if (opts.json) printJson({ ok: true, cardId: view.cardId, deleted: true });
          else process.stdout.write(`deleted card ${view.cardId}\n`);
        } finally {
          locked.release();
        }
      }),
    );

  card
    .command("verify-pin")
    .description("check the card's PIN (a wrong one counts towards blocking the card)")
    .argument("<card>", "card id (or unique prefix) or card file path")
    .option("--pin-env <var>", "read the PIN from this environment variable")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .action((ref: string, opts: CommonOpts & { pinEnv?: string }) =>
      runCommand(Boolean(opts.json), async () => {
        const locked = new CardStore(opts.cardDir).openLocked(ref);
        try {
          const pin = await readPin(new Prompter(), opts.pinEnv);
          locked.card.verifyPin(pin);
          const status = locked.card.pinStatus();
          if (opts.json) printJson({ ok: true, cardId: locked.card.cardId, pin: status });
          else process.stdout.write(`PIN correct (${status.retriesLeft} of ${status.maxAttempts} tries available)\n`);
        } finally {
          locked.card.logout();
          locked.release();
        }
      }),
    );

  card
    .command("change-pin")
    .description("change the card's PIN (needs the current one)")
    .argument("<card>", "card id (or unique prefix) or card file path")
    .option("--pin-env <var>", "read the current PIN from this environment variable")
    .option("--new-pin-env <var>", "read the new PIN from this environment variable")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .action((ref: string, opts: CommonOpts & { pinEnv?: string; newPinEnv?: string }) =>
      runCommand(Boolean(opts.json), async () => {
        const locked = new CardStore(opts.cardDir).openLocked(ref);
        try {
          const prompter = new Prompter();
          const oldPin = await readPin(prompter, opts.pinEnv);
          // Checked before asking for the new one, so a typo is reported at once.
          locked.card.verifyPin(oldPin);
          const newPin = (await readNewPin(prompter, opts.newPinEnv, "--new-pin-env", false))!;
          locked.card.changePin(oldPin, newPin);
          if (opts.json) printJson({ ok: true, cardId: locked.card.cardId });
          else process.stdout.write("PIN changed\n");
        } finally {
          locked.card.logout();
          locked.release();
        }
      }),
    );

  registerCardUnblock(card);
  registerCardWorkflows(card);
}

// --- unblock on the card's side, and the card workflows that run on the server ----------------

const UNBLOCK_HELP = `
Offline unblock, for a card whose PIN is blocked (or forgotten) when the server cannot be reached
from the card's machine:
  1. an OfflineUnblock request exists for the card (the user or a helpdesk operator creates it:
     openclm helpdesk offline-unblock --for-card SMARTCARD_UUID);
  2. "openclm card unblock CARD --challenge" prints the card's 8-byte challenge as 16 hex digits;
     read them to the helpdesk (the challenge stays valid for an hour; asking again shows the
     same one unless --new);
  3. the helpdesk runs "openclm helpdesk unblock-response REQUEST --challenge HEX" and reads the
     response back;
  4. "openclm card unblock CARD --response HEX" checks it and sets the new PIN (asked twice, or
     --pin-env). A wrong response uses the challenge up: start again at step 1.
Then the request is closed with "openclm requests complete REQUEST".
With the card at hand and the server reachable, "openclm unblock --card CARD" does all of it.`;

const REVOCATION_REASONS = ["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"];

function registerCardUnblock(card: Command): void {
  card
    .command("unblock")
    .description("offline unblock on the card's side: show its challenge, then enter the helpdesk's response and a new PIN")
    .argument("<card>", "card id (or unique prefix) or card file path")
    .option("--challenge", "print the card's challenge (hex) to read to the helpdesk")
    .option("--new", "with --challenge: replace an outstanding challenge with a fresh one")
    .option("--response <hex>", "the helpdesk's response (16 hex digits)")
    .option("--pin-env <var>", "with --response: read the new PIN from this environment variable")
    .addOption(cardDirOption())
    .addOption(jsonOption())
    .addHelpText("after", UNBLOCK_HELP)
    .action((ref: string, opts: CommonOpts & { challenge?: boolean; new?: boolean; response?: string; pinEnv?: string }) =>
      runCommand(Boolean(opts.json), async () => {
        if (Boolean(opts.challenge) === (opts.response !== undefined)) {
          throw new InputError("give either --challenge or --response HEX (online, with the server: openclm unblock --card CARD)");
        }
        const locked = new CardStore(opts.cardDir).openLocked(ref);
        try {
          const c = locked.card;
          if (opts.challenge) {
            const shown = offlineUnblockChallenge(c, Boolean(opts.new));
            const hex = formatHex(shown.challenge);
            if (opts.json) {
              printJson({ ok: true, cardId: c.cardId, challenge: hex, expiresAt: shown.expiresAt, repeated: shown.repeated });
              return;
            }
            process.stdout.write(`${hex}\n`);
            process.stderr.write(
              `${shown.repeated ? "The card's outstanding" : "A new"} challenge for card ${c.cardId}, valid until ${shown.expiresAt}.\n` +
                `Read it to the helpdesk with your OfflineUnblock request id, then enter their answer with:\n` +
                `  openclm card unblock ${c.cardId} --response HEX\n`,
            );
            return;
          }
          const response = parseHex8(opts.response!, "--response");
          if (!c.pendingChallenge()) {
            throw new AdminAuthError(`card ${c.cardId} has no outstanding challenge (it expired or was used): start again with --challenge`);
          }
          // The new PIN first: a typo while choosing it must not use up the one response.
          const pin = (await readNewPin(new Prompter(), opts.pinEnv, "--pin-env", false))!;
          let status;
          try {
            status = unblockWithResponse(c, response, pin);
          } catch (err) {
            if (err instanceof AdminAuthError) {
              throw new AdminAuthError(`${err.message}; the challenge is used up: ask for a new one (--challenge) and a new OfflineUnblock request`);
            }
            throw err;
          }
          if (opts.json) printJson({ ok: true, cardId: c.cardId, pin: status });
          else process.stdout.write(`card ${c.cardId} unblocked: new PIN set (${status.retriesLeft} of ${status.maxAttempts} tries)\n`);
        } finally {
          locked.card.logout();
          locked.release();
        }
      }),
    );
}

type WorkflowOptions = ServerOptions & { json?: boolean; data: string[]; comment?: string; reason?: string };

/** Retire, Revoke, Disable, Reinstate: a request on the card's server record, completed at once. */
async function cardWorkflow(workflow: "Retire" | "Revoke" | "Disable" | "Reinstate", ref: string, opts: WorkflowOptions): Promise<number> {
  const json = Boolean(opts.json);
  const scid = guidArgument(ref, "smart card");
  let reason: string | undefined;
  if (opts.reason !== undefined) {
    if (workflow !== "Revoke") throw new InputError("--reason applies to revoke only");
    reason = REVOCATION_REASONS.find((r) => r.toLowerCase() === opts.reason!.trim().toLowerCase());
    if (!reason) throw new InputError(`--reason ${opts.reason}: one of ${REVOCATION_REASONS.join(", ")}`);
  }
  const prompter = new Prompter();
  const api = await connect(opts, prompter);
  const smartcard = await smartcardByRef(api, scid);
  const policy = await api.getPolicy(smartcard.profileTemplateUuid, workflow);
  const values = await collectDataItems(prompter, policy, parseDataOptions(opts.data), true);
  const { comment } = await collectComment(prompter, policy, opts.comment);
  const requestId = await api.createRequest({
    type: workflow,
    smartcard: smartcard.uuid,
    datacollection: dataCollectionBody(policy, values),
    comment,
    ...(reason ? { revocationreason: reason } : {}),
  });
  const request = await api.getRequest(requestId);
  if (request.status === RequestStatus.Pending) return reportPending(json, requestId, commandHint(`requests complete ${requestId}`, opts));
  const done = await api.setRequestStatus(requestId, "Completed");
  const after = await api.getSmartcard(smartcard.uuid);
  if (json) {
    printJson({
      ok: true,
      requestId,
      status: requestStatusName(done.status),
      smartcardUuid: after.uuid,
      cardId: after.cardId,
      cardStatus: smartcardStatusName(after.status),
      ...(reason ? { reason } : {}),
    });
  } else {
    process.stdout.write(
      `card ${after.cardId} (smart card ${after.uuid}) is now ${smartcardStatusName(after.status)}; ${workflow} request ${requestId} ${requestStatusName(done.status)}\n`,
    );
  }
  return ExitCode.Ok;
}

function registerCardWorkflows(card: Command): void {
  const workflows = [
    ["retire", "Retire", "retire a card on the server: its certificates are revoked (cessationOfOperation)"],
    ["revoke", "Revoke", "revoke a card's certificates (reason from --reason) and disable the card"],
    ["disable", "Disable", "disable a card on the server: its certificates are revoked"],
    ["reinstate", "Reinstate", "bring a suspended card back (its held certificates become valid again)"],
  ] as const;
  for (const [name, workflow, description] of workflows) {
    const cmd = addServerOptions(card.command(name).description(`${description} (server)`).argument("<smartcard>", "the card's smart card uuid on the server"))
      .option("--data <item=value>", `data collection item of the ${name} policy (repeatable)`, collectRepeatable, [])
      .option("--comment <text>", "request comment (used when the policy collects comments)");
    if (workflow === "Revoke") cmd.option("--reason <name>", `revocation reason: ${REVOCATION_REASONS.join(", ")}`);
    cmd.addOption(jsonOption()).action((ref: string, opts: WorkflowOptions) => runCommand(Boolean(opts.json), () => cardWorkflow(workflow, ref, opts)));
  }
}
