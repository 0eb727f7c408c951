/** The authenticated user a request is attributed to, with what permission checks need. */
export interface Caller {
  uuid: string;
  name: string;
  displayName: string;
  email: string;
  upn: string;
  groups: string[];
}

/** True when a principal list ("user:NAME", "group:NAME") names the caller. */
export function namedIn(caller: Caller, principals: readonly string[]): boolean {
  for (const p of principals) {
    const i = p.indexOf(":");
    const kind = p.slice(0, i);
    const name = p.slice(i + 1);
    if (kind === "user" && name === caller.name) return true;
    if (kind === "group" && caller.groups.includes(name)) return true;
  }
  return false;
}
