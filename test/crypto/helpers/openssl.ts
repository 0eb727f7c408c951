import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface OpensslResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A scratch directory for openssl's input and output files, removed by `dispose()`. */
export class OpensslSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), "openclm-crypto-"));

  path(name: string): string {
    return join(this.dir, name);
  }

  write(name: string, data: string | Buffer): string {
    const path = this.path(name);
    writeFileSync(path, data);
    return path;
  }

  writePem(name: string, der: Buffer, label = "CERTIFICATE"): string {
    return this.write(name, pem(der, label));
  }

  read(name: string): Buffer {
    return readFileSync(this.path(name));
  }

  run(args: string[], input?: Buffer | string): OpensslResult {
    const r = spawnSync("/usr/bin/openssl", args, { cwd: this.dir, input, maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw r.error;
    return { status: r.status ?? -1, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
  }

  /** Runs openssl and fails loudly with its stderr when it exits non-zero. */
  ok(args: string[], input?: Buffer | string): string {
    const r = this.run(args, input);
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.status}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function pem(der: Buffer, label = "CERTIFICATE"): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export function pemToDer(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}
