// Just enough DER to show the CA certificates and the CRL: names, validity, serials, CRL number.
export interface Node {
  tag: number;
  constructed: boolean;
  content: Uint8Array;
  children: Node[];
}

export function parseDer(b: Uint8Array, start = 0, end = b.length): Node[] {
  const out: Node[] = [];
  let i = start;
  while (i < end) {
    const tag = b[i++]!;
    let len = b[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) throw new Error("unsupported DER length");
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + b[i++]!;
    }
    if (i + len > end) throw new Error("truncated DER");
    const content = b.subarray(i, i + len);
    const constructed = (tag & 0x20) !== 0;
    out.push({ tag, constructed, content, children: constructed ? parseDer(b, i, i + len) : [] });
    i += len;
  }
  return out;
}

export function oid(n: Node): string {
  const b = n.content;
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

function text(n: Node): string {
  if (n.tag === 0x1e) {
    let s = "";
    for (let i = 0; i + 1 < n.content.length; i += 2) s += String.fromCharCode((n.content[i]! << 8) | n.content[i + 1]!);
    return s;
  }
  return new TextDecoder().decode(n.content);
}

const NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "1.2.840.113549.1.9.1": "E",
};

export function name(n: Node): string {
  return n.children
    .flatMap((set) => set.children)
    .map((atv) => `${NAMES[oid(atv.children[0]!)] ?? oid(atv.children[0]!)}=${text(atv.children[1]!)}`)
    .join(", ");
}

export function time(n: Node): Date {
  const s = new TextDecoder().decode(n.content);
  const full = n.tag === 0x17 ? `${Number(s.slice(0, 2)) < 50 ? "20" : "19"}${s}` : s;
  return new Date(Date.UTC(+full.slice(0, 4), +full.slice(4, 6) - 1, +full.slice(6, 8), +full.slice(8, 10), +full.slice(10, 12), +(full.slice(12, 14) || 0)));
}

const isTime = (n: Node | undefined) => !!n && (n.tag === 0x17 || n.tag === 0x18);

export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
}

export interface CertInfo {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  der: Uint8Array;
}

export function certificate(der: Uint8Array): CertInfo {
  const tbs = parseDer(der)[0]!.children[0]!.children;
  const i = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const serial = hex(tbs[i]!.content).replace(/^00(?=.)/, "");
  return {
    serial,
    issuer: name(tbs[i + 2]!),
    notBefore: time(tbs[i + 3]!.children[0]!),
    notAfter: time(tbs[i + 3]!.children[1]!),
    subject: name(tbs[i + 4]!),
    der,
  };
}

export interface CrlInfo {
  issuer: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  revoked: number;
  crlNumber: string | null;
}

export function crl(der: Uint8Array): CrlInfo {
  const tbs = parseDer(der)[0]!.children[0]!.children;
  let i = tbs[0]!.tag === 0x02 ? 1 : 0;
  i++; // signature algorithm
  const issuer = name(tbs[i++]!);
  const thisUpdate = time(tbs[i++]!);
  const nextUpdate = isTime(tbs[i]) ? time(tbs[i++]!) : null;
  let revoked = 0;
  if (tbs[i]?.tag === 0x30) revoked = tbs[i++]!.children.length;
  let crlNumber: string | null = null;
  if (tbs[i]?.tag === 0xa0) {
    for (const ext of tbs[i]!.children[0]?.children ?? []) {
      if (oid(ext.children[0]!) === "2.5.29.20") {
        const value = parseDer(ext.children[ext.children.length - 1]!.content)[0]!;
        crlNumber = BigInt(`0x${hex(value.content) || "0"}`).toString();
      }
    }
  }
  return { issuer, thisUpdate, nextUpdate, revoked, crlNumber };
}

export function pemBlocks(pem: string): Uint8Array[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => {
    const b64 = block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
    const bin = atob(b64);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  });
}
