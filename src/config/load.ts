// Turns the YAML form (schema.ts) into the model the server uses (types.ts). A bad file must stop
// start-up with messages an operator can act on without reading code: every problem in the file
// at once, each as `file:line:column: field.path: what is wrong`.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Value } from "@sinclair/typebox/value";
import { ValueErrorType, type ValueError } from "@sinclair/typebox/errors";
import type { TSchema } from "@sinclair/typebox";
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Pair, type YAMLMap } from "yaml";
import type { WorkflowType } from "../domain/enums.js";
import { resolveEku, EKU_OIDS } from "./eku.js";
import { isSecureOrLoopback } from "./urls.js";
import {
  ConfigSchema,
  POLICY_KEYS,
  PolicySchema,
  type CertificateTemplateYaml,
  type ConfigYaml,
  type PolicyYaml,
  type ProfileTemplateYaml,
} from "./schema.js";
import type {
  CertificateTemplateConfig,
  DataCollectionItemConfig,
  OpenClmConfig,
  PolicyConfig,
  ProfileTemplateConfig,
  SmartcardConfigConfig,
  UserSeedConfig,
} from "./types.js";

export interface ConfigProblem {
  source: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Field path as written in the file, e.g. `profileTemplates[0].policies.enroll`; "" for syntax errors. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function formatProblem(p: ConfigProblem): string {
  const where = `${p.source}:${p.line}:${p.column}`;
  return p.path === "" ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}

type Seg = string | number;

/** Workflows that act on a card; a software profile has nothing for them to act on. */
const CARD_ONLY_WORKFLOWS: readonly WorkflowType[] = ["Unblock", "OfflineUnblock", "TemporaryEnroll", "Duplicate", "OnlineUpdate"];

const SUBJECT_PLACEHOLDERS = ["name", "displayName", "email", "upn"];

const EMPTY_GUID = "00000000-0000-0000-0000-000000000000";

/**
 * The expression a data collection item's `regex` becomes: anchored, so the whole value must
 * match, and with the `u` flag. The request checker must use this too, so what the loader
 * accepted is what runs.
 */
export function compileDataItemRegex(regex: string): RegExp {
  return new RegExp(`^(?:${regex})$`, "u");
}

/** The policy of a workflow type, or a disabled one when the template does not configure it. */
export function effectivePolicy(template: ProfileTemplateConfig, type: WorkflowType): PolicyConfig {
  return template.policies[type] ?? disabledPolicy();
}

export function disabledPolicy(): PolicyConfig {
  const p = Value.Default(PolicySchema, {}) as PolicyYaml;
  return { ...p, enabled: false };
}

export function parseConfig(text: string, source: string): OpenClmConfig {
  return new Loader(text, source).load();
}

export function loadConfigFile(path: string): OpenClmConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (e as Error).message;
    throw new ConfigError([{ source: path, line: 1, column: 1, path: "", message: `cannot read configuration: ${reason}` }]);
  }
  return parseConfig(text, path);
}

// Resolved against this module so it works from src/config (tests, tsx) and dist/config alike.
const DEMO_CONFIG_URL = new URL("../../config/demo.yaml", import.meta.url);

export function loadDemoConfig(): OpenClmConfig {
  return loadConfigFile(fileURLToPath(DEMO_CONFIG_URL));
}

/** What an empty file gives: defaults everywhere, no users, no templates. */
export function defaultConfig(): OpenClmConfig {
  return parseConfig("", "(defaults)");
}

