// Helpdesk: find a user's card, start an offline unblock for it, and obtain the response to the
// challenge the user reads out over the phone (one response per request).
import { useEffect, useState, type FormEvent } from "react";
import { ApiError, get, idOfCreated, mapLimit, post, put } from "../api";
import { base64ToBytes, bytesToBase64, bytesToHex, cardIdOf, formatDate, hexPairs, shortId } from "../format";
import { Link, navigate } from "../router";
import { useSession } from "../session";
import { useTemplateName } from "../templates";
import { CardView, type CardWithDetails } from "../components/credentials";
import { Badge, DefinitionList, Empty, ErrorMessage, Loading, PageTitle, Section, Success, useApi } from "../components/ui";
import { RequestStatus, RequestStatusName, type CertificateShort, type ClmRequest, type SmartcardConfig, type Smartcard } from "../wire";

interface DirectoryUser {
  Uuid: string;
  Name: string;
  DisplayName: string;
  Email: string;
  Groups: string[];
  Disabled: boolean;
}

const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

/** 16 hex digits (spaces, colons, dashes allowed) or base64 of 8 bytes; undefined otherwise. */
export function parseChallenge(text: string): Uint8Array | undefined {
  const hex = text.replace(/[\s:-]/g, "");
  if (/^[0-9a-f]{16}$/i.test(hex)) return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  try {
    const b = base64ToBytes(text.trim());
    if (b.length === 8) return b;
  } catch {
    /* not base64 */
  }
  return undefined;
}

async function cardDetails(cards: Smartcard[], signal?: AbortSignal): Promise<CardWithDetails[]> {
  return mapLimit(cards, 4, async (card) => {
    const [certificates, operations] = await Promise.all([
      get<CertificateShort[]>(`/smartcards/${card.Uuid}/certificates`, signal),
      get<string[]>(`/smartcards/${card.Uuid}/operations`, signal),
    ]);
    return { card, certificates, operations };
  });
}

