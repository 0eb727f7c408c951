// Turning what the user typed (--template, --data, --comment) into a valid request body,
// against the template list and the enrollment policy the server sent.
import { InputError } from "./errors.js";
import { normaliseGuid, type DataCollectionItem, type ProfileTemplateView, type WorkflowPolicy } from "./wire.js";

/** A template by Uuid (any case, braces optional) or by name (case-insensitive). */
export function findTemplate(templates: ProfileTemplateView[], ref: string): ProfileTemplateView {
  const wanted = ref.trim();
  const byUuid = templates.find((t) => t.uuid === normaliseGuid(wanted));
  if (byUuid) return byUuid;
  const byName = templates.filter((t) => t.name.toLowerCase() === wanted.toLowerCase());
  if (byName.length === 1) return byName[0]!;
  const names = templates.map((t) => `"${t.name}"`).join(", ") || "none";
  throw new InputError(`no profile template "${ref}" among those you may enroll for (${names})`);
}

/** `--data "Item=value"` pairs; the item name is what precedes the first "=". */
export function parseDataOptions(pairs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InputError(`--data "${pair}" is not of the form "Item name=value"`);
    out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
  }
  return out;
}

export function dataItemProblem(item: DataCollectionItem, value: string): string | null {
  if (item.required && value.trim() === "") return `"${item.name}" is required`;
  if (value === "") return null;
  if (item.minLength > 0 && value.length < item.minLength) return `"${item.name}" needs at least ${item.minLength} characters`;
  if (item.maxLength > 0 && value.length > item.maxLength) return `"${item.name}" allows at most ${item.maxLength} characters`;
  if (item.regex) {
    let re: RegExp | null = null;
    try {
      re = new RegExp(`^(?:${item.regex})$`, "u");
    } catch {
      // a pattern this runtime cannot compile is left to the server to check
    }
    if (re && !re.test(value)) return `"${item.name}" does not have the expected form`;
  }
  return null;
}

/**
 * Matches given values to the policy's items (names case-insensitive); unknown names are an
 * error, since the server refuses them too. Returns the values by the policy's spelling and the
 * items still missing a value.
 */
export function matchDataItems(
  policy: WorkflowPolicy,
  given: Map<string, string>,
): { values: Map<string, string>; missing: DataCollectionItem[] } {
  const values = new Map<string, string>();
  for (const [name, value] of given) {
    const item = policy.dataCollection.find((i) => i.name.toLowerCase() === name.toLowerCase());
    if (!item) {
      const known = policy.dataCollection.map((i) => `"${i.name}"`).join(", ") || "none";
      throw new InputError(`the policy collects no item "${name}" (it collects: ${known})`);
    }
    const problem = dataItemProblem(item, value);
    if (problem) throw new InputError(problem);
    values.set(item.name, value);
  }
  const missing = policy.dataCollection.filter((i) => !values.has(i.name));
  return { values, missing };
}

/** The `datacollection` array of the request body, in the policy's order. */
export function dataCollectionBody(policy: WorkflowPolicy, values: Map<string, string>): Record<string, string>[] {
  return policy.dataCollection.filter((i) => values.has(i.name)).map((i) => ({ [i.name]: values.get(i.name)! }));
}
