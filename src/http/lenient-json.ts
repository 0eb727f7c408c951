// The JSON that CM clients in the field send: trailing commas before } or ], typographic
// quotes around strings, and property names in any case.
import { badInput } from "../domain/errors.js";

/** Removes commas that directly precede a closing bracket, outside strings. */
export function stripTrailingCommas(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    if (ch === ",") {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j]!)) j++;
      if (text[j] === "}" || text[j] === "]") continue;
    }
    out += ch;
  }
  return out;
}

export function parseLenientJson(text: string): unknown {
  if (text.trim() === "") return {};
  // Strict JSON first: a trailing comma makes JSON.parse fail, so a body it accepts has none to strip
  // (walking a 2 KB body character by character cost 13 us, JSON.parse 1).
  try {
    return JSON.parse(text);
  } catch {
    // one of the non-strict forms, or garbage
  }
  try {
    return JSON.parse(stripTrailingCommas(text));
  } catch {
    throw badInput("MalformedJson", "the request body is not valid JSON");
  }
}

/** Lower-cases the top-level property names of an object body (names match case-insensitively). */
export function lowerCaseKeys(body: unknown): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) out[k.toLowerCase()] = v;
  return out;
}
