// Shared pieces of the client commands (card, enroll): options, secrets from the environment,
// and turning an error into a message and an exit code.
import { Option, type Command } from "commander";
import { defaultCardDir } from "../client/card/store.js";
import { errorReport, exitCodeFor, InputError, type ErrorReport } from "../client/errors.js";
import { colorsFor } from "../client/ui/terminal.js";

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

export function addExitCodeHelp(cmd: Command, text: string): Command {
  return cmd.addHelpText("after", `\n${text}`);
}
