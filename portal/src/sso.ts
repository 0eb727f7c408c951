// Single sign-on ends with a redirect back to the portal; a failure arrives as ?sso_error=CODE&ref=ID.
// The page says what the code means in its own words (the server never puts the provider's text,
// or anything an attacker could put in a link, into the message) and removes it from the address
// bar so a reload does not show it again.
import { ApiError } from "./api";

export const SSO_START = "/portal/api/oidc/start";

const MESSAGES: Record<string, string> = {
  state: "The single sign-on took too long or was already used. Start it again.",
  denied: "The identity provider did not sign you in.",
  invalid: "The identity provider's answer was incomplete. Start the single sign-on again.",
  rejected: "The identity provider refused to complete the sign-in. Start it again.",
  token: "The identity provider's answer could not be verified.",
  account: "Your account is disabled or cannot be used here. Ask your administrator.",
  provider: "The identity provider could not be reached. Try again later.",
  limited: "Too many failed sign-ins from your address. Wait a minute and try again.",
  internal: "Single sign-on failed because of a server error.",
};

let taken: ApiError | null | undefined;

/** The failure the address bar reported when the page loaded; null when there was none. */
export function takeSsoError(): ApiError | null {
  // Read once per page load: the address is cleaned below, and React may call initialisers twice.
  if (taken === undefined) taken = readSsoError();
  return taken;
}

function readSsoError(): ApiError | null {
  const query = new URLSearchParams(window.location.search);
  const code = query.get("sso_error");
  if (code === null) return null;
  const ref = query.get("ref");
  query.delete("sso_error");
  query.delete("ref");
  const rest = query.toString();
  window.history.replaceState(null, "", `${window.location.pathname}${rest ? `?${rest}` : ""}`);
  const message = MESSAGES[code] ?? "Single sign-on failed.";
  return new ApiError(0, "SingleSignOnFailed", message, ref !== null && /^[0-9a-f-]{36}$/i.test(ref) ? ref : null);
}
