import { createCaMaterial, newSerial, type CaKeyOptions, type CaMaterial } from "../../../src/crypto/ca.js";
import { CertificateIssuer, type IssueSpec } from "../../../src/crypto/issuer.js";

export interface TestCa {
  material: CaMaterial;
  issuer: CertificateIssuer;
}

export async function makeCa(keyType: CaKeyOptions["keyType"], label = keyType): Promise<TestCa> {
  const material = await createCaMaterial({
    root: { keyType, validityDays: 3650, subject: `CN=${label} Test Root, O=OpenCLM` },
    issuing: { keyType, validityDays: 1825, subject: `CN=${label} Test Issuing, O=OpenCLM` },
  });
  const issuer = new CertificateIssuer({
    issuingCertDer: material.issuing.certDer,
    issuingKeyPkcs8Der: material.issuing.keyPkcs8Der,
    chainDer: [material.issuing.certDer, material.root.certDer],
  });
  return { material, issuer };
}

/** A typical smart card logon certificate for `cn`. */
export function userSpec(cn: string, spkiDer: Buffer, overrides: Partial<IssueSpec> = {}): IssueSpec {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return {
    serial: newSerial(),
    subject: [{ type: "CN", value: cn }],
    spkiDer,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + 30 * 86_400_000),
    keyUsage: ["digitalSignature", "keyEncipherment"],
    extendedKeyUsages: ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"],
    san: { upn: `${cn}@example.test` },
    ...overrides,
  };
}
