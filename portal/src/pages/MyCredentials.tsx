// Self-service home: my smart cards and software profiles, their certificates and operations.
import { get, mapLimit } from "../api";
import { Link } from "../router";
import { useSession } from "../session";
import { useTemplateName } from "../templates";
import { CardView, ProfileView, type CardWithDetails, type ProfileWithDetails } from "../components/credentials";
import { Empty, ErrorMessage, Loading, PageTitle, Section, useApi } from "../components/ui";
import type { CertificateLong, CertificateShort, Profile, Smartcard } from "../wire";

const RETIRED_CARD = new Set([4, 6]);
const RETIRED_PROFILE = new Set([3, 5]);

export function MyCredentials() {
  const { user } = useSession();
  const templateName = useTemplateName();
  const { data, error, loading, reload } = useApi(
    async (signal) => {
      const [cards, profiles, certificates] = await Promise.all([
        get<Smartcard[]>("/smartcards", signal),
        get<Profile[]>("/profiles", signal),
        get<CertificateLong[]>("/certificates", signal),
      ]);
      // Auditors see everybody's; this page is about the signed-in user's own.
      const mine = cards.filter((c) => c.AssignedUserUuid === user.uuid);
      const myProfiles = profiles.filter((p) => p.AssignedUserUuid === user.uuid);
      const cardDetails = await mapLimit(mine, 4, async (card): Promise<CardWithDetails> => {
        const [certs, operations] = await Promise.all([
          get<CertificateShort[]>(`/smartcards/${card.Uuid}/certificates`, signal),
          get<string[]>(`/smartcards/${card.Uuid}/operations`, signal),
        ]);
        return { card, certificates: certs, operations };
      });
      const profileDetails = await mapLimit(myProfiles, 4, async (profile): Promise<ProfileWithDetails> => ({
        profile,
        certificates: await get<CertificateShort[]>(`/profiles/${profile.Uuid}/certificates`, signal),
      }));
      return { cards: cardDetails, profiles: profileDetails, details: new Map(certificates.map((c) => [c.SerialNumber, c])) };
    },
    [user.uuid],
  );

  const active = data?.cards.filter((c) => !RETIRED_CARD.has(c.card.Status)) ?? [];
  const retired = data?.cards.filter((c) => RETIRED_CARD.has(c.card.Status)) ?? [];
  const activeProfiles = data?.profiles.filter((p) => !RETIRED_PROFILE.has(p.profile.Status)) ?? [];
  const retiredProfiles = data?.profiles.filter((p) => RETIRED_PROFILE.has(p.profile.Status)) ?? [];

  return (
    <>
      <PageTitle lead="Your smart cards and software certificates, and what you can do with them.">My cards</PageTitle>
      {error ? (
        <>
          <ErrorMessage error={error} title="Your cards could not be loaded" />
          <button type="button" onClick={reload}>
            Try again
          </button>
        </>
      ) : null}
      {loading && !data && <Loading what="your cards" />}
      {data && (
        <>
          <Section title="Smart cards" actions={<Link to="/enroll">Request a certificate</Link>}>
            {active.length === 0 ? (
              <Empty>
                <p>You have no smart cards yet.</p>
                <p>
                  <Link to="/enroll">Request a smart card certificate</Link>, then run the openclm client on the computer with the card.
                </p>
              </Empty>
            ) : (
              <div className="credential-list">
                {active.map((c) => (
                  <CardView key={c.card.Uuid} item={c} templateName={templateName(c.card.ProfileTemplateUuid, c.card.ProfileTemplateName)} details={data.details} />
                ))}
              </div>
            )}
          </Section>
          <Section title="Software profiles">
            {activeProfiles.length === 0 ? (
              <Empty>
                <p>You have no software profiles yet.</p>
                <p>Software certificates are delivered as a password-protected PFX file you download here.</p>
              </Empty>
            ) : (
              <div className="credential-list">
                {activeProfiles.map((p) => (
                  <ProfileView key={p.profile.Uuid} item={p} templateName={templateName(p.profile.ProfileTemplateUuid, p.profile.ProfileTemplateName)} details={data.details} />
                ))}
              </div>
            )}
          </Section>
          {retired.length + retiredProfiles.length > 0 && (
            <details className="section">
              <summary>
                Retired and disabled ({retired.length + retiredProfiles.length})
              </summary>
              <div className="credential-list">
                {retired.map((c) => (
                  <CardView key={c.card.Uuid} item={c} templateName={templateName(c.card.ProfileTemplateUuid, c.card.ProfileTemplateName)} details={data.details} />
                ))}
                {retiredProfiles.map((p) => (
                  <ProfileView key={p.profile.Uuid} item={p} templateName={templateName(p.profile.ProfileTemplateUuid, p.profile.ProfileTemplateName)} details={data.details} />
                ))}
              </div>
            </details>
          )}
        </>
      )}
    </>
  );
}
