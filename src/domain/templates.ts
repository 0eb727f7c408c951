// The profile templates of the configuration, indexed, with the lookups every use case needs.
import type { CertificateTemplateConfig, OpenClmConfig, PolicyConfig, ProfileTemplateConfig } from "../config/types.js";
import { WorkflowTypes, type WorkflowType } from "./enums.js";

export interface ProfileTemplate extends ProfileTemplateConfig {
  /** Version of this definition in the database (bumped when the configuration changes). */
  version: number;
  certificates: CertificateTemplateConfig[];
}

export class TemplateCatalog {
  private readonly byUuid = new Map<string, ProfileTemplate>();

  constructor(config: OpenClmConfig, versions: Map<string, number>) {
    const certs = new Map(config.certificateTemplates.map((c) => [c.name, c]));
    for (const t of config.profileTemplates) {
      this.byUuid.set(t.uuid, {
        ...t,
        version: versions.get(t.uuid) ?? 1,
        certificates: t.certificateTemplates.map((n) => certs.get(n)!),
      });
    }
  }

  get(uuid: string): ProfileTemplate | undefined {
    return this.byUuid.get(uuid);
  }

  all(): ProfileTemplate[] {
    return [...this.byUuid.values()];
  }
}

/** The enabled policy of a workflow on a template, or undefined. */
export function enabledPolicy(t: ProfileTemplate, type: WorkflowType): PolicyConfig | undefined {
  const p = t.policies[type];
  return p?.enabled ? p : undefined;
}

export function isSmartcardTemplate(t: ProfileTemplate): boolean {
  return t.kind === "smartcard" || t.kind === "virtualSmartcard";
}

/** Certificate templates whose keys the client generates (one CSR each, in this order). */
export function clientKeyedCertificates(t: ProfileTemplate): CertificateTemplateConfig[] {
  return t.certificates.filter((c) => !c.serverGeneratesKey);
}

export function serverKeyedCertificates(t: ProfileTemplate): CertificateTemplateConfig[] {
  return t.certificates.filter((c) => c.serverGeneratesKey);
}

export function workflowsOf(t: ProfileTemplate): WorkflowType[] {
  return WorkflowTypes.filter((w) => t.policies[w]?.enabled);
}
