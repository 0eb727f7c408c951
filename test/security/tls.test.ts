// Acceptance (issue 5): HTTPS with a certificate from files (--tls-cert/--tls-key) and with one
// issued by the server's own CA (--tls-self), checked with `curl --cacert`.
import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { describe, expect, it } from "vitest";
import { cli, serve } from "./support.js";

const curl = (args: string[]) => spawnSync("curl", ["-sS", "--max-time", "20", ...args], { encoding: "utf8" });

function peerCertificate(url: string): Promise<X509Certificate> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false, servername: "localhost" }, () => {
      resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw));
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("HTTPS", () => {
  it("--tls-self serves a server certificate from the own CA that curl verifies against the server's chain", async () => {
    const server = await serve(["--demo", "--tls-self"]);
    try {
      expect(server.line).toMatch(/^listening on https:\/\/127\.0\.0\.1:\d+$/);
      const dir = mkdtempSync(join(tmpdir(), "openclm-tls-ca-"));
      // First contact: fetch the chain once (as an operator would, out of band), then trust it.
      const chain = curl(["--insecure", `${server.url}/CertificateManagement/api/v1.0/ca/certificates`]).stdout;
      const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
      writeFileSync(join(dir, "chain.pem"), chain);
      writeFileSync(join(dir, "root.pem"), blocks[1]!);
      const port = new URL(server.url).port;
      for (const [cacert, host] of [["chain.pem", "127.0.0.1"], ["root.pem", "127.0.0.1"], ["root.pem", "localhost"]]) {
        const r = curl(["--cacert", join(dir, cacert!), `https://${host}:${port}/healthz`]);
        expect(r.stderr, `${cacert} ${host}`).toBe("");
        expect(JSON.parse(r.stdout)).toEqual({ Status: "ok" });
      }
      const api = curl(["--cacert", join(dir, "root.pem"), "-u", "alice:alice", `${server.url}/CertificateManagement/api/v1.0/requests`]);
      expect(api.stdout).toBe("[]");
      // Without the chain, curl refuses the certificate.
      expect(curl([`${server.url}/healthz`]).status).not.toBe(0);

      const leaf = await peerCertificate(server.url);
      expect(leaf.checkIssued(new X509Certificate(blocks[0]!))).toBe(true);
      expect(leaf.subjectAltName).toContain("DNS:localhost");
      expect(leaf.subjectAltName).toContain("IP Address:127.0.0.1");
      expect(leaf.keyUsage ?? []).toEqual(["1.3.6.1.5.5.7.3.1"]);
      expect(new Date(leaf.validTo).getTime() - Date.now()).toBeGreaterThan(20 * 86_400_000);
      const text = execFileSync("openssl", ["x509", "-noout", "-text"], { input: leaf.toString() }).toString();
      expect(text).toMatch(/TLS Web Server Authentication/);
    } finally {
      await server.stop();
    }
  });

  it("--tls-cert and --tls-key serve the operator's certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openclm-tls-files-"));
    const ssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    ssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Operator Test CA"]);
    ssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
    writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    ssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf"]);

    const server = await serve(["--demo", "--tls-cert", join(dir, "server.pem"), "--tls-key", join(dir, "server.key")]);
    try {
      expect(server.line).toMatch(/^listening on https:\/\/127\.0\.0\.1:\d+$/);
      const r = curl(["--cacert", join(dir, "ca.pem"), `${server.url}/healthz`]);
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toEqual({ Status: "ok" });
      expect((await peerCertificate(server.url)).subject).toContain("CN=localhost");
    } finally {
      await server.stop();
    }

    // A key of another certificate, a half-given pair, and both options at once are refused.
    ssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key"]);
    const data = mkdtempSync(join(tmpdir(), "openclm-tls-bad-"));
    const mismatch = cli(["serve", "--demo", "--data-dir", data, "--listen", "127.0.0.1:0", "--tls-cert", join(dir, "server.pem"), "--tls-key", join(dir, "other.key")]);
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/other\.key: the private key does not belong to the certificate/);
    expect(mismatch.stderr).not.toMatch(/PRIVATE KEY/);
    const half = cli(["serve", "--demo", "--data-dir", data, "--listen", "127.0.0.1:0", "--tls-cert", join(dir, "server.pem")]);
    expect(half.status).toBe(1);
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/);
    const both = cli(["serve", "--demo", "--data-dir", data, "--listen", "127.0.0.1:0", "--tls-self", "--tls-cert", "a", "--tls-key", "b"]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/either --tls-self or --tls-cert/);
  });
});
