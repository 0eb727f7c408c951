// Assembles a running server from a configuration: data dir, KEK, database, CA, templates, HTTP.
import "reflect-metadata";
import { createHash } from "node:crypto";
import { makeDirectory } from "./sync-directory.js";
import type { Logger } from "pino";
import { serverLogger } from "./logging.js";
import type { OpenClmConfig } from "./config/types.js";
import { loadKek } from "./crypto/envelope.js";
import { openStore } from "./store/open.js";
import type { Store } from "./store/store.js";
import { TemplateCatalog } from "./domain/templates.js";
import { Permissions } from "./domain/permissions.js";
import { CertificateAuthority } from "./domain/services/ca.js";
import { MasterSecrets } from "./domain/services/master-secrets.js";
import { seedUsers } from "./domain/services/users.js";
import type { AppContext } from "./domain/services/context.js";
import { buildApp, type App } from "./http/app.js";
import { loadTlsFiles, renewPeriodically, selfIssuer, serverNames } from "./server-tls.js";
import { linkPendingAudit } from "./domain/audit.js";

const AUDIT_SWEEP_MS = 2_000;

export interface ServerOptions {
  config: OpenClmConfig;
  dataDir: string;
  listen: { host: string; port: number };
  logger?: Logger;
  /** PostgreSQL schema to use (tests). */
  pgSchema?: string;
}

export interface RunningServer {
  app: App;
  ctx: AppContext;
  url: string;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const logger = opts.logger ?? serverLogger(process.env.OPENCLM_LOG_LEVEL ?? "info");
  // Unusable certificate files stop start-up before anything is created.
  const tlsFiles = opts.config.server.tls && !("self" in opts.config.server.tls) ? loadTlsFiles(opts.config.server.tls.certFile, opts.config.server.tls.keyFile) : undefined;
  makeDirectory(opts.dataDir, 0o700);
  const kek = await loadKek(opts.config.keyEncryptionKey, opts.dataDir);
  const store = await openStore({
    url: opts.config.database,
    dataDir: opts.dataDir,
    pgSchema: opts.pgSchema,
    onBackgroundError: (err) => logger.warn({ err }, "database connection lost (the pool reconnects)"),
    listenForDirectoryChanges: true,
  });
  try {
    // Processes starting together on one PostgreSQL database take turns, so the CA, template
    // versions, configured users and first master secrets are created once and read by the rest.
    const { catalog, ca, masterSecrets } = await store.exclusive("startup", async () => {
      const versions = await syncTemplateVersions(store, opts.config);
      const catalog = new TemplateCatalog(opts.config, versions);
      const ca = await CertificateAuthority.open(store, kek, opts.config.ca);
      await seedUsers(store, opts.config.users);
      const masterSecrets = new MasterSecrets(store, kek);
      for (const t of catalog.all()) if (t.smartcard?.diversifyAdminKey) await masterSecrets.current(t.uuid);
      return { catalog, ca, masterSecrets };
    });
    const tls = opts.config.server.tls;
    const scheme = tls ? "https" : "http";
    const publicBaseUrl = opts.config.server.publicBaseUrl ?? `${scheme}://${hostForUrl(opts.listen.host)}:${opts.listen.port}`;
    const ctx: AppContext = {
      config: opts.config,
      store,
      catalog,
      permissions: new Permissions(opts.config.roles),
      kek,
      ca,
      masterSecrets,
      publicBaseUrl,
    };
    await linkPendingAudit(store);
    await ca.currentCrl();
    const selfIssue = tls && "self" in tls ? selfIssuer(ca, store, serverNames(opts.listen.host, opts.config.server.publicBaseUrl)) : undefined;
    const https = selfIssue ? await selfIssue() : tlsFiles;
    const app = await buildApp(ctx, logger, { https });
    await app.listen({ host: opts.listen.host, port: opts.listen.port });
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : opts.listen.port;
    if (!opts.config.server.publicBaseUrl) ctx.publicBaseUrl = `${scheme}://${hostForUrl(opts.listen.host)}:${port}`;
    const crlTimer = setInterval(() => {
      ca.currentCrl().catch((err) => logger.error({ err }, "scheduled CRL publication failed"));
    }, Math.max(60_000, (opts.config.ca.crlRefreshMinutes * 60_000) / 2));
    crlTimer.unref();
    // Audit records a stopped or killed process wrote but had not linked into the chain yet.
    const auditTimer = setInterval(() => {
      linkPendingAudit(store).catch((err) => logger.error({ err }, "linking audit records failed"));
    }, AUDIT_SWEEP_MS);
    auditTimer.unref();
    const tlsTimer = selfIssue && renewPeriodically(selfIssue, app.server, logger);
    return {
      app,
      ctx,
      url: `${scheme}://${hostForUrl(opts.listen.host)}:${port}`,
      async close() {
        clearInterval(crlTimer);
        clearInterval(auditTimer);
        clearInterval(tlsTimer);
        await app.close();
        await ca.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Stores each profile template's definition as a version; a changed definition in the
 * configuration becomes the next version, so cards keep the version they were issued under.
 */
async function syncTemplateVersions(store: Store, config: OpenClmConfig): Promise<Map<string, number>> {
  const versions = new Map<string, number>();
  const certs = new Map(config.certificateTemplates.map((c) => [c.name, c]));
  for (const t of config.profileTemplates) {
    const definition = JSON.stringify({ ...t, certificates: t.certificateTemplates.map((n) => certs.get(n)) });
    const hash = createHash("sha256").update(definition).digest("hex");
    const latest = await store.latestTemplateVersion(t.uuid);
    if (latest?.hash === hash) {
      versions.set(t.uuid, latest.version);
      continue;
    }
    const version = (latest?.version ?? 0) + 1;
    await store.insertTemplateVersion({ uuid: t.uuid, version, name: t.name, hash, definition, created_at: new Date().toISOString() });
    versions.set(t.uuid, (await store.latestTemplateVersion(t.uuid))!.version);
  }
  return versions;
}