class Loader {
  private readonly lines = new LineCounter();
  private doc!: Document.Parsed;
  private readonly problems: ConfigProblem[] = [];

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  load(): OpenClmConfig {
    this.doc = parseDocument(this.text, {
      lineCounter: this.lines,
      prettyErrors: false,
      // `<<: *anchor` lets an operator share one policy block between workflows and override a field.
      merge: true,
      uniqueKeys: true,
      strict: true,
    });
    // After the first real syntax error the parser often reports every later token as
    // unexpected; a few distinct lines are what an operator can use.
    const seenLines = new Set<number>();
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      const { line } = this.lines.linePos(e.pos[0]);
      if (seenLines.has(line) || seenLines.size >= 5) continue;
      seenLines.add(line);
      this.problemAtOffset(e.pos[0], `YAML syntax error: ${e.message.split("\n")[0]}`);
    }
    this.throwIfProblems();
    visit(this.doc, {
      Alias: (_key, node) => {
        if (!node.resolve(this.doc)) {
          this.problemAtOffset(node.range?.[0] ?? 0, `YAML error: *${node.source} refers to no &${node.source} written before it`);
        }
      },
    });
    this.throwIfProblems();

    let data: unknown;
    try {
      data = this.doc.toJS({ maxAliasCount: 10000 });
    } catch (e) {
      this.problemAtOffset(0, `YAML error: ${(e as Error).message.split("\n")[0]}`);
      this.throwIfProblems();
    }
    data ??= {};
    if (!isPlainObject(data)) {
      this.problem([], "the file must be a mapping of settings (key: value lines)");
      this.throwIfProblems();
    }
    dropNulls(data, [], new Set());

    this.validateShape(data as Record<string, unknown>);
    this.throwIfProblems();

