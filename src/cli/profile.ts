// `openclm profile …`: software profiles. The server generates the key and returns it in a
// password-protected PKCS#12 (PFX) file, archiving a copy so `profile recover` can hand the same
// key out again.
import type { Command } from "commander";
import type { ApiClient } from "../client/api.js";
import { dataCollectionBody, findTemplate, parseDataOptions } from "../client/enroll-input.js";
import { collectComment, collectDataItems } from "../client/enroll-prompts.js";
import { EXIT_CODES_HELP, ExitCode, InputError } from "../client/errors.js";
import {
  checkPfxOutput,
  pfxPasswordProblem,
  runProfileRecovery,
  runSoftwareEnrollment,
  type ProfileOutcome,
} from "../client/software-profile.js";
import { Prompter } from "../client/ui/prompt.js";
import { colorsFor } from "../client/ui/terminal.js";
import { ProfileStatus, profileStatusName } from "../client/wire-enums.js";
import type { ProfileTemplateView, WorkflowPolicy } from "../client/wire.js";
import {
  addExitCodeHelp,
  addServerOptions,
  collectRepeatable,
  commandHint,
  connect,
  guidArgument,
  jsonOption,
  printJson,
  reportPending,
  runCommand,
  secretFromEnv,
  startSteps,
  type ServerOptions,
  type StepSession,
  usageErrorsExit2,
} from "./client-common.js";

interface DeliveryOptions extends ServerOptions {
  out: string;
  pfxPasswordEnv?: string;
  force?: boolean;
  resume?: string;
  data: string[];
  comment?: string;
  yes?: boolean;
  json?: boolean;
}

const isSoftware = (t: ProfileTemplateView) => !t.isSmartcard && !t.isVirtualSmartcard;

/** The PFX password: from --pfx-password-env, else typed twice with echo off. Never empty. */
async function readPfxPassword(prompter: Prompter, envVar: string | undefined): Promise<string> {
  if (envVar) {
    const password = secretFromEnv(envVar, "--pfx-password-env");
    const problem = pfxPasswordProblem(password);
    if (problem) throw new InputError(`--pfx-password-env: ${problem}`);
    return password;
  }
  if (!prompter.interactive) throw new InputError("no PFX password: pass --pfx-password-env VAR when not on a terminal");
  for (;;) {
    const password = await prompter.askHidden("Password to protect the PFX file:", "pass --pfx-password-env VAR");
    const problem = pfxPasswordProblem(password);
    if (problem) {
      process.stderr.write(`${problem}\n`);
      continue;
    }
    if ((await prompter.askHidden("Repeat the PFX password:")) === password) return password;
    process.stderr.write("the two passwords differ, try again\n");
  }
}

function addDeliveryOptions(cmd: Command, policyName: string): Command {
  return addServerOptions(cmd)
    .requiredOption("--out <file.pfx>", "write the PKCS#12 file here (mode 0600; further certificates go to FILE-2.pfx …)")
    .option("--pfx-password-env <var>", "read the PFX password from this environment variable (else asked twice)")
    .option("--force", "replace an existing output file")
    .option("--resume <request>", "continue this request once it has been approved (after exit code 6)")
    .option("--data <item=value>", `data collection item of the ${policyName} policy (repeatable)`, collectRepeatable, [])
    .option("--comment <text>", "request comment (used when the policy collects comments)")
    .option("--yes", "do not ask for confirmation or for optional items")
    .addOption(jsonOption());
}

/** Up-front checks and questions shared by enroll and recover; nothing is created before they pass. */
async function prepare(opts: DeliveryOptions, session: StepSession) {
  const resume = opts.resume === undefined ? undefined : guidArgument(opts.resume, "--resume");
  checkPfxOutput(opts.out, Boolean(opts.force));
  const prompter = new Prompter();
  if (!opts.yes && !prompter.interactive) throw new InputError("not on a terminal: pass --yes (and --password-env, --pfx-password-env) to run unattended");
  // An empty or short PFX password from the environment is refused before the server is asked anything.
  const fromEnv = opts.pfxPasswordEnv ? await readPfxPassword(prompter, opts.pfxPasswordEnv) : undefined;
  const api = await connect(opts, prompter, session.signal);
  return { resume, prompter, api, fromEnv };
}

