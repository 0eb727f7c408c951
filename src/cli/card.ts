// `openclm card …`: the local software virtual smart cards. No command here prints or exports
// a private key or the admin key; secrets come in through the terminal or --*-env variables.
import { Command, Option } from "commander";
import { CardStore } from "../client/card/store.js";
import { DEMO_DEFAULT_ADMIN_KEY_HEX, DEFAULT_PIN_MAX_ATTEMPTS } from "../client/card/constants.js";
import { parseAdminKeyHex } from "../client/card/des.js";
import { cardView, pinStatusText, type CardView } from "../client/card-view.js";
import { EXIT_CODES_HELP, InputError } from "../client/errors.js";
import { pinPolicyProblem } from "../client/pin-policy.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
import { addExitCodeHelp, cardDirOption, printJson, runCommand, secretFromEnv } from "./client-common.js";

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
  const card = program.command("card").description("manage local software virtual smart cards");
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
}
