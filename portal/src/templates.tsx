// Profile template names for the pages, from GET /profiletemplates (what the user may enroll
// for) and, for administrators and auditors, each template a listed object refers to.
import { createContext, useContext } from "react";
import { shortId } from "./format";
import type { ProfileTemplateLimitedView } from "./wire";

export interface TemplatesValue {
  list: ProfileTemplateLimitedView[];
  byUuid: Map<string, ProfileTemplateLimitedView>;
}

export const TemplatesContext = createContext<TemplatesValue>({ list: [], byUuid: new Map() });

export function useTemplates(): TemplatesValue {
  return useContext(TemplatesContext);
}

/** The template's name, the name the server sent along, or a short id. */
export function useTemplateName(): (uuid: string, known?: string) => string {
  const { byUuid } = useTemplates();
  return (uuid, known) => byUuid.get(uuid.toLowerCase())?.Name ?? (known || undefined) ?? `Profile template ${shortId(uuid)}…`;
}
