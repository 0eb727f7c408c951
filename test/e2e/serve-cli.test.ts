// `openclm serve`: configuration errors stop start-up with file, line and field; non-loopback
// listening needs TLS or --insecure-http.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../helpers/server.js";

function serve(args: string[]) {
  return spawnSync(process.execPath, [CLI, "serve", ...args], { encoding: "utf8", timeout: 30_000 });
}

describe("openclm serve", () => {
  it("stops with exit 1 and names file, line and field for a bad configuration", () => {
    const dir = mkdtempSync(join(tmpdir(), "openclm-cfg-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "server:\n  listen: \"127.0.0.1:0\"\n  bodyLimitBytes: lots\n");
    const r = serve(["--config", file, "--data-dir", dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:3:\d+: server\.bodyLimitBytes: /);
    expect(r.stdout).not.toMatch(/listening/);
  });

  it("refuses a non-loopback address without TLS", () => {
    const dir = mkdtempSync(join(tmpdir(), "openclm-cfg-"));
    const r = serve(["--data-dir", dir, "--listen", "0.0.0.0:0"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without TLS/);
    const demo = serve(["--demo", "--data-dir", dir, "--listen", "0.0.0.0:0", "--insecure-http"]);
    expect(demo.status).toBe(1);
    expect(demo.stderr).toMatch(/demo configuration .* only listens on a loopback address/);
  });
});
