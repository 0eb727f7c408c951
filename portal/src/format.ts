// Dates, ids and names as the pages show them.
import { isUnset } from "./wire";

/** "2025-01-31 14:05 UTC", or "—" for the unset date. */
export function formatDate(iso: string | null | undefined, withTime = true): string {
  if (!iso || isUnset(iso)) return "—";
  const d = new Date(/Z|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  return withTime ? `${s.slice(0, 10)} ${s.slice(11, 16)} UTC` : s.slice(0, 10);
}

export function shortId(uuid: string): string {
  return uuid.slice(0, 8);
}

/** A card's id from its SerialNumber ("{…}"). */
export function cardIdOf(serialNumber: string): string {
  return serialNumber.replace(/^\{|\}$/g, "");
}

/** Groups hex in pairs: "A1 B2 C3 …". */
export function hexPairs(hex: string): string {
  return hex.toUpperCase().replace(/(..)(?=.)/g, "$1 ");
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}
