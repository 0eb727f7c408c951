// The peer: Debian's CFSSL (`apt-get install -y golang-cfssl`), a CA made with
// `cfssl gencert -initca` with the same key type as OpenCLM's issuing CA, served by
// `cfssl serve` on 127.0.0.1; the load generator posts the same CSRs to /api/v1/cfssl/sign.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, spawnLogged, type Running } from "./processes.js";

export function cfsslBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/usr/local/bin"])) {
    try {
      const path = join(dir, "cfssl");
      execFileSync(path, ["version"], { stdio: "pipe" });
      return path;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

export function cfsslVersion(bin: string): string {
  return /Version:\s*(\S+)/.exec(execFileSync(bin, ["version"]).toString())?.[1] ?? "unknown";
}

export type CaKeyType = { algo: "rsa"; size: number } | { algo: "ecdsa"; size: number };

export async function startCfssl(bin: string, dir: string, key: CaKeyType): Promise<{ running: Running; url: string }> {
  writeFileSync(join(dir, "ca-csr.json"), JSON.stringify({ CN: "CFSSL Bench CA", key, names: [{ O: "OpenCLM bench" }] }));
  const out = JSON.parse(execFileSync(bin, ["gencert", "-initca", join(dir, "ca-csr.json")], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }).toString()) as {
    cert: string;
    key: string;
  };
  writeFileSync(join(dir, "ca.pem"), out.cert);
  writeFileSync(join(dir, "ca-key.pem"), out.key, { mode: 0o600 });
  // The default profile signs client-authentication certificates for a year, like OpenCLM's VPN template.
  writeFileSync(
    join(dir, "signing.json"),
    JSON.stringify({ signing: { default: { expiry: "8760h", usages: ["digital signature", "key encipherment", "client auth"] } } }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { running } = await spawnLogged({
    name: "cfssl serve",
    command: bin,
    args: ["serve", "-address", "127.0.0.1", "-port", String(port), "-ca", join(dir, "ca.pem"), "-ca-key", join(dir, "ca-key.pem"), "-config", join(dir, "signing.json")],
    logFile: join(dir, "cfssl.log"),
    ready: async () => {
      try {
        const r = await fetch(`${url}/api/v1/cfssl/info`, { method: "POST", body: "{}" });
        await r.text();
        return true;
      } catch {
        return false;
      }
    },
    timeoutMs: 30_000,
  });
  return { running, url };
}
