import type { Command } from "commander";
import cluster from "node:cluster";
import { dirname, resolve } from "node:path";
import { homedir } from "node:os";
import type { OpenClmConfig } from "../config/types.js";
import { ConfigError, defaultConfig, loadConfigFile, loadDemoConfig } from "../config/load.js";
import { isPostgresUrl } from "../store/open.js";
import { isLoopbackHost } from "../config/urls.js";
import type { ClusterMessage } from "./serve-cluster.js";

interface ServeOptions {
  demo?: boolean;
  config?: string;
  dataDir?: string;
  listen?: string;
  database?: string;
  insecureHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsSelf?: boolean;
  workers?: string;
}

/** The options that name a server's configuration and database (serve and admin share them). */
export interface ConfigOptions {
  demo?: boolean;
  config?: string;
  database?: string;
}

/**
 * The configuration `--config`, `--demo` and `--database` select, resolved the same way for
 * `serve` and `admin`; a bad file exits with its problems.
 */
export function resolveConfig(opts: ConfigOptions): OpenClmConfig {
  let config: OpenClmConfig;
  try {
    config = opts.config ? loadConfigFile(opts.config) : opts.demo ? loadDemoConfig() : defaultConfig();
    if (opts.config && opts.demo) {
      const demo = loadDemoConfig();
      config = { ...config, users: [...demo.users, ...config.users] };
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  if (opts.database) config = { ...config, database: opts.database };
  // Certificate files named in a configuration file are relative to that file.
  const tls = config.server.tls;
  if (opts.config && tls && !("self" in tls)) {
    const base = dirname(resolve(opts.config));
    config = { ...config, server: { ...config.server, tls: { certFile: resolve(base, tls.certFile), keyFile: resolve(base, tls.keyFile) } } };
  }
  return config;
}

/** `--tls-cert/--tls-key` or `--tls-self` over the configuration's `server.tls`. */
function tlsFromOptions(opts: ServeOptions): OpenClmConfig["server"]["tls"] | undefined {
  const files = opts.tlsCert !== undefined || opts.tlsKey !== undefined;
  if (files && opts.tlsSelf) throw new Error("give either --tls-self or --tls-cert and --tls-key, not both");
  if (files) {
    if (!opts.tlsCert || !opts.tlsKey) throw new Error("--tls-cert and --tls-key go together");
    return { certFile: resolve(opts.tlsCert), keyFile: resolve(opts.tlsKey) };
  }
  return opts.tlsSelf ? { self: true } : undefined;
}

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the CM REST API server")
    .option("--demo", "load the demo configuration (templates and users alice, bob, carol, dave)")
    .option("--config <file>", "YAML configuration file")
    .option("--data-dir <dir>", "where the database, key-encryption key and CA live", resolve(homedir(), ".openclm", "server"))
    .option("--listen <host:port>", "address to listen on (port 0 picks a free one)")
    .option("--database <url>", "sqlite:<path> or postgres://… (overrides the configuration)")
    .option("--insecure-http", "allow plain HTTP on a non-loopback address")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain)")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option("--tls-self", "serve HTTPS with a certificate issued by the server's own CA for its host names")
    .option("--workers <n>", "server processes sharing the listening socket (PostgreSQL only)", "1")
    .action(async (opts: ServeOptions) => {
      let config = resolveConfig(opts);
      try {
        const tls = tlsFromOptions(opts);
        if (tls) config = { ...config, server: { ...config.server, tls } };
      } catch (e) {
        process.stderr.write(`openclm serve: ${(e as Error).message}\n`);
        process.exit(1);
      }
      if (opts.insecureHttp) config = { ...config, server: { ...config.server, insecureHttp: true } };
      const listen = parseListen(opts.listen ?? config.server.listen);
      if (opts.demo && !isLoopbackHost(listen.host)) {
        process.stderr.write("the demo configuration (users with published passwords) only listens on a loopback address\n");
        process.exit(1);
      }
      if (!isLoopbackHost(listen.host) && !config.server.tls && !config.server.insecureHttp) {
        process.stderr.write(`refusing to listen on ${listen.host} without TLS; use a loopback address, configure TLS, or pass --insecure-http\n`);
        process.exit(1);
      }
      const workers = Number(opts.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
        process.stderr.write("--workers: expected a whole number from 1 to 64\n");
        process.exit(1);
      }
      if (workers > 1 && !isPostgresUrl(config.database)) {
        process.stderr.write("--workers needs a PostgreSQL database (--database postgres://…): SQLite has one server process per database file\n");
        process.exit(1);
      }
      if (workers > 1 && cluster.isPrimary) {
        const { runCluster } = await import("./serve-cluster.js");
        await runCluster(workers, config, resolve(opts.dataDir!));
        return;
      }
      const { startServer } = await import("../server.js");
      let server: Awaited<ReturnType<typeof startServer>>;
      try {
        server = await startServer({ config, dataDir: resolve(opts.dataDir!), listen });
      } catch (e) {
        process.stderr.write(`openclm: cannot start: ${(e as Error).message}\n`);
        process.exit(1);
      }
      if (cluster.isWorker) process.send?.({ type: "listening", url: server.url } satisfies ClusterMessage);
      else process.stdout.write(`listening on ${server.url}\n`);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.app.log.info({ signal }, "shutting down");
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        await server.close();
        process.exit(0);
      };
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGINT", () => void stop("SIGINT"));
    });
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  if (!m) throw new Error(`--listen: expected host:port, got "${text}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`--listen: port ${port} out of range`);
  return { host: m[1] || "127.0.0.1", port };
}
