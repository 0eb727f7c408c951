// Extended key usage names an operator may write in a certificate template instead of OIDs.
// The table is the single place that knows them; the loader stores OIDs only, so issuing code
// never has to understand names.

export const EKU_OIDS = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  smartcardLogon: "1.3.6.1.4.1.311.20.2.2",
  documentSigning: "1.3.6.1.4.1.311.10.3.12",
  encryptingFileSystem: "1.3.6.1.4.1.311.10.3.4",
} as const;
export type EkuName = keyof typeof EKU_OIDS;

// Arc 0–2 first, no leading zeros: what DER can encode and what every tool prints.
const DOTTED_OID = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** OID for an EKU name (case-insensitive) or a dotted OID; undefined when neither. */
export function resolveEku(nameOrOid: string): string | undefined {
  const text = nameOrOid.trim();
  if (DOTTED_OID.test(text)) return text;
  const wanted = text.toLowerCase();
  const name = (Object.keys(EKU_OIDS) as EkuName[]).find((n) => n.toLowerCase() === wanted);
  return name === undefined ? undefined : EKU_OIDS[name];
}

/** The friendly name of an OID, for display; the OID itself when it has none. */
export function ekuDisplayName(oid: string): string {
  const name = (Object.keys(EKU_OIDS) as EkuName[]).find((n) => EKU_OIDS[n] === oid);
  return name ?? oid;
}