    const yaml = Value.Default(ConfigSchema, data) as ConfigYaml;
    if (!Value.Check(ConfigSchema, yaml)) {
      // Only reachable when a default in schema.ts contradicts its own schema.
      throw new Error(`config defaults are invalid: ${Value.Errors(ConfigSchema, yaml).First()?.message}`);
    }
    const config = this.convert(yaml);
    this.throwIfProblems();
    // Aliased YAML nodes come out as shared objects (structuredClone would keep them shared);
    // callers get a plain tree in which changing one policy cannot change another.
    return JSON.parse(JSON.stringify(config)) as OpenClmConfig;
  }

  // ---------------------------------------------------------------- schema validation

  private validateShape(data: Record<string, unknown>): void {
    let errors = [...Value.Errors(ConfigSchema, data)];
    // YAML reads unquoted digits as a number (an admin key of digits only, a name like 2024);
    // where the schema wants a string, the operator meant the text as written.
    let rewritten = false;
    for (const e of errors) {
      if (e.type !== ValueErrorType.String || typeof e.value !== "number") continue;
      const segs = pointerToSegs(e.path, data);
      const node = this.nodeAt(segs).node;
      if (isScalar(node) && node.type === "PLAIN" && typeof node.source === "string") {
        setAt(data, segs, node.source);
        rewritten = true;
      }
    }
    if (rewritten) errors = [...Value.Errors(ConfigSchema, data)];

    const byPath = new Map<string, ValueError>();
    for (const e of errors) {
      const seen = byPath.get(e.path);
      // A missing key also yields a type error for `undefined`; "is required" says it better.
      if (!seen || (e.type === ValueErrorType.ObjectRequiredProperty && seen.type !== e.type)) byPath.set(e.path, e);
    }
    for (const e of byPath.values()) {
      const segs = pointerToSegs(e.path, data);
      this.problem(segs, describeError(e));
    }
  }

  // ---------------------------------------------------------------- cross-checks and conversion

  private convert(y: ConfigYaml): OpenClmConfig {
    this.checkServer(y);
    this.checkCa(y);
    if (y.keyEncryptionKey.env === "" && y.keyEncryptionKey.file === "") {
      this.problem(["keyEncryptionKey"], "needs an environment variable name (env) or a key file (file)");
    }
    if (!y.auth.basic.enabled && !y.auth.oidc) {
      this.problem(["auth", "basic", "enabled"], "with Basic authentication off and no oidc section, nobody can log in");
    }
    if (y.auth.oidc) {
      this.checkUrl(["auth", "oidc", "issuer"], y.auth.oidc.issuer);
      this.checkUrl(["auth", "oidc", "jwksUrl"], y.auth.oidc.jwksUrl);
      const portal = y.auth.oidc.portal;
      if (portal) {
        for (const field of ["authorizationEndpoint", "tokenEndpoint", "redirectUri"] as const) {
          const value = portal[field];
          if (value !== undefined) this.checkSecureUrl(["auth", "oidc", "portal", field], value);
        }
      }
    }

    const users = this.convertUsers(y);
    const certificateTemplates = y.certificateTemplates.map((t, i) => this.convertCertificateTemplate(t, i));
    this.checkUnique(
      y.certificateTemplates.map((t) => t.name),
      (i) => ["certificateTemplates", i, "name"],
      "certificate template name",
    );
    const byName = new Map(y.certificateTemplates.map((t) => [t.name, t]));
    const profileTemplates = y.profileTemplates.map((t, i) => this.convertProfileTemplate(t, i, byName));
    this.checkUnique(
      profileTemplates.map((t) => t.uuid),
      (i) => ["profileTemplates", i, "uuid"],
      "profile template uuid",
    );
    this.checkUnique(
      y.profileTemplates.map((t) => t.name),
      (i) => ["profileTemplates", i, "name"],
      "profile template name",
    );

    const server: OpenClmConfig["server"] = {
      listen: y.server.listen,
      insecureHttp: y.server.insecureHttp,
      bodyLimitBytes: y.server.bodyLimitBytes,
      metricsPublic: y.server.metricsPublic,
    };
    if (y.server.publicBaseUrl !== undefined) server.publicBaseUrl = y.server.publicBaseUrl.replace(/\/+$/, "");
    const tls = y.server.tls;
    if (tls) server.tls = tls.self ? { self: true } : { certFile: tls.certFile ?? "", keyFile: tls.keyFile ?? "" };

    const auth: OpenClmConfig["auth"] = { basic: y.auth.basic, rateLimit: y.auth.rateLimit };
    if (y.auth.oidc) auth.oidc = y.auth.oidc;

    return {
      source: this.source,
      server,
      database: y.database,
      ca: y.ca,
      keyEncryptionKey: y.keyEncryptionKey,
      auth,
      roles: y.roles,
      users,
      certificateTemplates,
      profileTemplates,
    };
  }

  private checkServer(y: ConfigYaml): void {
    const port = Number(y.server.listen.slice(y.server.listen.lastIndexOf(":") + 1));
    if (port > 65535) this.problem(["server", "listen"], `port ${port} is out of range (0–65535)`);
    if (y.server.publicBaseUrl !== undefined) this.checkUrl(["server", "publicBaseUrl"], y.server.publicBaseUrl);
    const tls = y.server.tls;
    if (tls) {
      const files = tls.certFile !== undefined || tls.keyFile !== undefined;
      if (tls.self === false) {
        this.problem(["server", "tls", "self"], "must be true when given; leave tls out to serve plain HTTP");
      } else if (tls.self && files) {
        this.problem(["server", "tls"], "give either self: true or certFile and keyFile, not both");
      } else if (!tls.self) {
        if (tls.certFile === undefined) this.problem(["server", "tls", "certFile"], "is required (or self: true)");
        if (tls.keyFile === undefined) this.problem(["server", "tls", "keyFile"], "is required (or self: true)");
      }
    }
  }

  private checkCa(y: ConfigYaml): void {
    if (y.ca.issuing.validityDays > y.ca.root.validityDays) {
      this.problem(
        ["ca", "issuing", "validityDays"],
        `must not exceed the root's validityDays (${y.ca.root.validityDays}): the issuing CA cannot outlive its root`,
      );
    }
    if (y.ca.crlRefreshMinutes >= y.ca.crlValidityHours * 60) {
      this.problem(
        ["ca", "crlRefreshMinutes"],
        `must be shorter than crlValidityHours (${y.ca.crlValidityHours} h), or clients see an expired CRL`,
      );
    }
  }

  /** The URL when it is an http(s) URL, else a problem reported and undefined. */
  private checkUrl(segs: Seg[], value: string): URL | undefined {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (url && (url.protocol === "https:" || url.protocol === "http:")) return url;
    this.problem(segs, `must be an http(s) URL (got ${JSON.stringify(value)})`);
    return undefined;
  }

  /** An http(s) URL that carries codes or tokens: https unless it stays on this host. */
  private checkSecureUrl(segs: Seg[], value: string): void {
    const url = this.checkUrl(segs, value);
    if (!url) return;
    if (!isSecureOrLoopback(url)) this.problem(segs, `must be an https URL (plain http only on loopback; got ${url.protocol}//${url.host})`);
    else if (url.hash !== "") this.problem(segs, "must not have a #fragment");
  }

  private convertUsers(y: ConfigYaml): UserSeedConfig[] {
    this.checkUnique(
      y.users.map((u) => u.name),
      (i) => ["users", i, "name"],
      "user name",
    );
    return y.users.map((u, i) => {
      for (const field of ["email", "upn"] as const) {
        if (u[field] !== "" && !/^[^@\s]+@[^@\s]+$/.test(u[field])) {
          this.problem(["users", i, field], `must look like name@domain (got ${JSON.stringify(u[field])})`);
        }
      }
      u.groups.forEach((g, j) => {
        if (/^(group|user):/.test(g)) {
          this.problem(["users", i, "groups", j], `write the bare group name ("${g.replace(/^\w+:/, "")}"); the group: prefix is for permission lists`);
        }
      });
      return {
        name: u.name,
        password: u.password,
        displayName: u.displayName ?? u.name,
        email: u.email,
        upn: u.upn,
        groups: u.groups,
      };
    });
  }

  private convertCertificateTemplate(t: CertificateTemplateYaml, i: number): CertificateTemplateConfig {
    const at = (...rest: Seg[]): Seg[] => ["certificateTemplates", i, ...rest];

    const allowedSizes = t.keyAlgorithm === "RSA" ? [2048, 3072, 4096] : t.keyAlgorithm === "ECDSA_P256" ? [256] : [384];
    const keySize = t.keySize ?? allowedSizes[0]!;
    if (!allowedSizes.includes(keySize)) {
      this.problem(at("keySize"), `must be ${orList(allowedSizes.map(String))} for keyAlgorithm ${t.keyAlgorithm} (got ${keySize})`);
    }

    if (t.keyUsages > 7 && t.keyUsages !== 0xffffff) {
      this.problem(at("keyUsages"), `must be a sum of 1 (decryption), 2 (signing), 4 (key agreement), or 16777215 (all) (got ${t.keyUsages})`);
    }

    const extendedKeyUsages: string[] = [];
    t.extendedKeyUsages.forEach((name, j) => {
      const oid = resolveEku(name);
      if (oid === undefined) {
        this.problem(at("extendedKeyUsages", j), `unknown extended key usage ${JSON.stringify(name)}; use a dotted OID or one of ${Object.keys(EKU_OIDS).join(", ")}`);
      } else if (extendedKeyUsages.includes(oid)) {
        this.problem(at("extendedKeyUsages", j), `${JSON.stringify(name)} repeats ${oid}`);
      } else {
        extendedKeyUsages.push(oid);
      }
    });

    const subjectProblem = checkSubject(t.subject);
    if (subjectProblem) this.problem(at("subject"), subjectProblem);

    if (t.archiveKey && !t.serverGeneratesKey) {
      this.problem(at("archiveKey"), "needs serverGeneratesKey: true (the server never holds keys the client generates)");
    }

    return {
      name: t.name,
      friendlyName: t.friendlyName,
      keyAlgorithm: t.keyAlgorithm,
      keySize,
      hashAlgorithms: t.hashAlgorithms,
      keyUsages: t.keyUsages,
      extendedKeyUsages,
      subject: t.subject,
      subjectAltNames: t.subjectAltNames,
      validityDays: t.validityDays,
      keyStorageProviders: t.keyStorageProviders,
      exportable: t.exportable,
      keyProtectionLevel: t.keyProtectionLevel,
      serverGeneratesKey: t.serverGeneratesKey,
      archiveKey: t.archiveKey,
    };
  }

  private convertProfileTemplate(
    t: ProfileTemplateYaml,
    i: number,
    certificateTemplates: Map<string, CertificateTemplateYaml>,
  ): ProfileTemplateConfig {
    const at = (...rest: Seg[]): Seg[] => ["profileTemplates", i, ...rest];

    const uuid = t.uuid.replace(/^\{|\}$/g, "").toLowerCase();
    if (uuid === EMPTY_GUID) this.problem(at("uuid"), "must not be the empty GUID");

    const used: CertificateTemplateYaml[] = [];
    t.certificateTemplates.forEach((name, j) => {
      const ct = certificateTemplates.get(name);
      if (!ct) {
        const near = [...certificateTemplates.keys()].find((k) => k.toLowerCase() === name.toLowerCase());
        const known = certificateTemplates.size ? `; defined: ${[...certificateTemplates.keys()].join(", ")}` : "; certificateTemplates defines none";
        this.problem(
          at("certificateTemplates", j),
          `unknown certificate template ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : known}`,
        );
        return;
      }
      used.push(ct);
      if (t.kind === "software" && !ct.serverGeneratesKey) {
        this.problem(
          at("certificateTemplates", j),
          `${JSON.stringify(name)} has client-generated keys; a software profile can only hold templates with serverGeneratesKey: true`,
        );
      }
    });

    let smartcard: SmartcardConfigConfig | undefined;
    if (t.kind === "software") {
      if (t.smartcard) this.problem(at("smartcard"), "is only for kinds smartcard and virtualSmartcard");
    } else if (!t.smartcard) {
      this.problem(at("smartcard"), `is required for kind ${t.kind} (at least defaultAdminKeyHex)`);
    } else {
      const sc = t.smartcard;
      if (t.kind === "smartcard" && sc.createVirtualSmartcard === true) {
        this.problem(at("smartcard", "createVirtualSmartcard"), "is only for kind virtualSmartcard");
      }
      for (const which of ["userPinPolicy", "adminPinPolicy"] as const) {
        if (sc[which].minLength > sc[which].maxLength) {
          this.problem(at("smartcard", which, "minLength"), `must not exceed maxLength (${sc[which].maxLength})`);
        }
      }
      if (sc.maximumNumberOfCertificates < t.certificateTemplates.length) {
        this.problem(
          at("smartcard", "maximumNumberOfCertificates"),
          `is ${sc.maximumNumberOfCertificates}, fewer than the ${t.certificateTemplates.length} certificate templates of this profile`,
        );
      }
      smartcard = {
        ...sc,
        defaultAdminKeyHex: sc.defaultAdminKeyHex.toUpperCase(),
        createVirtualSmartcard: sc.createVirtualSmartcard ?? t.kind === "virtualSmartcard",
      };
    }

    const policies: Partial<Record<WorkflowType, PolicyConfig>> = {};
    for (const [key, p] of Object.entries(t.policies) as [keyof typeof POLICY_KEYS, PolicyYaml | undefined][]) {
      if (!p) continue;
      const type = POLICY_KEYS[key];
      const pat = (...rest: Seg[]): Seg[] => at("policies", key, ...rest);
      if (policies[type]) {
        this.problem(pat(), "temporaryEnroll and temporaryCards are the same policy; keep one");
        continue;
      }
      policies[type] = this.convertPolicy(p, type, t, used, pat);
    }

    const result: ProfileTemplateConfig = {
      uuid,
      name: t.name,
      description: t.description,
      kind: t.kind,
      certificateTemplates: t.certificateTemplates,
      temporaryValidityDays: t.temporaryValidityDays,
      policies,
    };
    if (smartcard) result.smartcard = smartcard;
    return result;
  }

  private convertPolicy(
    p: PolicyYaml,
    type: WorkflowType,
    t: ProfileTemplateYaml,
    used: CertificateTemplateYaml[],
    at: (...rest: Seg[]) => Seg[],
  ): PolicyConfig {
    if (p.enabled) {
      if (t.kind === "software" && CARD_ONLY_WORKFLOWS.includes(type)) {
        this.problem(at(), `${type} acts on smart cards; a software profile template cannot use it`);
      }
      if ((type === "Recover" || type === "RecoverOnBehalf") && !used.some((c) => c.archiveKey)) {
        this.problem(at(), `${type} needs a certificate template with archiveKey: true; this profile archives no keys`);
      }
    }
    if (p.approvalsNeeded > 0 && p.authorizedApprover.length === 0) {
      this.problem(at("approvalsNeeded"), `is ${p.approvalsNeeded} but authorizedApprover is empty, so no request could ever be approved`);
    }
    if (p.enrollAgentRequired && p.authorizedEnrollmentAgent.length === 0) {
      this.problem(at("enrollAgentRequired"), "is true but authorizedEnrollmentAgent is empty");
    }
    const names = new Map<string, number>();
    p.dataCollection.forEach((item, j) => {
      const key = item.name.toLowerCase();
      const first = names.get(key);
      if (first !== undefined) {
        this.problem(at("dataCollection", j, "name"), `duplicate data item ${JSON.stringify(item.name)} (also dataCollection[${first}])`);
      } else {
        names.set(key, j);
      }
      if (item.minLength > item.maxLength) {
        this.problem(at("dataCollection", j, "minLength"), `must not exceed maxLength (${item.maxLength})`);
      }
      if (item.regex !== undefined) {
        try {
          compileDataItemRegex(item.regex);
        } catch (e) {
          this.problem(at("dataCollection", j, "regex"), `is not a valid regular expression: ${(e as Error).message}`);
        }
      }
    });
    return {
      enabled: p.enabled,
      selfServiceEnabled: p.selfServiceEnabled,
      approvalsNeeded: p.approvalsNeeded,
      authorizedInitiator: p.authorizedInitiator,
      authorizedApprover: p.authorizedApprover,
      authorizedEnrollmentAgent: p.authorizedEnrollmentAgent,
      authorizedHelpdesk: p.authorizedHelpdesk,
      enrollAgentRequired: p.enrollAgentRequired,
      collectComments: p.collectComments,
      collectRequestPriority: p.collectRequestPriority,
      defaultRequestPriority: p.defaultRequestPriority,
      oneTimePasswordPolicy: p.oneTimePasswordPolicy,
      personalization: p.personalization,
      documents: p.documents,
      dataCollection: p.dataCollection.map((d) => {
        const item: DataCollectionItemConfig = {
          name: d.name,
          description: d.description,
          required: d.required,
          type: d.type,
          minLength: d.minLength,
          maxLength: d.maxLength,
        };
        if (d.regex !== undefined) item.regex = d.regex;
        return item;
      }),
    };
  }

  private checkUnique(values: string[], at: (i: number) => Seg[], what: string): void {
    const first = new Map<string, number>();
    values.forEach((v, i) => {
      const key = v.toLowerCase();
      const j = first.get(key);
      if (j === undefined) {
        first.set(key, i);
        return;
      }
      const other = this.position(at(j));
      this.problem(at(i), `duplicate ${what} ${JSON.stringify(v)} (first at line ${other.line})`);
    });
  }

  // ---------------------------------------------------------------- positions and problems

  private problem(segs: Seg[], message: string): void {
    const pos = this.position(segs);
    this.problems.push({ source: this.source, line: pos.line, column: pos.column, path: formatPath(segs), message });
  }

  private problemAtOffset(offset: number, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    this.problems.push({ source: this.source, line, column: col, path: "", message });
  }

  private throwIfProblems(): void {
    if (this.problems.length === 0) return;
    const sorted = [...this.problems].sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(sorted);
  }

  /**
   * Where a field is written: its key for a mapping entry, the item for a list entry. A field
   * that is absent (required, or defaulted and then found wrong) points at the nearest written
   * ancestor.
   */
  private position(segs: Seg[]): { line: number; column: number } {
    const { line, col } = this.lines.linePos(this.nodeAt(segs).offset);
    return { line, column: col };
  }

  private nodeAt(segs: Seg[]): { node: unknown; offset: number } {
    let node: unknown = this.doc.contents;
    let offset = startOf(node) ?? 0;
    for (const seg of segs) {
      node = this.deref(node);
      if (isMap(node)) {
        const pair = this.findPair(node, String(seg));
        if (!pair) return { node: undefined, offset };
        offset = startOf(pair.key) ?? offset;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) return { node: undefined, offset };
        offset = startOf(item) ?? offset;
        node = item;
      } else {
        return { node: undefined, offset };
      }
    }
    return { node: this.deref(node), offset };
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  private findPair(map: YAMLMap, key: string): Pair | undefined {
    const direct = map.items.find((p) => keyText(p.key) === key);
    if (direct) return direct;
    // Keys brought in by `<<: *anchor` live in the anchored mapping.
    for (const p of map.items) {
      if (!(isScalar(p.key) && typeof p.key.value === "symbol")) continue;
      const sources = this.deref(p.value);
      for (const src of isSeq(sources) ? sources.items.map((s) => this.deref(s)) : [sources]) {
        if (isMap(src)) {
          const found = this.findPair(src, key);
          if (found) return found;
        }
      }
    }
    return undefined;
  }
}

