// Everything a use case needs, assembled once at start (cli/serve.ts) and passed to each service.
import type { OpenClmConfig } from "../../config/types.js";
import type { Store } from "../../store/store.js";
import type { Permissions } from "../permissions.js";
import type { TemplateCatalog } from "../templates.js";
import type { CertificateAuthority } from "./ca.js";
import type { MasterSecrets } from "./master-secrets.js";

export interface AppContext {
  config: OpenClmConfig;
  store: Store;
  catalog: TemplateCatalog;
  permissions: Permissions;
  kek: Buffer;
  ca: CertificateAuthority;
  masterSecrets: MasterSecrets;
  /** Base URL written into certificates (CRL distribution point, CA issuers). */
  publicBaseUrl: string;
}

/** Who is acting and under which correlation id, for permission checks and the audit trail. */
export interface Actor {
  caller: import("../caller.js").Caller;
  correlationId: string;
}