function FindCard({ onFound }: { onFound: (r: { user?: DirectoryUser; cards: CardWithDetails[]; query: string }) => void }) {
  const { user } = useSession();
  const mayReadDirectory = user.isAuditor || user.isAdmin;
  const [userName, setUserName] = useState("");
  const [cardId, setCardId] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const byUser = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const name = userName.trim();
      // The server lists only the cards of templates this operator serves.
      const cards = await get<Smartcard[]>(`/smartcards?targetuser=${encodeURIComponent(name)}&top=1000`);
      const u = mayReadDirectory ? await get<DirectoryUser>(`/admin/users/${encodeURIComponent(name)}`) : undefined;
      onFound({ ...(u ? { user: u } : {}), cards: await cardDetails(cards), query: u?.Name ?? name });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const byCard = async (e: FormEvent) => {
    e.preventDefault();
    const id = cardId.trim().replace(/^\{|\}$/g, "");
    if (!GUID.test(id)) {
      setError(new Error("A card ID looks like 1c5d7b0e-6f2a-4c1b-9d8e-2a3b4c5d6e7f (the user finds it on their My cards page or with openclm card list)."));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const cards = await get<Smartcard[]>(`/smartcards?cardid=${encodeURIComponent(id)}`);
      onFound({ cards: await cardDetails(cards), query: id });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Find the card">
      <ErrorMessage error={error} title="The search failed" />
      <div className="find-grid">
        <form className="form" onSubmit={(e) => void byCard(e)} aria-label="Find a card by its card ID">
          <div className="field">
            <label htmlFor="find-card">Card ID</label>
            <p className="hint" id="find-card-hint">
              The user reads it from the portal's My cards page or from <code>openclm card list</code>.
            </p>
            <input id="find-card" aria-describedby="find-card-hint" value={cardId} onChange={(e) => setCardId(e.target.value)} autoComplete="off" spellCheck={false} required />
          </div>
          <button type="submit" disabled={busy}>
            Find card
          </button>
        </form>
        <form className="form" onSubmit={(e) => void byUser(e)} aria-label="Find a user's cards">
          <div className="field">
            <label htmlFor="find-user">User name</label>
            <p className="hint" id="find-user-hint">
              {mayReadDirectory ? "All cards assigned to this user." : "The user's cards of the profile templates you serve."}
            </p>
            <input id="find-user" aria-describedby="find-user-hint" value={userName} onChange={(e) => setUserName(e.target.value)} autoComplete="off" required />
          </div>
          <button type="submit" disabled={busy}>
            Find user
          </button>
        </form>
      </div>
    </Section>
  );
}

function OfflineUnblock({ requestId }: { requestId: string }) {
  const { user } = useSession();
  const [challenge, setChallenge] = useState("");
  const [challengeError, setChallengeError] = useState<string | null>(null);
  const [response, setResponse] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [completed, setCompleted] = useState(false);
  const { data, error: loadError, reload } = useApi(
    async (signal) => {
      const r = await get<ClmRequest>(`/requests/${requestId}`, signal);
      const scid = [r.OldSmartcardUuid, r.NewSmartcardUuid].find((u) => u && !u.startsWith("00000000"))!;
      const card = await get<Smartcard>(`/smartcards/${scid}`, signal);
      let diversified = true;
      try {
        diversified = (await get<SmartcardConfig>(`/profiletemplates/${r.ProfileTemplateUuid}/configuration/smartcards`, signal)).DiversifyAdminKey;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status >= 500) throw e;
      }
      return { request: r, card, diversified };
    },
    [requestId],
  );

  const answer = async (e: FormEvent) => {
    e.preventDefault();
    const bytes = parseChallenge(challenge);
    if (!bytes) {
      setChallengeError("Type the 16 hexadecimal digits the card shows (0–9, A–F), e.g. 0123 4567 89AB CDEF.");
      document.getElementById("challenge")?.focus();
      return;
    }
    setChallengeError(null);
    setBusy(true);
    setError(null);
    try {
      const { request: r, card, diversified } = data!;
      const q = new URLSearchParams({ cardid: cardIdOf(card.SerialNumber), challenge: bytesToBase64(bytes), diversified: String(diversified) });
      if (card.Atr) q.set("atr", card.Atr);
      const b64 = await get<string>(`/requests/${r.Uuid}/smartcards/${card.Uuid}/authenticationresponse?${q.toString()}`);
      setResponse(bytesToHex(base64ToBytes(b64)).toUpperCase());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const complete = async () => {
    setBusy(true);
    setError(null);
    try {
      await put(`/requests/${requestId}`, { status: "Completed" });
      setCompleted(true);
      reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (loadError) return <ErrorMessage error={loadError} title="The offline unblock request could not be loaded" />;
  if (!data) return <Loading what="the offline unblock request" />;
  const { request: r, card } = data;
  const active = r.Status === RequestStatus.Approved || r.Status === RequestStatus.Executing;
  const mayComplete = r.IsEnrollmentAgent ? r.OriginatorUserUuid === user.uuid : r.TargetUserUuid === user.uuid;
  return (
    <Section title="Offline unblock">
      <DefinitionList
        items={[
          ["Request", <Link key="r" to={`/requests/${r.Uuid}`}>{r.Uuid}</Link>],
          ["Status", <Badge key="s" status={RequestStatusName[r.Status] ?? String(r.Status)} />],
          ["Card ID", <code key="c">{cardIdOf(card.SerialNumber)}</code>],
          ["Submitted", formatDate(r.Submitted)],
        ]}
      />
      {r.Status === RequestStatus.Pending && <p className="alert alert-info">This request waits for approval; the response can be obtained once it is approved.</p>}
      {active && (
        <>
          <ol className="steps">
            <li>
              The user runs <code>openclm card unblock {cardIdOf(card.SerialNumber)} --challenge</code> and reads you the challenge.
            </li>
            <li>You type it below and read the response back.</li>
            <li>
              The user enters it with <code>openclm card unblock {cardIdOf(card.SerialNumber)} --response …</code> and chooses a new PIN.
            </li>
          </ol>
          {!response && (
            <form className="form" onSubmit={(e) => void answer(e)}>
              <div className="field">
                <label htmlFor="challenge">Challenge read out by the user</label>
                <p className="hint" id="challenge-hint">
                  16 hexadecimal digits; spaces are ignored. One response is released per request.
                </p>
                <input
                  id="challenge"
                  className="mono"
                  autoComplete="off"
                  spellCheck={false}
                  value={challenge}
                  aria-invalid={challengeError ? true : undefined}
                  aria-describedby={challengeError ? "challenge-hint challenge-error" : "challenge-hint"}
                  onChange={(e) => setChallenge(e.target.value)}
                  required
                />
                {challengeError && (
                  <p className="field-error" id="challenge-error">
                    {challengeError}
                  </p>
                )}
              </div>
              <button type="submit" disabled={busy}>
                {busy ? "Asking the server…" : "Get response"}
              </button>
            </form>
          )}
        </>
      )}
      <ErrorMessage error={error} title="No response" />
      {response && (
        <div className="response" role="status" aria-live="polite">
          <p>Read this response to the user:</p>
          <output className="response-value" data-testid="unblock-response" aria-label={`Response ${response.split("").join(" ")}`}>
            {hexPairs(response)}
          </output>
          {active && mayComplete && !completed && (
            <p>
              When the card has taken the new PIN:{" "}
              <button type="button" className="button-secondary" disabled={busy} onClick={() => void complete()}>
                Mark the request completed
              </button>
            </p>
          )}
          {!mayComplete && <p className="hint">The user's client completes the request once the card has its new PIN.</p>}
        </div>
      )}
      {completed && (
        <Success>
          <p>The offline unblock request is completed.</p>
        </Success>
      )}
    </Section>
  );
}

export function Helpdesk({ query }: { query: URLSearchParams }) {
  const templateName = useTemplateName();
  const requestId = query.get("request");
  const [found, setFound] = useState<{ user?: DirectoryUser; cards: CardWithDetails[]; query: string } | null>(null);
  const [starting, setStarting] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setError(null), [requestId]);

  const startOfflineUnblock = async (card: Smartcard) => {
    setStarting(card.Uuid);
    setError(null);
    try {
      const created = await post<string>("/requests", { type: "OfflineUnblock", smartcard: card.Uuid, datacollection: [], comment: "" });
      navigate(`/helpdesk?request=${idOfCreated(created)}`);
    } catch (e) {
      setError(e);
    } finally {
      setStarting(null);
    }
  };

  return (
    <>
      <PageTitle lead="Help a user whose card is blocked and not connected: find the card, start an offline unblock, and answer its challenge.">Helpdesk</PageTitle>
      {requestId ? (
        <>
          <p>
            <Link to="/helpdesk">Find another card</Link>
          </p>
          <OfflineUnblock key={requestId} requestId={requestId} />
        </>
      ) : (
        <>
          <FindCard onFound={setFound} />
          <ErrorMessage error={error} title="The offline unblock could not be started" />
          {found && (
            <Section title={found.user ? `Cards of ${found.user.DisplayName || found.user.Name} (${found.user.Name})` : `Cards with ID ${found.query}`}>
              {found.user && (
                <p>
                  {found.user.Email} · groups {found.user.Groups.join(", ") || "none"}
                  {found.user.Disabled && " · disabled"}
                </p>
              )}
              {found.cards.length === 0 ? (
                <Empty>
                  <p>{found.user ? "This user has no smart cards." : "No card you may see has this ID."}</p>
                </Empty>
              ) : (
                <div className="credential-list">
                  {found.cards.map((c) => (
                    <CardView
                      key={c.card.Uuid}
                      item={c}
                      templateName={templateName(c.card.ProfileTemplateUuid, c.card.ProfileTemplateName)}
                      details={new Map()}
                      owner={found.user ? found.user.Name : c.card.AssignedUserName ?? shortId(c.card.AssignedUserUuid)}
                      extra={
                        c.operations.includes("offlineunblock") ? (
                          <div className="actions">
                            <button type="button" disabled={starting !== null} onClick={() => void startOfflineUnblock(c.card)}>
                              {starting === c.card.Uuid ? "Starting…" : "Start offline unblock"}
                            </button>
                          </div>
                        ) : null
                      }
                    />
                  ))}
                </div>
              )}
            </Section>
          )}
        </>
      )}
    </>
  );
}
