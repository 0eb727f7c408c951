// What the user runs on the computer with the card: the card-side steps stay with the openclm
// client, the portal only creates the request and shows the command.
import { cardIdOf } from "./format";
import type { ClmRequest, Smartcard } from "./wire";

export interface ClientStep {
  /** One sentence: what to do. */
  text: string;
  /** Commands, in order. */
  commands: string[];
}

export function clientSteps(r: ClmRequest, card: Smartcard | null, userName: string): ClientStep | null {
  const server = window.location.origin;
  const base = `--server ${server} --user ${userName}`;
  const cardId = card ? cardIdOf(card.SerialNumber) : "CARD";
  switch (r.RequestType) {
    case 1: // Enroll
    case 6: // Duplicate
    case 11: // Temporary card
      return {
        text: r.IsSmartcard
          ? "On the computer with the card, run the client to put the keys and certificates on the card. It continues this request."
          : "Run the client to continue this request.",
        commands: [`openclm enroll ${base} --request ${r.Uuid}`],
      };
    case 3: // Renew
      return {
        text: "On the computer with the card, run the client: it generates the new keys on the card and installs the new certificates.",
        commands: [`openclm renew ${base} --card ${cardId} --resume ${r.Uuid}`],
      };
    case 10: // Online update
      return {
        text: "On the computer with the card, run the client to bring the card's certificates up to date. It continues this request.",
        commands: [`openclm enroll ${base} --request ${r.Uuid} --card ${cardId}`],
      };
    case 5: // Unblock
      return {
        text: "With the card in this computer, run the client: it sets a new PIN and resets the retry counter.",
        commands: [`openclm unblock ${base} --card ${cardId} --resume ${r.Uuid}`],
      };
    case 12: // Offline unblock
      return {
        text: `Ask your card for its challenge and read it to the helpdesk with the request number ${r.Uuid.slice(0, 8)}; type the response they read back.`,
        commands: [`openclm card unblock ${cardId} --challenge`, `openclm card unblock ${cardId} --response RESPONSE`],
      };
    default:
      return null;
  }
}
