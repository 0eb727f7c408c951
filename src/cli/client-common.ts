// Shared pieces of the client commands (card, enroll, requests, unblock, helpdesk, profile):
// server options, secrets from the environment, progress, Ctrl-C, and turning an error into a
// message and an exit code.
import { Option, type Command } from "commander";
import { ApiClient } from "../client/api.js";
import { defaultCardDir } from "../client/card/store.js";
import { errorReport, ExitCode, exitCodeFor, InputError, InterruptedError, type ErrorReport } from "../client/errors.js";
import { StepRunner, type StepEvent } from "../client/steps.js";
import { createProgressRenderer, type ProgressRenderer } from "../client/ui/progress.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
import { normaliseGuid } from "../client/wire.js";

export function cardDirOption(): Option {
  return new Option("--card-dir <dir>", "directory of virtual smart card files (env OPENCLM_CARD_DIR)").default(
    defaultCardDir(),
    "~/.openclm/cards",
  );
}

/** Reads a secret from the environment variable an option names; never from the command line. */
export function secretFromEnv(variable: string, option: string): string {
  const value = process.env[variable];
  if (value === undefined) throw new InputError(`${option} ${variable}: the environment variable ${variable} is not set`);
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints the error (server message and correlation id when the server sent them); returns the exit code. */
export function reportError(err: unknown, json: boolean): number {
  const code = exitCodeFor(err);
  const report = errorReport(err);
  if (json) {
    printJson({ ok: false, error: report, exitCode: code });
  } else {
    process.stderr.write(formatError(report));
  }
  if (report.kind === "internal" && process.env.OPENCLM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  return code;
}

export function formatError(report: ErrorReport): string {
  const c = colorsFor(process.stderr);
  let text = `${c.red("error:")} ${report.message}\n`;
  if (report.status !== undefined) {
    const code = report.errorCode ? ` ${report.errorCode}` : "";
    text += `  server answered ${report.status}${code}`;
    text += report.correlationId ? `, correlation id ${report.correlationId}\n` : "\n";
  }
  return text;
}

/**
 * Runs a command body and sets the exit code; process.exitCode rather than process.exit so
 * buffered output is flushed first.
 */
export async function runCommand(json: boolean, body: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await body()) ?? 0;
  } catch (err) {
    process.exitCode = reportError(err, json);
  }
}

/**
 * Usage errors commander reports (unknown option, missing argument or value) exit with 2, the
 * input-error code of EXIT_CODES_HELP, instead of commander's 1. Set on a command before its
 * subcommands are created, which inherit it.
 */
export function usageErrorsExit2(cmd: Command): Command {
  return cmd.exitOverride((err) => {
    const usage = err.exitCode === 1 && err.code.startsWith("commander.");
    process.exit(usage ? ExitCode.Input : err.exitCode);
  });
}

export function addExitCodeHelp(cmd: Command, text: string): Command {
  return cmd.addHelpText("after", `\n${text}`);
}

// --- talking to the server -----------------------------------------------------------------------

export interface ServerOptions {
  server?: string;
  user?: string;
  passwordEnv?: string;
}

/** --server, --user, --password-env: every command that talks to the server takes these. */
export function addServerOptions(cmd: Command): Command {
  return cmd
    .option("--server <url>", "server URL, e.g. https://cm.example.com (env OPENCLM_SERVER)")
    .option("--user <name>", "user name for Basic authentication (env OPENCLM_USER)")
    .option("--password-env <var>", "read the password from this environment variable");
}

export function serverAndUser(opts: ServerOptions): { server: string; user: string } {
  const server = opts.server ?? process.env.OPENCLM_SERVER;
  const user = opts.user ?? process.env.OPENCLM_USER;
  if (!server) throw new InputError("--server URL is required");
  if (!user) throw new InputError("--user NAME is required");
  return { server, user };
}

/** The API client for the options; the password from --password-env or asked with echo off. */
export async function connect(opts: ServerOptions, prompter: Prompter = new Prompter(), signal?: AbortSignal): Promise<ApiClient> {
  const { server, user } = serverAndUser(opts);
  const password = opts.passwordEnv
    ? secretFromEnv(opts.passwordEnv, "--password-env")
    : await prompter.askHidden(`Password for ${user}:`, "use --password-env VAR");
  return new ApiClient({ server, user, password, ...(signal ? { signal } : {}) });
}

export function jsonOption(): Option {
  return new Option("--json", "print one machine-readable JSON result on stdout");
}

/** A GUID argument (any case, braces optional), checked before it reaches the server. */
export function guidArgument(value: string, what: string): string {
  const id = normaliseGuid(value);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) throw new InputError(`${what} "${value}" is not a GUID`);
  return id;
}

export const collectRepeatable = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * What every command that files a request takes besides the server options: the policy's data
 * items, a comment, unattended confirmation, JSON output and the card directory.
 */
export function addRequestInputOptions(cmd: Command, policy: string): Command {
  return cmd
    .option("--data <item=value>", `data collection item of the ${policy} policy (repeatable)`, collectRepeatable, [])
    .option("--comment <text>", "request comment (used when the policy collects comments)")
    .option("--yes", "do not ask for confirmation or for optional items")
    .addOption(jsonOption())
    .addOption(cardDirOption());
}

// --- multi-step commands ------------------------------------------------------------------------

export interface StepSession {
  steps: StepRunner;
  progress: ProgressRenderer;
  /** Aborted on the first Ctrl-C; the command's clean-up then ends its request. */
  signal: AbortSignal;
  /** Maps an error to the exit code, reporting Ctrl-C as such. */
  fail(err: unknown): number;
  dispose(): void;
}

/**
 * Progress on stdout (or, with --json, notices on stderr only) and Ctrl-C handling: the first
 * one aborts the server calls so the flow cleans up, a second one quits at once.
 */
export function startSteps(json: boolean, what: string): StepSession {
  const progress = createProgressRenderer(process.stdout);
  const listener = json
    ? (e: StepEvent) => {
        if (e.type === "notice") process.stderr.write(`note: ${e.message}\n`);
      }
    : progress.listener;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(ExitCode.Interrupted);
    progress.pause();
    process.stderr.write(`\ninterrupted: ${what} (Ctrl-C again to quit at once)\n`);
    abort.abort();
  };
  process.on("SIGINT", onSigint);
  return {
    steps: new StepRunner(listener),
    progress,
    signal: abort.signal,
    fail(err: unknown) {
      progress.pause();
      if (abort.signal.aborted && !(err instanceof InterruptedError)) return reportError(new InterruptedError(), json);
      return reportError(err, json);
    },
    dispose() {
      process.off("SIGINT", onSigint);
    },
  };
}

/** The "awaits approval" outcome every request-creating command shares (exit code 6). */
export function reportPending(json: boolean, requestId: string, continueWith: string): number {
  const message = `request ${requestId} awaits approval. Once it is approved, continue with: ${continueWith}`;
  if (json) printJson({ ok: false, status: "Pending", requestId, message, exitCode: ExitCode.PendingApproval });
  else process.stdout.write(`\n${colorsFor(process.stdout).yellow("Pending approval:")} ${message}\n`);
  return ExitCode.PendingApproval;
}

/** `openclm <words> --server S --user U` for the "continue with" hints. */
export function commandHint(words: string, opts: ServerOptions): string {
  const { server, user } = serverAndUser(opts);
  return `openclm ${words} --server ${server} --user ${user}`;
}
