// The embedded CA: created once on first start (keys sealed under the KEK), loaded afterwards;
// issues certificates and keeps a current CRL in the database.
import { X509Certificate } from "node:crypto";
import type { OpenClmConfig } from "../../config/types.js";
import { CRL_CHANGES, CRL_CHANGES_PUBLISHED, type Store } from "../../store/store.js";
import { createCaMaterial } from "../../crypto/ca.js";
import { CertificateIssuer, type IssueSpec } from "../../crypto/issuer.js";
import { IssuancePool } from "../../crypto/issuance-pool.js";
import type { CsrFacts, KeyRequirement, ParsedCsr } from "../../crypto/csr.js";
import { buildCrl } from "../../crypto/crl.js";
import { open, seal } from "../../crypto/envelope.js";

const ROOT_AAD = "openclm:ca:root";
const ISSUING_AAD = "openclm:ca:issuing";

export class CertificateAuthority {
  private crlCache?: { number: number; der: Buffer; nextUpdate: Date };

  private constructor(
    private readonly store: Store,
    private readonly issuer: CertificateIssuer,
    private readonly pool: IssuancePool,
    private readonly issuingKeyPkcs8Der: Buffer,
    readonly rootCertDer: Buffer,
    readonly issuingCertDer: Buffer,
    private readonly crlPolicy: OpenClmConfig["ca"],
  ) {
    const issuing = new X509Certificate(issuingCertDer);
    this.issuingNotAfter = new Date(issuing.validTo);
    this.issuerName = issuing.subject.replace(/\n/g, ", ");
  }

  /** Loads the CA from the database, creating it on the very first start. */
  static async open(store: Store, kek: Buffer, config: OpenClmConfig["ca"]): Promise<CertificateAuthority> {
    let root = await store.caKey("root");
    let issuing = await store.caKey("issuing");
    if (!root || !issuing) {
      const m = await createCaMaterial({ root: config.root, issuing: config.issuing });
      const at = new Date().toISOString();
      // Two processes starting together: the first insert wins, the other reads it back.
      await store.tx(async (tx) => {
        const won = await tx.insertCaKey({ role: "root", cert_der: m.root.certDer, sealed_key: seal(kek, m.root.keyPkcs8Der, ROOT_AAD), created_at: at });
        if (won)
          await tx.insertCaKey({ role: "issuing", cert_der: m.issuing.certDer, sealed_key: seal(kek, m.issuing.keyPkcs8Der, ISSUING_AAD), created_at: at });
      });
      root = await store.caKey("root");
      issuing = await store.caKey("issuing");
      if (!root || !issuing) throw new Error("CA material could not be stored");
    }
    let issuingKey: Buffer;
    try {
      open(kek, root.sealed_key, ROOT_AAD);
      issuingKey = open(kek, issuing.sealed_key, ISSUING_AAD);
    } catch {
      throw new Error("the key-encryption key does not open the CA keys in this database (wrong OPENCLM_KEK or key file?)");
    }
    const issuer = new CertificateIssuer({
      issuingCertDer: issuing.cert_der,
      issuingKeyPkcs8Der: issuingKey,
      chainDer: [issuing.cert_der, root.cert_der],
    });
    const pool = new IssuancePool({ issuingCertDer: issuing.cert_der, issuingKeyPkcs8Der: issuingKey, chainDer: [issuing.cert_der, root.cert_der] });
    return new CertificateAuthority(store, issuer, pool, issuingKey, root.cert_der, issuing.cert_der, config);
  }

  /** Encodes and signs on a worker thread of the issuance pool. */
  issue(spec: IssueSpec): Promise<Buffer> {
    return this.pool.issue(spec);
  }

  /** issue(spec), and the certs-only PKCS#7 (certificate, then chainDer) that delivers it. */
  issueWithChain(spec: IssueSpec): Promise<{ der: Buffer; pkcs7: Buffer }> {
    return this.pool.issueWithChain(spec);
  }

  /** Reads and verifies a PKCS#10 request on a worker thread; rejects with a CsrError for the caller. */
  parseCsr(text: string): Promise<ParsedCsr> {
    return this.pool.parseCsr(text);
  }

