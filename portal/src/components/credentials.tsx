// A smart card or software profile with its certificates and the operations the caller may start.
import type { ReactNode } from "react";
import { cardIdOf, formatDate } from "../format";
import { Link } from "../router";
import { Badge } from "./ui";
import { CertificateStatusName, OPERATIONS, ProfileStatusName, SmartcardStatusName, type CertificateLong, type CertificateShort, type Profile, type Smartcard } from "../wire";

const DESTRUCTIVE = new Set(["retire", "revoke", "disable"]);

export interface CardWithDetails {
  card: Smartcard;
  certificates: CertificateShort[];
  operations: string[];
}

export interface ProfileWithDetails {
  profile: Profile;
  certificates: CertificateShort[];
}

export function CertificateTable({ certificates, details, caption }: { certificates: CertificateShort[]; details: Map<string, CertificateLong>; caption: string }) {
  if (certificates.length === 0) return <p className="muted">No certificates on it yet.</p>;
  return (
    <div className="table-wrap">
      <table className="table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Certificate</th>
            <th scope="col">Subject</th>
            <th scope="col">Serial number</th>
            <th scope="col">Valid from</th>
            <th scope="col">Valid until</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {certificates.map((c) => {
            const d = details.get(c.SerialNumber);
            return (
              <tr key={c.SerialNumber}>
                <td>{c.TemplateCommonName}</td>
                <td>{d?.Subject ?? "—"}</td>
                <td>
                  <code className="serial">{c.SerialNumber}</code>
                </td>
                <td>{formatDate(d?.NotBefore, false)}</td>
                <td>{formatDate(d?.NotAfter, false)}</td>
                <td>{d ? <Badge status={CertificateStatusName[d.Status] ?? String(d.Status)} /> : "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function OperationLinks({ operations, query, label }: { operations: string[]; query: string; label: string }) {
  const order = Object.keys(OPERATIONS);
  const known = operations.filter((o) => OPERATIONS[o]).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  if (known.length === 0) return <p className="muted">No operations are available on it right now.</p>;
  return (
    <ul className="operations" aria-label={label}>
      {known.map((o) => (
        <li key={o}>
          <Link className={`button button-secondary${DESTRUCTIVE.has(o) ? " button-destructive" : ""}`} to={`/requests/new?type=${OPERATIONS[o]!.type}&${query}`} title={OPERATIONS[o]!.description}>
            {OPERATIONS[o]!.label}
          </Link>
        </li>
      ))}
    </ul>
  );
}

export function CardView({ item, templateName, details, owner, extra }: { item: CardWithDetails; templateName: string; details: Map<string, CertificateLong>; owner?: string; extra?: ReactNode }) {
  const { card } = item;
  const status = SmartcardStatusName[card.Status] ?? String(card.Status);
  const temporary = card.PermanentSmartcardUuid && !card.PermanentSmartcardUuid.startsWith("00000000");
  return (
    <article className="credential" aria-labelledby={`card-${card.Uuid}`} data-card={cardIdOf(card.SerialNumber)}>
      <div className="credential-head">
        <h3 id={`card-${card.Uuid}`}>
          {templateName}
          {temporary ? " (temporary card)" : ""}
        </h3>
        <Badge status={status} />
      </div>
      <dl className="facts facts-inline">
        <div>
          <dt>Card ID</dt>
          <dd>
            <code>{cardIdOf(card.SerialNumber)}</code>
          </dd>
        </div>
        {owner && (
          <div>
            <dt>Assigned to</dt>
            <dd>{owner}</dd>
          </div>
        )}
        <div>
          <dt>Middleware</dt>
          <dd>{card.Middleware || "—"}</dd>
        </div>
        <div>
          <dt>Template version</dt>
          <dd>{card.ProfileTemplateVersion}</dd>
        </div>
      </dl>
      <CertificateTable certificates={item.certificates} details={details} caption={`Certificates on card ${cardIdOf(card.SerialNumber)}`} />
      <OperationLinks operations={item.operations} query={`smartcard=${card.Uuid}&template=${card.ProfileTemplateUuid}`} label={`Operations on card ${cardIdOf(card.SerialNumber)}`} />
      {extra}
    </article>
  );
}

export function ProfileView({ item, templateName, details }: { item: ProfileWithDetails; templateName: string; details: Map<string, CertificateLong> }) {
  const { profile } = item;
  const status = ProfileStatusName[profile.Status] ?? String(profile.Status);
  return (
    <article className="credential" aria-labelledby={`profile-${profile.Uuid}`}>
      <div className="credential-head">
        <h3 id={`profile-${profile.Uuid}`}>{templateName}</h3>
        <Badge status={status} />
      </div>
      <dl className="facts facts-inline">
        <div>
          <dt>Profile</dt>
          <dd>
            <code>{profile.Uuid}</code>
          </dd>
        </div>
        <div>
          <dt>Template version</dt>
          <dd>{profile.ProfileTemplateVersion}</dd>
        </div>
      </dl>
      <CertificateTable certificates={item.certificates} details={details} caption={`Certificates of software profile ${profile.Uuid.slice(0, 8)}`} />
      <OperationLinks operations={profile.ProfileOperations} query={`profile=${profile.Uuid}&template=${profile.ProfileTemplateUuid}`} label={`Operations on profile ${profile.Uuid.slice(0, 8)}`} />
    </article>
  );
}
