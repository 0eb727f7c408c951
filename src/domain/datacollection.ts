// Data collection items: the lenient wire forms clients send, checked against the policy.
import type { DataCollectionItemConfig } from "../config/types.js";
import { badInput } from "./errors.js";

export interface DataItem {
  Name: string;
  Value: string;
}

const CURLY = /[\u201c\u201d\u201e\u201f\u2033]/g;

/**
 * Accepts an array, or a string holding a JSON array (with the typographic quotes the published
 * walkthrough carries), of `{"<item>": "<value>"}` or `{"Name": …, "Value": …}` objects.
 */
export function parseDataCollection(input: unknown): DataItem[] {
  let value = input;
  if (typeof value === "string") {
    const text = value.replace(CURLY, '"').trim();
    if (text === "") return [];
    try {
      value = JSON.parse(text);
    } catch {
      throw badInput("InvalidDataCollection", "datacollection: not a JSON array of items");
    }
  }
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw badInput("InvalidDataCollection", "datacollection: must be an array of items");
  if (value.length > 64) throw badInput("InvalidDataCollection", "datacollection: at most 64 items");
  return value.map((item, i) => toItem(item, i));
}

function toItem(item: unknown, i: number): DataItem {
  if (typeof item !== "object" || item === null || Array.isArray(item))
    throw badInput("InvalidDataCollection", `datacollection[${i}]: must be an object`);
  const entries = Object.entries(item as Record<string, unknown>);
  const lower = new Map(entries.map(([k, v]) => [k.toLowerCase(), v]));
  if (lower.has("name") && (entries.length === 2 ? lower.has("value") : entries.length === 1)) {
    return { Name: asText(lower.get("name"), i), Value: asText(lower.get("value") ?? "", i) };
  }
  if (entries.length !== 1)
    throw badInput("InvalidDataCollection", `datacollection[${i}]: expected {"<item name>": "<value>"} or {"Name","Value"}`);
  const [name, v] = entries[0]!;
  return { Name: name, Value: asText(v, i) };
}

function asText(v: unknown, i: number): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw badInput("InvalidDataCollection", `datacollection[${i}]: value must be a string`);
}

/** Every required item present and valid, no unknown or repeated items; returns items in policy order. */
export function checkDataCollection(items: DataItem[], policy: DataCollectionItemConfig[]): DataItem[] {
  const byName = new Map(policy.map((p) => [p.name.toLowerCase(), p]));
  const seen = new Map<string, DataItem>();
  for (const it of items) {
    const p = byName.get(it.Name.trim().toLowerCase());
    if (!p) throw badInput("UnknownDataItem", `datacollection: unknown item "${clip(it.Name)}"`);
    if (seen.has(p.name)) throw badInput("DuplicateDataItem", `datacollection: item "${p.name}" given twice`);
    seen.set(p.name, { Name: p.name, Value: it.Value });
  }
  const out: DataItem[] = [];
  for (const p of policy) {
    const it = seen.get(p.name);
    const value = it?.Value ?? "";
    if (value.trim() === "") {
      if (p.required) throw badInput("MissingDataItem", `datacollection: required item "${p.name}" is missing`);
      if (!it) continue;
    }
    if (value.length > p.maxLength || value.length < p.minLength)
      throw badInput("InvalidDataItem", `datacollection: item "${p.name}" must be ${p.minLength}–${p.maxLength} characters`);
    if (p.regex && value !== "" && !new RegExp(`^(?:${p.regex})$`, "u").test(value))
      throw badInput("InvalidDataItem", `datacollection: item "${p.name}" does not have the expected format`);
    out.push({ Name: p.name, Value: value });
  }
  return out;
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}
