// Runs on the engine of the pass (test/run-engines.mjs): SQLite, then PostgreSQL.
// The certificate indexes hold only rows with a value (migration 0007); the store's lookups by card,
// by profile and of revoked certificates must still find them through those indexes.
import type { CompiledQuery } from "kysely";
import { describe, expect, it } from "vitest";
import type { CertificateRow } from "../../src/store/store.js";
import { queryPlan, storeOfThisPass } from "../helpers/store.js";

const pass = storeOfThisPass("cert-indexes");
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const cert = (n: number, where: Partial<CertificateRow>): CertificateRow => ({
  serial: `0${n}`.padStart(32, "0"),
  request_uuid: id(100 + n),
  smartcard_uuid: null,
  profile_uuid: null,
  user_uuid: id(1),
  template_name: "VPN",
  der: Buffer.from([0x30, 0x00]),
  thumbprint: String(n).padStart(40, "0"),
  subject: "CN=alice",
  issuer: "CN=CA",
  not_before: "2026-01-01T00:00:00.000Z",
  not_after: "2027-01-01T00:00:00.000Z",
  status: 0,
  revoked_at: null,
  revocation_reason: null,
  archived_key: null,
  csr_fingerprint: null,
  created_at: `2026-01-01T00:00:${String(n).padStart(2, "0")}.000Z`,
  ...where,
});

describe("certificate indexes of rows with a value", () => {
  it("answer the lookups by card, by profile and of revoked certificates", async () => {
    await pass.store.insertCertificate(cert(1, { smartcard_uuid: id(900) }));
    await pass.store.insertCertificate(cert(2, { smartcard_uuid: id(900), status: 1, revoked_at: "2026-02-01T00:00:00.000Z", revocation_reason: 5 }));
    await pass.store.insertCertificate(cert(3, { profile_uuid: id(901) }));
    await pass.store.insertCertificate(cert(4, { smartcard_uuid: id(902) }));
    expect((await pass.store.certificatesOfSmartcard(id(900))).map((c) => c.serial)).toEqual([cert(1, {}).serial, cert(2, {}).serial]);
    expect((await pass.store.certificatesOfProfile(id(901))).map((c) => c.serial)).toEqual([cert(3, {}).serial]);
    expect(await pass.store.revokedCertificates()).toEqual([{ serial: cert(2, {}).serial, revoked_at: "2026-02-01T00:00:00.000Z", revocation_reason: 5 }]);
  });

  it("are the ones the planner uses for those lookups (the store's own queries)", async () => {
    const { store } = pass;
    const plan = (q: { compile(): CompiledQuery }) => queryPlan(store, q.compile(), { noSeqScan: true });
    expect(await plan(store.certificatesOfQuery("smartcard_uuid", id(900)))).toContain("certificates_smartcard");
    expect(await plan(store.certificatesOfQuery("profile_uuid", id(901)))).toContain("certificates_profile");
    expect(await plan(store.revokedCertificatesQuery())).toContain("certificates_revoked");
  });
});