// ---------------------------------------------------------------- helpers

function startOf(node: unknown): number | undefined {
  const range = (node as { range?: unknown } | null | undefined)?.range;
  return Array.isArray(range) && typeof range[0] === "number" ? range[0] : undefined;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * `key:` with nothing after it is YAML's null; an operator means "not set", so the default
 * applies. Under `policies`, though, `renew:` alone means "enable renew with the defaults".
 */
function dropNulls(v: unknown, segs: Seg[], seen: Set<unknown>): void {
  if (typeof v !== "object" || v === null || seen.has(v)) return;
  seen.add(v);
  if (Array.isArray(v)) {
    v.forEach((item, i) => dropNulls(item, [...segs, i], seen));
    return;
  }
  const obj = v as Record<string, unknown>;
  const isPolicies = segs.length === 3 && segs[0] === "profileTemplates" && segs[2] === "policies";
  for (const key of Object.keys(obj)) {
    if (obj[key] === null || obj[key] === undefined) {
      if (isPolicies) obj[key] = {};
      else delete obj[key];
    } else {
      dropNulls(obj[key], [...segs, key], seen);
    }
  }
}

function pointerToSegs(pointer: string, data: unknown): Seg[] {
  if (pointer === "") return [];
  const segs: Seg[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split("/")) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    const seg: Seg = Array.isArray(cur) && /^\d+$/.test(part) ? Number(part) : part;
    segs.push(seg);
    cur = typeof cur === "object" && cur !== null ? (cur as Record<string, unknown>)[String(seg)] : undefined;
  }
  return segs;
}

