// Portal single sign-on in Chromium (issue 8): the user clicks "Sign in with single sign-on", the
// loopback provider (./idp.ts, a public client: PKCE without a client secret) approves at once,
// and the browser lands on the portal signed in, with the provider's groups; a refused sign-on
// lands on the sign-in page with the error shown and the address bar cleaned. Screenshots go to
// test-artifacts/portal-oidc/; the console must stay free of errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { REPO, startServer, type TestServer } from "../helpers/server.js";
import { configYaml, personas, writeConfig } from "../security/support.js";
import { HAVE_CHROMIUM, PortalBrowser } from "./browser.js";
import { TestIdp } from "./idp.js";

let idp: TestIdp;
let server: TestServer;
let browser: PortalBrowser;

describe.skipIf(!HAVE_CHROMIUM)("portal single sign-on in Chromium", () => {
  beforeAll(async () => {
    idp = await TestIdp.start();
    const P = personas();
    server = await startServer({ demo: false, args: ["--config", writeConfig(configYaml([P.dave, P.alice], { auth: idp.authYaml() }))] });
    browser = await PortalBrowser.launch(undefined, join(REPO, "test-artifacts", "portal-oidc"));
    browser.page.setDefaultTimeout(30_000);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await idp?.close();
  });

  const heading = (page: Page, name: string) => page.getByRole("heading", { level: 1, name }).waitFor();

  it("signs in with one click on the single sign-on button and out again", async () => {
    const page = browser.page;
    await page.goto(`${server.url}/portal/`);
    await heading(page, "Sign in");
    // Both ways are offered: single sign-on and the password form.
    await page.getByLabel("User name").waitFor();
    await browser.screenshot("sign-in-with-sso");
    await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
    await heading(page, "My cards");
    expect(new URL(page.url()).pathname).toBe("/portal/");
    await expect(page.getByTestId("whoami").textContent()).resolves.toContain("Olga Oidc (olga)");
    // The provider's group makes olga an auditor: the audit page is in her navigation.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit", exact: true }).waitFor();
    await browser.screenshot("signed-in-by-sso");
    // The session cookie is HttpOnly and the sign-on cookie is gone.
    const cookies = await browser.context.cookies(server.url);
    expect(cookies.map((c) => c.name)).toEqual(["openclm_session"]);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: "Strict" });

    await page.getByRole("button", { name: "Sign out" }).click();
    await heading(page, "Sign in");
    await page.getByText("You have signed out.").waitFor();
    expect(browser.unexpected(), JSON.stringify(browser.unexpected(), null, 2)).toEqual([]);
  });

  it("shows a refused sign-on on the sign-in page, without the provider's text, and cleans the address", async () => {
    const page = browser.page;
    idp.tamper = "nonce";
    try {
      await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
      await heading(page, "Sign in");
      const alert = page.getByRole("alert");
      await alert.getByText("Single sign-on failed").waitFor();
      await expect(alert.textContent()).resolves.toMatch(/could not be verified.*SingleSignOnFailed · reference [0-9a-f-]{36}/);
      await page.waitForFunction(() => window.location.search === "");
      expect(new URL(page.url()).pathname).toBe("/portal/");
      await browser.screenshot("sso-refused");
    } finally {
      idp.tamper = undefined;
    }
    // And the next attempt goes through.
    await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
    await heading(page, "My cards");
    expect(browser.unexpected(), JSON.stringify(browser.unexpected(), null, 2)).toEqual([]);
  });
});
