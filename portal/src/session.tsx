// Who is signed in, shared by every page.
import { createContext, useContext } from "react";

export interface PortalUser {
  uuid: string;
  name: string;
  displayName: string;
  email: string;
  groups: string[];
  isAdmin: boolean;
  isAuditor: boolean;
  isApprover: boolean;
  isHelpdesk: boolean;
  isEnrollmentAgent: boolean;
}

export interface SessionInfo {
  user: PortalUser | null;
  csrfToken: string | null;
  methods?: { password: boolean; oidc: boolean };
}

export interface SessionContextValue {
  user: PortalUser;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

export function useSession(): SessionContextValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error("useSession outside a signed-in page");
  return v;
}