function setAt(data: unknown, segs: Seg[], value: unknown): void {
  let cur = data as Record<string, unknown>;
  for (const seg of segs.slice(0, -1)) cur = cur[String(seg)] as Record<string, unknown>;
  cur[String(segs[segs.length - 1])] = value;
}

function formatPath(segs: Seg[]): string {
  let out = "";
  for (const seg of segs) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === "" && segs.length === 0 ? "(root)" : out;
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

function checkSubject(subject: string): string | undefined {
  const stripped = subject.replace(/\{([^{}]*)\}/g, (_m, name: string) => (SUBJECT_PLACEHOLDERS.includes(name) ? "" : `\u0000${name}`));
  const unknown = /\u0000([^\u0000{}]*)/.exec(stripped);
  if (unknown) {
    return `unknown placeholder {${unknown[1]}}; use ${SUBJECT_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}`;
  }
  if (/[{}]/.test(stripped)) return "has an unbalanced { or }";
  return undefined;
}

// ---------------------------------------------------------------- schema error wording

interface Annotated {
  expect?: string;
  secret?: boolean;
}

function describeError(e: ValueError): string {
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return "is required";
    case ValueErrorType.ObjectAdditionalProperties:
      return unknownKeyMessage(e);
    case ValueErrorType.ArrayUniqueItems:
      return "lists the same value more than once";
    case ValueErrorType.StringMaxLength:
      return `must be at most ${(e.schema as { maxLength?: number }).maxLength} characters long`;
    case ValueErrorType.ArrayMinItems:
      return `must list at least ${(e.schema as { minItems?: number }).minItems} item(s)`;
    default:
      return `must be ${describeSchema(e.schema)}${gotSuffix(e)}`;
  }
}

