// The questions `enroll` asks before anything is created on the server: template, data items,
// comment and PIN. Values given as options are checked the same way as typed ones; with no
// terminal, a missing value is an error naming the option that would have supplied it.
import { dataItemProblem, findTemplate, matchDataItems } from "./enroll-input.js";
import { InputError } from "./errors.js";
import { describePinPolicy, pinPolicyProblem } from "./pin-policy.js";
import type { Prompter } from "./ui/prompt.js";
import type { PinPolicy, ProfileTemplateView, WorkflowPolicy } from "./wire.js";

/** Offers only smart card templates: software profiles are not enrolled by this client. */
export async function chooseTemplate(prompter: Prompter, templates: ProfileTemplateView[], ref?: string): Promise<ProfileTemplateView> {
  if (ref) return findTemplate(templates, ref);
  const cards = templates.filter((t) => t.isSmartcard || t.isVirtualSmartcard);
  if (cards.length === 0) throw new InputError("there is no smart card profile template you may enroll for");
  if (cards.length === 1) return cards[0]!;
  if (!prompter.interactive) {
    throw new InputError(`choose a template with --template (one of ${cards.map((t) => `"${t.name}"`).join(", ")})`);
  }
  return prompter.choose(
    "Smart card profile templates you may enroll for:",
    cards.map((t) => ({
      label: `${t.name}${t.isVirtualSmartcard ? " [virtual smart card]" : " [smart card]"}${t.description ? ` — ${t.description}` : ""}`,
      value: t,
    })),
    "use --template",
  );
}

/** `--data` values, then a question for each item still missing (optional ones unless --yes). */
export async function collectDataItems(
  prompter: Prompter,
  policy: WorkflowPolicy,
  given: Map<string, string>,
  yes: boolean,
): Promise<Map<string, string>> {
  const { values, missing } = matchDataItems(policy, given);
  for (const item of missing) {
    if (!item.required && (yes || !prompter.interactive)) continue;
    if (!prompter.interactive) {
      throw new InputError(`the policy requires "${item.name}"${item.description ? ` (${item.description})` : ""}: pass --data "${item.name}=…"`);
    }
    for (;;) {
      const label = `${item.name}${item.description && item.description !== item.name ? ` (${item.description})` : ""}${item.required ? "" : " [optional]"}:`;
      const value = await prompter.ask(label, { hint: `pass --data "${item.name}=…"` });
      const problem = dataItemProblem(item, value);
      if (!problem) {
        if (value !== "") values.set(item.name, value);
        break;
      }
      process.stderr.write(`${problem}\n`);
    }
  }
  return values;
}

/** Comments only when the policy collects them (walkthrough step 4), then non-empty. */
export async function collectComment(prompter: Prompter, policy: WorkflowPolicy, comment: string | undefined): Promise<{ comment: string; ignored: boolean }> {
  if (!policy.collectComments) return { comment: "", ignored: comment !== undefined && comment !== "" };
  if (comment && comment.trim() !== "") return { comment: comment.trim(), ignored: false };
  if (!prompter.interactive) throw new InputError("the policy requires a comment: pass --comment TEXT");
  for (;;) {
    const typed = await prompter.ask("Comment for the request:", { hint: "pass --comment" });
    if (typed !== "") return { comment: typed, ignored: false };
    process.stderr.write("a comment is required\n");
  }
}

/** A new PIN under the template's policy: from the environment, or typed twice with echo off. */
export async function collectNewPin(prompter: Prompter, policy: PinPolicy, fromEnv: string | undefined): Promise<string> {
  if (fromEnv !== undefined) {
    const problem = pinPolicyProblem(fromEnv, policy);
    if (problem) throw new InputError(`--pin-env: ${problem} (policy: ${describePinPolicy(policy)})`);
    return fromEnv;
  }
  if (!prompter.interactive) throw new InputError("no PIN given: pass --pin-env VAR when not on a terminal");
  process.stderr.write(`Choose the card's PIN (${describePinPolicy(policy)}).\n`);
  for (;;) {
    const pin = await prompter.askHidden("New PIN:", "pass --pin-env VAR");
    const problem = pinPolicyProblem(pin, policy);
    if (problem) {
      process.stderr.write(`${problem}\n`);
      continue;
    }
    if ((await prompter.askHidden("Repeat the PIN:")) === pin) return pin;
    process.stderr.write("the two PINs differ, try again\n");
  }
}

export async function collectCurrentPin(prompter: Prompter, fromEnv: string | undefined): Promise<string> {
  if (fromEnv !== undefined) return fromEnv;
  return prompter.askHidden("Card PIN:", "pass --pin-env VAR");
}
