// The CA chain and the current CRL, read from the public endpoints and decoded in the browser.
import type { ReactNode } from "react";
import { API, call } from "../api";
import { certificate, crl, hex, pemBlocks, type CertInfo } from "../der";
import { formatDate } from "../format";
import { Badge, DefinitionList, ErrorMessage, Loading, PageTitle, Section, useApi } from "../components/ui";

async function sha256(der: Uint8Array): Promise<string | null> {
  if (!globalThis.crypto?.subtle) return null; // only in secure contexts (HTTPS or localhost)
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", der as BufferSource))).replace(/(..)(?=.)/g, "$1:");
}

function validity(from: Date, to: Date): string {
  const now = Date.now();
  if (now < from.getTime()) return "Not yet valid";
  if (now > to.getTime()) return "Expired";
  return "Valid";
}

export function AdminCa() {
  const chain = useApi(async (signal) => {
    const pem = await call<string>("GET", "/ca/certificates", { as: "text", signal });
    const certs = pemBlocks(pem).map(certificate);
    return Promise.all(certs.map(async (c) => ({ ...c, fingerprint: await sha256(c.der) })));
  }, []);
  const list = useApi(async (signal) => crl(await call<Uint8Array>("GET", "/ca/crl", { as: "bytes", signal })), []);

  const days = (d: Date) => Math.round((d.getTime() - Date.now()) / 86_400_000);
  const crlState = (next: Date | null) => (!next ? "No next update" : next.getTime() < Date.now() ? "Expired" : "Valid");

  return (
    <>
      <PageTitle lead="The certificates relying parties must trust, and the revocation list they check.">CA and CRL</PageTitle>
      <Section title="CA certificates">
        <ErrorMessage error={chain.error} title="The CA chain could not be read" />
        {chain.loading && !chain.data && <Loading what="the CA chain" />}
        {chain.data && (
          <div className="credential-list">
            {chain.data.map((c: CertInfo & { fingerprint: string | null }, i) => (
              <article className="credential" key={c.serial} aria-labelledby={`ca-${i}`}>
                <div className="credential-head">
                  <h3 id={`ca-${i}`}>{i === 0 ? "Issuing CA" : i === chain.data!.length - 1 ? "Root CA" : `Intermediate CA ${i}`}</h3>
                  <Badge status={validity(c.notBefore, c.notAfter)} tone={validity(c.notBefore, c.notAfter) === "Valid" ? "good" : "bad"} />
                </div>
                <DefinitionList
                  items={[
                    ["Subject", c.subject],
                    ["Issuer", c.issuer],
                    ["Serial number", <code key="s">{c.serial}</code>],
                    ["Valid from", formatDate(c.notBefore.toISOString())],
                    ["Valid until", `${formatDate(c.notAfter.toISOString())} (${days(c.notAfter)} days left)`],
                    ...(c.fingerprint ? ([["SHA-256 fingerprint", <code key="f" className="wrap">{c.fingerprint}</code>]] as [string, ReactNode][]) : []),
                  ]}
                />
              </article>
            ))}
          </div>
        )}
        <p>
          Download: <a href={`${API}/ca/certificates`}>chain (PEM)</a> · <a href={`${API}/ca/issuer.cer`}>issuing CA (DER)</a>
        </p>
      </Section>
      <Section title="Certificate revocation list">
        <ErrorMessage error={list.error} title="The CRL could not be read" />
        {list.loading && !list.data && <Loading what="the CRL" />}
        {list.data && (
          <>
            <p className="status-line">
              <Badge status={crlState(list.data.nextUpdate)} tone={crlState(list.data.nextUpdate) === "Valid" ? "good" : "bad"} />
            </p>
            <DefinitionList
              items={[
                ["Issuer", list.data.issuer],
                ["CRL number", list.data.crlNumber ?? "—"],
                ["This update", formatDate(list.data.thisUpdate.toISOString())],
                ["Next update", list.data.nextUpdate ? formatDate(list.data.nextUpdate.toISOString()) : "—"],
                ["Revoked certificates", String(list.data.revoked)],
              ]}
            />
          </>
        )}
        <p>
          Download: <a href={`${API}/ca/crl`}>current CRL (DER)</a>
        </p>
      </Section>
    </>
  );
}