  /** parseCsr, and issueWithChain for the request's key when it meets the requirement: one worker trip. */
  issueForCsr(text: string, requirement: KeyRequirement, spec: Omit<IssueSpec, "spkiDer">): Promise<{ csr: CsrFacts; issued?: { der: Buffer; pkcs7: Buffer } }> {
    return this.pool.issueForCsr(text, requirement, spec);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** The validity a certificate issued for spec carries (clamped, whole seconds). */
  validity(spec: Pick<IssueSpec, "notBefore" | "notAfter">): { notBefore: Date; notAfter: Date } {
    return this.issuer.validity(spec);
  }

  /** Issuing CA first, then the root: what a client installs beside its certificate. */
  get chainDer(): Buffer[] {
    return [this.issuingCertDer, this.rootCertDer];
  }

  // Read on every issuance: parsed once.
  readonly issuingNotAfter: Date;
  readonly issuerName: string;
  private pem?: string;

  chainPem(): string {
    return (this.pem ??= this.chainDer.map((d) => new X509Certificate(d).toString()).join(""));
  }

  /**
   * The newest CRL in the database (whichever process published it), publishing a new one when
   * none exists or the newest is near its nextUpdate. Only the bytes of a CRL already seen are
   * cached: the number is looked up each time, so a revocation published by another process is
   * served at once.
   */
  async currentCrl(): Promise<Buffer> {
    const head = await this.store.latestCrlHead();
    // A revocation whose process died before publishing leaves changes unpublished.
    if (head && this.fresh(head.next_update) && (await this.store.unpublishedCrlChanges()) <= 0) {
      if (this.crlCache?.number === head.number) return this.crlCache.der;
      const latest = await this.store.latestCrl();
      if (latest && latest.number >= head.number) {
        this.crlCache = { number: latest.number, der: latest.der, nextUpdate: new Date(latest.next_update) };
        return latest.der;
      }
    }
    return this.publishCrl({ onlyIfStale: true });
  }

  private fresh(nextUpdate: string): boolean {
    return new Date(nextUpdate).getTime() - Date.now() > this.crlPolicy.crlRefreshMinutes * 60_000;
  }

  /**
   * Issues the next CRL. The number comes from the database inside the same transaction that
   * stores the CRL, so two processes never publish different CRLs under one number.
   */
  async publishCrl(opts: { onlyIfStale?: boolean } = {}): Promise<Buffer> {
    const published = await this.store.tx(async (tx) => {
      await tx.lockTransaction("crlPublication");
      if (opts.onlyIfStale) {
        // Processes whose timers fire together: the first refreshes, the others take its CRL.
        const latest = await tx.latestCrl();
        if (latest && this.fresh(latest.next_update) && (await tx.unpublishedCrlChanges()) <= 0)
          return { number: latest.number, der: latest.der, nextUpdate: new Date(latest.next_update) };
      }
      const number = await tx.nextCounter("crl_number");
      // Read before the certificates: a change committed after this read counts as unpublished.
      const covered = await tx.counterValue(CRL_CHANGES);
      const revoked = await tx.revokedCertificates();
      const thisUpdate = new Date(Math.floor(Date.now() / 1000) * 1000);
      const nextUpdate = new Date(thisUpdate.getTime() + this.crlPolicy.crlValidityHours * 3_600_000);
      const crl = await buildCrl({
        issuerCertDer: this.issuingCertDer,
        issuerKeyPkcs8Der: this.issuingKeyPkcs8Der,
        crlNumber: BigInt(number),
        thisUpdate,
        nextUpdate,
        entries: revoked.map((r) => ({
          serial: Buffer.from(r.serial, "hex"),
          revokedAt: new Date(r.revoked_at!),
          reason: r.revocation_reason ?? 0,
        })),
      });
      await tx.insertCrl({ number, der: crl, this_update: thisUpdate.toISOString(), next_update: nextUpdate.toISOString() });
      await tx.setCounters({ [CRL_CHANGES_PUBLISHED]: covered });
      return { number, der: crl, nextUpdate };
    });
    this.crlCache = published;
    return published.der;
  }
}