async function requestInputs(prompter: Prompter, policy: WorkflowPolicy, opts: DeliveryOptions, session: StepSession) {
  session.progress.pause();
  const values = await collectDataItems(prompter, policy, parseDataOptions(opts.data), Boolean(opts.yes));
  const c = await collectComment(prompter, policy, opts.comment);
  if (c.ignored) session.steps.notice("--comment ignored: this policy does not collect comments");
  return { dataCollection: dataCollectionBody(policy, values), comment: c.comment };
}

function report(outcome: ProfileOutcome, json: boolean, title: string, continueWith: (id: string) => string): number {
  if (outcome.kind === "pending") return reportPending(json, outcome.requestId, continueWith(outcome.requestId));
  if (json) {
    printJson({ ok: true, status: "Completed", requestId: outcome.requestId, profileUuid: outcome.profileUuid, files: outcome.files, certificates: outcome.certificates });
    return ExitCode.Ok;
  }
  const c = colorsFor(process.stdout);
  const lines = ["", c.green(c.bold(title)), `  Profile      ${outcome.profileUuid}`, `  Request      ${outcome.requestId}`];
  for (const f of outcome.files) lines.push(`  PFX file     ${f}`);
  for (const cert of outcome.certificates) {
    lines.push(`  Certificate  ${cert.subject ?? cert.templateCommonName}`, `    Serial     ${cert.serialNumber || "-"}`, `    Expires    ${cert.notAfter ?? "-"}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return ExitCode.Ok;
}

async function chooseSoftwareTemplate(api: ApiClient, prompter: Prompter, ref: string | undefined, resume: string | undefined): Promise<ProfileTemplateView> {
  const templates = await api.listProfileTemplates();
  let template: ProfileTemplateView;
  if (resume) {
    const uuid = (await api.getRequest(resume)).profileTemplateUuid;
    template = templates.find((t) => t.uuid === uuid) ?? { name: uuid, description: "", uuid, isSmartcard: false, isVirtualSmartcard: false };
  } else if (ref) {
    template = findTemplate(templates, ref);
  } else {
    const software = templates.filter(isSoftware);
    if (software.length === 0) throw new InputError("there is no software profile template you may enroll for");
    if (software.length === 1) template = software[0]!;
    else if (!prompter.interactive) throw new InputError(`choose a template with --template (one of ${software.map((t) => `"${t.name}"`).join(", ")})`);
    else template = await prompter.choose("Software profile templates you may enroll for:", software.map((t) => ({ label: t.name, value: t })), "use --template");
  }
  if (!isSoftware(template)) throw new InputError(`template "${template.name}" is for smart cards: use openclm enroll`);
  return template;
}

async function enrollProfile(opts: DeliveryOptions & { template?: string }): Promise<number> {
  const json = Boolean(opts.json);
  const session = startSteps(json, "ending the request and removing the PFX file");
  try {
    const { resume, prompter, api, fromEnv } = await prepare(opts, session);
    const template = await session.steps.run("template", "Find software profile template", () => chooseSoftwareTemplate(api, prompter, opts.template, resume), (t) => t.name);
    const policy = await session.steps.run("policy", "Read enrollment policy", () => api.getPolicy(template.uuid, "enroll"));
    const inputs = resume ? { dataCollection: [], comment: "" } : await requestInputs(prompter, policy, opts, session);
    const pfxPassword = fromEnv ?? (await readPfxPassword(prompter, undefined));
    if (!opts.yes && !(await prompter.confirm(`Enroll ${api.user} for "${template.name}" and write the key to ${opts.out}?`))) {
      process.stderr.write("nothing was requested\n");
      return ExitCode.Ok;
    }
    const outcome = await runSoftwareEnrollment(
      { template, pfxPassword, out: opts.out, force: Boolean(opts.force), ...inputs, ...(resume ? { requestId: resume } : {}) },
      { api, steps: session.steps },
    );
    return report(outcome, json, "Software profile issued.", (id) => `${commandHint("profile enroll", opts)} --out ${opts.out} --resume ${id}`);
  } catch (err) {
    return session.fail(err);
  } finally {
    session.dispose();
  }
}

async function recoverProfile(ref: string, opts: DeliveryOptions & { onBehalf?: boolean }): Promise<number> {
  const json = Boolean(opts.json);
  const session = startSteps(json, "ending the request and removing the PFX file");
  try {
    const profileUuid = guidArgument(ref, "profile");
    const { resume, prompter, api, fromEnv } = await prepare(opts, session);
    const profile = await session.steps.run("profile", "Read profile", () => api.getProfile(profileUuid), (p) => profileStatusName(p.status));
    const workflow = opts.onBehalf ? "recoverOnBehalf" : "recover";
    const policy = await session.steps.run("policy", "Read recovery policy", () => api.getPolicy(profile.profileTemplateUuid, workflow));
    const inputs = resume ? { dataCollection: [], comment: "" } : await requestInputs(prompter, policy, opts, session);
    const pfxPassword = fromEnv ?? (await readPfxPassword(prompter, undefined));
    if (!opts.yes && !(await prompter.confirm(`Recover the keys of profile ${profileUuid} into ${opts.out}?`))) {
      process.stderr.write("nothing was requested\n");
      return ExitCode.Ok;
    }
    const outcome = await runProfileRecovery(
      { profileUuid, onBehalf: Boolean(opts.onBehalf), pfxPassword, out: opts.out, force: Boolean(opts.force), ...inputs, ...(resume ? { requestId: resume } : {}) },
      { api, steps: session.steps },
    );
    return report(outcome, json, "Keys recovered.", (id) => `${commandHint(`profile recover ${profileUuid}`, opts)} --out ${opts.out} --resume ${id}`);
  } catch (err) {
    return session.fail(err);
  } finally {
    session.dispose();
  }
}

const HELP = `
The PFX file holds the private key: it is written with mode 0600 and protected by the PFX
password (at least 4 characters; never on the command line). openssl reads it with
"openssl pkcs12 -in FILE.pfx -nodes".

${EXIT_CODES_HELP}`;

export function registerProfileCommands(program: Command): void {
  const profile = usageErrorsExit2(program.command("profile").description("software profiles: server-generated keys delivered as PFX files, and their recovery"));
  addExitCodeHelp(profile, EXIT_CODES_HELP);

  addDeliveryOptions(profile.command("enroll").description("enroll for a software profile template and write the key and certificate to a PFX file"), "enrollment")
    .option("--template <name|uuid>", "software profile template (default: the only one, or ask)")
    .addHelpText("after", HELP)
    .action(async (opts: DeliveryOptions & { template?: string }) => {
      process.exitCode = await enrollProfile(opts);
    });

  addServerOptions(profile.command("list").description("your software profiles"))
    .option("--status <name>", "only profiles in this state (Active, Disabled, Suspended, Retired, …)")
    .addOption(jsonOption())
    .action((opts: ServerOptions & { json?: boolean; status?: string }) =>
      runCommand(Boolean(opts.json), async () => {
        let status: string | undefined;
        if (opts.status !== undefined) {
          status = Object.keys(ProfileStatus).find((k) => k.toLowerCase() === opts.status!.trim().toLowerCase());
          if (!status) throw new InputError(`--status ${opts.status}: one of ${Object.keys(ProfileStatus).filter((k) => k !== "None").join(", ")}`);
        }
        const api = await connect(opts);
        const [profiles, templates] = await Promise.all([api.listProfiles(status), api.listProfileTemplates().catch((): ProfileTemplateView[] => [])]);
        const name = (uuid: string) => templates.find((t) => t.uuid === uuid)?.name ?? uuid;
        if (opts.json) {
          printJson(
            profiles.map((p) => ({
              id: p.uuid,
              status: profileStatusName(p.status),
              statusCode: p.status,
              template: { uuid: p.profileTemplateUuid, name: templates.find((t) => t.uuid === p.profileTemplateUuid)?.name ?? null },
              operations: p.operations,
            })),
          );
          return;
        }
        if (profiles.length === 0) {
          process.stdout.write("no software profiles\n");
          return;
        }
        const rows = [["ID", "STATUS", "TEMPLATE", "OPERATIONS"], ...profiles.map((p) => [p.uuid, profileStatusName(p.status), name(p.profileTemplateUuid), p.operations.join(",")])];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        process.stdout.write(`${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")}\n`);
      }),
    );

  addDeliveryOptions(profile.command("recover").description("recover a software profile's archived keys into a PFX file").argument("<profile>", "profile uuid"), "recovery")
    .option("--on-behalf", "recover for the profile's owner as helpdesk or enrollment agent (RecoverOnBehalf)")
    .addHelpText("after", HELP)
    .action(async (ref: string, opts: DeliveryOptions & { onBehalf?: boolean }) => {
      process.exitCode = await recoverProfile(ref, opts);
    });
}
