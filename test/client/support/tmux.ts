// Drives the CLI in a real pseudo-terminal through tmux, on a private tmux socket.
import { execFileSync, spawnSync } from "node:child_process";

export function hasTmux(): boolean {
  return spawnSync("tmux", ["-V"]).status === 0;
}

export class TmuxSession {
  readonly socket = `openclm-test-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  readonly name = "enroll";

  start(script: string): void {
    execFileSync("tmux", ["-L", this.socket, "new-session", "-d", "-s", this.name, "-x", "120", "-y", "40", "bash", script]);
  }

  screen(): string {
    return execFileSync("tmux", ["-L", this.socket, "capture-pane", "-p", "-t", this.name], { encoding: "utf8" });
  }

  /** Types text literally, then Enter. */
  type(text: string): void {
    execFileSync("tmux", ["-L", this.socket, "send-keys", "-t", this.name, "-l", text]);
    execFileSync("tmux", ["-L", this.socket, "send-keys", "-t", this.name, "Enter"]);
  }

  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < end) {
      last = this.screen();
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${pattern} on the screen:\n${last}`);
  }

  kill(): void {
    spawnSync("tmux", ["-L", this.socket, "kill-server"]);
  }
}
