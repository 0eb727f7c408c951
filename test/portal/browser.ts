// Headless Chromium for the portal's browser tests: Debian's /usr/bin/chromium driven by
// playwright-core (no browser download), a fresh profile, no background network, every console
// error and page error collected, and screenshots under test-artifacts/portal/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { REPO } from "../helpers/server.js";

export const CHROMIUM = process.env.OPENCLM_TEST_CHROMIUM ?? "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const ARTIFACTS = join(REPO, "test-artifacts", "portal");

if (!HAVE_CHROMIUM) {
  const line = "!".repeat(100);
  process.stderr.write(
    `\n${line}\n!!! PORTAL BROWSER TESTS SKIPPED: ${CHROMIUM} is missing. Install it with\n` +
      `!!!   apt-get update && apt-get install -y chromium\n` +
      `!!! (.ci/run does this). The portal's sign-in, approval, helpdesk and audit flows are NOT tested.\n${line}\n\n`,
  );
}

export interface ConsoleEntry {
  kind: "console" | "pageerror" | "requestfailed";
  text: string;
  url: string;
  /** Set when the entry was announced by expectHttpErrors (a deliberate API error). */
  expected: boolean;
}

export class PortalBrowser {
  readonly entries: ConsoleEntry[] = [];
  private expecting: number[] = [];
  private shot = 0;

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly profile: string,
    /** Where screenshots go; one directory per test file, as files run in parallel. */
    readonly artifacts: string,
  ) {}

  static async launch(viewport = { width: 1280, height: 900 }, artifacts = ARTIFACTS): Promise<PortalBrowser> {
    const profile = mkdtempSync(join(tmpdir(), "openclm-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport,
      acceptDownloads: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const b = new PortalBrowser(context, page, profile, artifacts);
    page.on("console", (m) => {
      if (m.type() !== "error" && m.type() !== "assert") return;
      const text = m.text();
      const status = /status of (\d{3})/.exec(text)?.[1];
      b.entries.push({ kind: "console", text, url: m.location().url, expected: !!status && b.expecting.includes(Number(status)) });
    });
    page.on("pageerror", (e) => b.entries.push({ kind: "pageerror", text: `${e.name}: ${e.message}`, url: page.url(), expected: false }));
    page.on("requestfailed", (r) => {
      // A fetch the page aborted itself (navigation away) is not an error of the portal.
      if (r.failure()?.errorText === "net::ERR_ABORTED") return;
      b.entries.push({ kind: "requestfailed", text: `${r.method()} ${r.url()}: ${r.failure()?.errorText}`, url: r.url(), expected: false });
    });
    // This run's screenshots only: numbering restarts, so earlier files would mislead.
    rmSync(artifacts, { recursive: true, force: true });
    mkdirSync(artifacts, { recursive: true });
    return b;
  }

  /** Runs `fn` while API answers with these statuses are expected (the browser logs them). */
  async expectHttpErrors<T>(statuses: number[], fn: () => Promise<T>): Promise<T> {
    this.expecting = statuses;
    try {
      return await fn();
    } finally {
      // Console messages arrive asynchronously; let them land inside the window.
      await this.page.waitForTimeout(300);
      this.expecting = [];
    }
  }

  unexpected(): ConsoleEntry[] {
    return this.entries.filter((e) => !e.expected);
  }

  /** A full-page screenshot, numbered in the order taken. */
  async screenshot(name: string): Promise<string> {
    const file = join(this.artifacts, `${String(++this.shot).padStart(2, "0")}-${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => {});
    rmSync(this.profile, { recursive: true, force: true });
  }
}