function unknownKeyMessage(e: ValueError): string {
  const key = e.path.slice(e.path.lastIndexOf("/") + 1).replace(/~1/g, "/").replace(/~0/g, "~");
  const known = Object.keys((e.schema as { properties?: Record<string, unknown> }).properties ?? {});
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase()) ?? known.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return near ? `unknown key (did you mean ${near}?)` : `unknown key; expected one of ${known.join(", ")}`;
}

function gotSuffix(e: ValueError): string {
  if ((e.schema as Annotated).secret) return "";
  const v = e.value;
  if (v === undefined) return "";
  if (v === null) return " (got nothing)";
  if (Array.isArray(v)) return " (got a list)";
  if (typeof v === "object") {
    // `- group: admins` is a one-entry mapping in YAML, not the string "group: admins".
    const entries = Object.entries(v as Record<string, unknown>);
    const [k, inner] = entries[0] ?? [];
    if (entries.length === 1 && e.schema.type === "string" && (inner === null || typeof inner !== "object")) {
      const written = inner === null || inner === undefined ? `${k}:` : `${k}: ${String(inner)}`;
      return ` (got the mapping "${written}": remove the space after the colon or quote the value)`;
    }
    return " (got a mapping)";
  }
  const text = JSON.stringify(v);
  return ` (got ${text.length > 60 ? `${text.slice(0, 57)}...` : text})`;
}

