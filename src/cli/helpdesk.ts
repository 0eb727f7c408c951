// `openclm helpdesk …`: the helpdesk operator's side of offline unblock. The user's card is not
// connected to any machine that reaches the server: the user reads the card's challenge over
// the phone, the operator obtains the response for the user's OfflineUnblock request and reads
// it back (one response per request).
import type { Command } from "commander";
import { dataCollectionBody, parseDataOptions } from "../client/enroll-input.js";
import { collectComment, collectDataItems } from "../client/enroll-prompts.js";
import { EXIT_CODES_HELP, ExitCode } from "../client/errors.js";
import { StepRunner } from "../client/steps.js";
import { formatHex, helpdeskUnblockResponse, parseHex8, smartcardByRef } from "../client/unblock-flow.js";
import { Prompter } from "../client/ui/prompt.js";
import { RequestStatus, requestStatusName } from "../client/wire-enums.js";
import {
  addExitCodeHelp,
  addServerOptions,
  collectRepeatable,
  connect,
  guidArgument,
  jsonOption,
  printJson,
  reportPending,
  runCommand,
  serverAndUser,
  type ServerOptions,
  usageErrorsExit2,
} from "./client-common.js";

interface HelpdeskOptions extends ServerOptions {
  json?: boolean;
}

/** Notices only, on stderr: stdout carries the one value the operator reads out. */
const quietSteps = () => new StepRunner((e) => (e.type === "notice" ? process.stderr.write(`note: ${e.message}\n`) : undefined));

export function registerHelpdeskCommands(program: Command): void {
  const helpdesk = usageErrorsExit2(program.command("helpdesk").description("helpdesk operations for users whose card is not at hand (offline unblock)"));
  addExitCodeHelp(helpdesk, EXIT_CODES_HELP);

  addServerOptions(
    helpdesk
      .command("offline-unblock")
      .description("create an OfflineUnblock request for a user's card (the user may run it too) and print its id"),
  )
    .requiredOption("--for-card <smartcard>", "the card's smart card uuid on the server (or its card id)")
    .option("--data <item=value>", "data collection item of the offline unblock policy (repeatable)", collectRepeatable, [])
    .option("--comment <text>", "request comment (used when the policy collects comments)")
    .addOption(jsonOption())
    .action((opts: HelpdeskOptions & { forCard: string; data: string[]; comment?: string }) =>
      runCommand(Boolean(opts.json), async () => {
        const ref = guidArgument(opts.forCard, "--for-card");
        const prompter = new Prompter();
        const api = await connect(opts, prompter);
        const smartcard = await smartcardByRef(api, ref);
        const policy = await api.getPolicy(smartcard.profileTemplateUuid, "offlineUnblock");
        const values = await collectDataItems(prompter, policy, parseDataOptions(opts.data), true);
        const { comment } = await collectComment(prompter, policy, opts.comment);
        const requestId = await api.createRequest({
          type: "OfflineUnblock",
          smartcard: smartcard.uuid,
          datacollection: dataCollectionBody(policy, values),
          comment,
        });
        const request = await api.getRequest(requestId);
        // The operator answering may not be the one who asked (a user may create their own request).
        const next = `openclm helpdesk unblock-response ${requestId} --challenge HEX --server ${serverAndUser(opts).server} --user OPERATOR`;
        if (request.status === RequestStatus.Pending) return reportPending(Boolean(opts.json), requestId, next);
        if (opts.json) {
          printJson({ ok: true, requestId, status: requestStatusName(request.status), smartcardUuid: smartcard.uuid, cardId: smartcard.cardId });
          return ExitCode.Ok;
        }
        process.stdout.write(`${requestId}\n`);
        process.stderr.write(
          `OfflineUnblock request ${requestId} (${requestStatusName(request.status)}) for card ${smartcard.cardId}.\n` +
            `The user runs "openclm card unblock ${smartcard.cardId} --challenge" and reads the challenge out;\n` +
            `the helpdesk answers with: ${next}\n`,
        );
        return ExitCode.Ok;
      }),
    );

  addServerOptions(
    helpdesk
      .command("unblock-response")
      .description("the response to a user's card challenge for an approved OfflineUnblock request, as hex")
      .argument("<request>", "the OfflineUnblock request uuid"),
  )
    .requiredOption("--challenge <hex>", "the 16 hex digits the user's card shows")
    .addOption(jsonOption())
    .action((ref: string, opts: HelpdeskOptions & { challenge: string }) =>
      runCommand(Boolean(opts.json), async () => {
        const requestId = guidArgument(ref, "request");
        const challenge = parseHex8(opts.challenge, "--challenge");
        const api = await connect(opts);
        const answer = await helpdeskUnblockResponse(api, quietSteps(), requestId, challenge);
        const hex = formatHex(answer.response);
        if (opts.json) {
          printJson({ ok: true, requestId, smartcardUuid: answer.smartcardUuid, cardId: answer.cardId, response: hex });
          return;
        }
        process.stdout.write(`${hex}\n`);
        process.stderr.write(
          `Read this response to the user of card ${answer.cardId}; they enter it with ` +
            `"openclm card unblock ${answer.cardId} --response <the response>". It is released once per request.\n`,
        );
      }),
    );
}
