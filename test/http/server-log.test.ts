// The server's log writer (src/logging.ts): lines are written together, in order, soon after
// they are logged, and none is lost when the process exits.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const LOGGING = pathToFileURL(join(import.meta.dirname, "../../dist/logging.js")).href;

/** Runs `body` in a fresh node with `log` (a serverLogger) and `writes` (write() calls on fd 1 so far). */
function child(body: string): { stdout: Promise<string>; firstLine: Promise<{ line: string; exited: boolean }>; exit: Promise<number | null> } {
  const script = `
    import fs from "node:fs";
    const writeSync = fs.writeSync;
    globalThis.writes = 0;
    fs.writeSync = (fd, ...rest) => { if (fd === 1) globalThis.writes++; return writeSync(fd, ...rest); };
    const { serverLogger } = await import(${JSON.stringify(LOGGING)});
    const log = serverLogger("info");
    ${body}
  `;
  const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let exited = false;
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => ((exited = true), resolve(code))));
  const firstLine = new Promise<{ line: string; exited: boolean }>((resolve) => {
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve({ line: out.slice(0, nl), exited });
    });
  });
  const stdout = exit.then(() => out);
  return { stdout, firstLine, exit };
}

describe("server log", () => {
  it("writes lines of many event-loop turns together, in order, and the last ones before exit", async () => {
    // Under load most turns finish one request: lines are not written turn by turn.
    const c = child(`
      for (let i = 0; i < 500; i++) {
        log.info({ i }, "line");
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 100));
      const afterBurst = globalThis.writes;
      log.info({ i: 500 }, "line");
      log.info({ i: 501, afterBurst }, "line");
      process.exit(0);
    `);
    expect(await c.exit).toBe(0);
    const lines = (await c.stdout).trim().split("\n").map((l) => JSON.parse(l) as { i: number; afterBurst?: number });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 502 }, (_, i) => i));
    // One write per 10 ms (or per 16 KiB) at most: far fewer than the 500 turns, even on a slow machine.
    const writes = lines[501]!.afterBurst!;
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(100);
  });

  it("writes a line while the process runs on, not only at exit", async () => {
    const c = child(`
      log.info("alone");
      setTimeout(() => process.exit(0), 3000);
    `);
    const { line, exited } = await c.firstLine;
    expect(JSON.parse(line)).toMatchObject({ msg: "alone" });
    expect(exited).toBe(false);
    await c.exit;
  });
});