function describeSchema(schema: TSchema): string {
  const s = schema as TSchema & Annotated & Record<string, unknown>;
  if (s.expect) return s.expect;
  if (Array.isArray(s.anyOf) && s.anyOf.every((o: { const?: unknown }) => "const" in o)) {
    return `one of ${s.anyOf.map((o: { const: unknown }) => String(o.const)).join(", ")}`;
  }
  if ("const" in s) return JSON.stringify(s.const);
  switch (s.type) {
    case "boolean":
      return "true or false";
    case "integer":
    case "number": {
      const noun = s.type === "integer" ? "an integer" : "a number";
      const min = s.minimum as number | undefined;
      const max = s.maximum as number | undefined;
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
      if (min !== undefined) return `${noun} >= ${min}`;
      if (max !== undefined) return `${noun} <= ${max}`;
      return noun;
    }
    case "string": {
      const min = s.minLength as number | undefined;
      const max = s.maxLength as number | undefined;
      let text = min !== undefined && min > 0 ? "a non-empty string" : "a string";
      if (max !== undefined) text += ` of at most ${max} characters`;
      if (typeof s.pattern === "string") text += ` matching ${s.pattern}`;
      return text;
    }
    case "array":
      return "a list";
    case "object":
      return "a mapping (key: value lines)";
    default:
      return "valid";
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
