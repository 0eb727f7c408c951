// What `card show` / `card list` report about a card: never a secret, and always whether an
// enrollment was left unfinished or a key has no certificate.
import type { EnrollmentJournal } from "./card/card-file.js";
import type { PinStatus, VirtualSmartCard } from "./card/virtual-card.js";
import { certificateInfo, type CertificateInfo } from "./cert-info.js";

export interface KeyView {
  containerId: string;
  algorithm: string;
  keySize: number;
  createdAt: string;
  friendlyName: string;
  /** "certified": key with its certificate; "orphan": a key without one (unfinished enrollment). */
  state: "certified" | "orphan";
  certificate: CertificateInfo | null;
}

export interface CardView {
  cardId: string;
  file: string;
  atr: string;
  label: string;
  createdAt: string;
  pin: PinStatus;
  keys: KeyView[];
  caCertificates: CertificateInfo[];
  unfinishedEnrollment: EnrollmentJournal | null;
  /** An outstanding offline-unblock challenge (hex), waiting for the helpdesk's response. */
  offlineUnblockChallenge: { challenge: string; expiresAt: string } | null;
}

export function cardView(card: VirtualSmartCard, file: string): CardView {
  return {
    cardId: card.cardId,
    file,
    atr: card.atr,
    label: card.label,
    createdAt: card.createdAt,
    pin: card.pinStatus(),
    keys: card.containers().map((c) => ({
      containerId: c.id,
      algorithm: c.algorithm,
      keySize: c.keySize,
      createdAt: c.createdAt,
      friendlyName: c.friendlyName,
      state: c.certificate ? "certified" : "orphan",
      certificate: c.certificate ? certificateInfo(c.certificate) : null,
    })),
    caCertificates: card.caCertificates().map((c) => certificateInfo(c)),
    unfinishedEnrollment: card.journal,
    offlineUnblockChallenge: offlineChallengeView(card),
  };
}

function offlineChallengeView(card: VirtualSmartCard): CardView["offlineUnblockChallenge"] {
  const pending = card.pendingChallenge();
  if (!pending || pending.purpose !== "offline-unblock") return null;
  return { challenge: pending.value.toString("hex").toUpperCase(), expiresAt: pending.expiresAt };
}

export function pinStatusText(pin: PinStatus): string {
  if (!pin.set) return "not set";
  if (pin.blocked) return "BLOCKED";
  return `set, ${pin.retriesLeft} of ${pin.maxAttempts} tries left`;
}
