// Acceptance (issue 8): the web portal in a real browser against a real server process.
// alice enrolls a card with the CLI and sees it in the portal, requests a Smart Card Logon card,
// bob approves it in his queue, alice sees it approved, alice downloads a software PFX, carol
// answers an offline unblock challenge that alice's card accepts, and dave finds it all in the
// audit trail. Every page is photographed under test-artifacts/portal/, and the browser console
// must stay free of errors except the API errors the story provokes on purpose.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { REPO, startServer, type TestServer } from "../helpers/server.js";
import { runCli } from "../client/support/cli.js";
import { HAVE_CHROMIUM, PortalBrowser } from "./browser.js";

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

let server: TestServer;
let browser: PortalBrowser;
let cardDir: string;
let work: string;

describe.skipIf(!HAVE_CHROMIUM)("web portal in Chromium", () => {
  beforeAll(async () => {
    server = await startServer();
    browser = await PortalBrowser.launch();
    browser.page.setDefaultTimeout(45_000);
    cardDir = mkdtempSync(join(tmpdir(), "openclm-portal-cards-"));
    work = mkdtempSync(join(tmpdir(), "openclm-portal-"));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (cardDir) rmSync(cardDir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const portal = (path = "") => `${server.url}/portal/${path}`;
  const heading = (page: Page, name: string | RegExp) => page.getByRole("heading", { level: 1, name }).waitFor();
  // A search's answer replaces the rows shown before it; rows of an action alone do not tell the two apart.
  const onlyRowsOf = (page: Page, requestId: string) =>
    expect
      .poll(async () => {
        const all = await page.locator("tr[data-action]").count();
        return all > 0 && all === (await page.locator(`tr[data-action]:has(a[href$="/requests/${requestId}"])`).count());
      })
      .toBe(true);

  async function signIn(page: Page, user: string, password = user): Promise<void> {
    await heading(page, "Sign in");
    await page.getByLabel("User name").fill(user);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading(page, "My cards");
  }

  async function signOut(page: Page): Promise<void> {
    await page.getByRole("button", { name: "Sign out" }).click();
    await heading(page, "Sign in");
    await page.getByText("You have signed out.").waitFor();
  }

  async function nav(page: Page, label: string, title: string | RegExp = label): Promise<void> {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label, exact: true }).click();
    await heading(page, title);
  }

  it(
    "carries the enrollment, approval, helpdesk and audit story through the browser",
    { timeout: 300_000 },
    async () => {
      const page = browser.page;

      // --- alice enrolls a virtual smart card with the CLI, as the portal tells users to ---------
      const enrolled = await runCli(
        [
          "enroll", "--server", server.url, "--user", "alice", "--password-env", "P", "--pin-env", "PIN",
          "--template", "Virtual Smartcard VPN", "--data", "Request Reason=Portal test", "--card-dir", cardDir, "--yes", "--json",
        ],
        { P: "alice", PIN: "s3cret-PIN-portal" },
      );
      expect(enrolled.code, `${enrolled.stdout}\n${enrolled.stderr}`).toBe(0);
      const out = JSON.parse(enrolled.stdout) as { cardId: string; certificates: { serialNumber: string }[] };
      const cardId = out.cardId.toLowerCase();
      const serial = out.certificates[0]!.serialNumber.replace(/[^0-9a-f]/gi, "").toUpperCase().replace(/^0+/, "");

      // --- sign-in: a wrong password shows the API's message and correlation id ----------------
      await page.goto(portal());
      await heading(page, "Sign in");
      await browser.screenshot("sign-in");
      await browser.expectHttpErrors([401], async () => {
        await page.getByLabel("User name").fill("alice");
        await page.getByLabel("Password").fill("not-her-password");
        await page.getByRole("button", { name: "Sign in" }).click();
        const alert = page.getByRole("alert");
        await alert.getByText("wrong user name or password").waitFor();
        expect(await alert.textContent()).toMatch(UUID);
      });
      await browser.screenshot("sign-in-error");
      await page.getByLabel("Password").fill("alice");
      await page.getByRole("button", { name: "Sign in" }).click();
      await heading(page, "My cards");

      // --- alice sees her card and its certificate ----------------------------------------------
      const card = page.locator(`article[data-card="${cardId}"]`);
      await card.waitFor();
      await card.getByText("Virtual Smartcard VPN").waitFor();
      const cardText = (await card.textContent()) ?? "";
      expect(cardText).toContain("Virtual Smartcard VPN");
      expect(cardText).toContain("Active");
      expect(cardText.replace(/\s/g, "")).toContain(serial);
      expect(cardText).toContain("CN=Alice Example");
      expect(cardText).toContain("Valid");
      await card.getByRole("link", { name: "Renew" }).waitFor();
      await page.getByText("You have no software profiles yet.").waitFor();
      await browser.screenshot("my-cards");
      await page.setViewportSize({ width: 390, height: 844 });
      await card.waitFor();
      await browser.screenshot("my-cards-mobile");
      await page.setViewportSize({ width: 1280, height: 900 });

      // A reload keeps the session (cookie) and the page (history routing, SPA fallback).
      await page.reload();
      await heading(page, "My cards");

      // An API error on a page: a request that does not exist.
      await browser.expectHttpErrors([404], async () => {
        await page.goto(portal("requests/00000000-0000-0000-0000-0000000000ff"));
        await page.getByRole("alert").getByText("request not found").waitFor();
      });
      await browser.screenshot("request-not-found");

      // --- alice requests a Smart Card Logon card ------------------------------------------------
      await page.goto(portal());
      await heading(page, "My cards");
      await nav(page, "Request a certificate");
      await browser.screenshot("request-a-certificate");
      await page.getByRole("link", { name: "Request Smart Card Logon" }).click();
      await heading(page, "Request Smart Card Logon");
      await page.getByText("This request needs one approval").waitFor();
      await page.getByRole("button", { name: "Submit request" }).click();
      await page.getByText("Employee ID is required").waitFor();
      await page.getByLabel(/Employee ID/).fill("12");
      await page.getByRole("button", { name: "Submit request" }).click();
      await page.getByText("Employee ID has the wrong format").waitFor();
      await page.getByLabel(/Employee ID/).fill("4711");
      await browser.screenshot("request-smart-card-logon");
      await page.getByRole("button", { name: "Submit request" }).click();
      await page.getByText("Your request was submitted.").waitFor();
      const logonRequest = UUID.exec(new URL(page.url()).pathname)![0];
      await page.getByText("Waiting for approval").waitFor();
      expect(await page.locator(".timeline").textContent()).toContain("0 of 1 approvals");
      await browser.screenshot("request-pending");
      await nav(page, "My requests");
      const row = page.locator(`tr[data-request="${logonRequest}"]`);
      expect(await row.textContent()).toContain("Pending");
      await browser.screenshot("my-requests-pending");

      // --- alice downloads a software certificate as a PFX --------------------------------------
      await nav(page, "Request a certificate");
      await page.getByRole("link", { name: "Request Software User" }).click();
      await heading(page, "Request Software User");
      await page.getByRole("button", { name: "Submit request" }).click();
      await page.getByLabel("PFX password").fill("pfx-Passw0rd");
      await page.getByLabel("Repeat the password").fill("pfx-Passw0rd");
      await browser.screenshot("software-pfx-password");
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download PFX" }).click()]);
      const pfx = join(work, download.suggestedFilename());
      await download.saveAs(pfx);
      expect(download.suggestedFilename()).toMatch(/\.pfx$/);
      await page.getByText("The request is completed.").waitFor();
      await page.locator(".status-line").getByText("Completed").waitFor();
      const pem = execFileSync("openssl", ["pkcs12", "-in", pfx, "-passin", "pass:pfx-Passw0rd", "-nodes"]).toString();
      expect(pem).toMatch(/BEGIN PRIVATE KEY/);
      expect(pem).toMatch(/subject=.*Alice Example/);
      await browser.screenshot("software-pfx-downloaded");
      await nav(page, "My cards");
      await page.getByRole("heading", { level: 3, name: "Software User" }).waitFor();
      await browser.screenshot("my-cards-with-profile");
      // The same key again later (Recover), then the profile retired (a server-side operation).
      await page.getByRole("link", { name: "Download PFX" }).click();
      await heading(page, "Download PFX: Software User profile");
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByLabel("PFX password").fill("another-Passw0rd");
      await page.getByLabel("Repeat the password").fill("another-Passw0rd");
      const [again] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download PFX" }).click()]);
      const pfx2 = join(work, `again-${again.suggestedFilename()}`);
      await again.saveAs(pfx2);
      await page.getByText("The request is completed.").waitFor();
      const key = (file: string, pass: string) =>
        execFileSync("openssl", ["pkey", "-pubout"], { input: execFileSync("openssl", ["pkcs12", "-in", file, "-passin", `pass:${pass}`, "-nodes", "-nocerts"]) }).toString();
      expect(key(pfx2, "another-Passw0rd")).toBe(key(pfx, "pfx-Passw0rd"));
      await nav(page, "My cards");
      await page.getByRole("link", { name: "Retire" }).last().click();
      await heading(page, "Retire: Software User profile");
      await page.getByRole("button", { name: "Submit request" }).click();
      await page.getByText("The server carries this out alone.").waitFor();
      await browser.screenshot("retire-profile");
      await page.getByRole("button", { name: "Complete request" }).click();
      await page.getByText("The request is completed.").waitFor();
      await nav(page, "My cards");
      await page.getByText("You have no software profiles yet.").waitFor();
      await page.getByText("Retired and disabled (1)").waitFor();
      await signOut(page);

      // --- bob approves it in his queue -------------------------------------------------------------
      await signIn(page, "bob");
      await nav(page, "Approvals");
      const item = page.locator(`li[data-request="${logonRequest}"]`);
      await item.waitFor();
      const itemText = (await item.textContent()) ?? "";
      // The approver may not read the template itself; the request carries its uuid (and its name
      // when the server adds ProfileTemplateName).
      expect(itemText).toMatch(/Smart Card Logon|5c1b3a4e/);
      expect(itemText).toContain("Employee ID");
      expect(itemText).toContain("4711");
      await item.getByLabel(/Comment/).fill("Checked with HR");
      await browser.screenshot("approval-queue");
      await item.getByRole("button", { name: "Approve" }).click();
      await page.getByText(/You approved request .* Its status is now Approved/).waitFor();
      await page.getByText("No requests are waiting for your approval.").waitFor();
      await browser.screenshot("approval-done");
      await signOut(page);

      // --- alice sees it approved, with the command to run ----------------------------------------
      await signIn(page, "alice");
      await nav(page, "My requests");
      await page.locator(`tr[data-request="${logonRequest}"]`).getByText("Approved").waitFor();
      await browser.screenshot("my-requests-approved");
      await page.locator(`tr[data-request="${logonRequest}"]`).getByRole("link").click();
      await heading(page, /Request /);
      await page.locator(".status-line").getByText("Approved").waitFor();
      expect(await page.locator(".timeline").textContent()).toContain("1 of 1 approvals");
      const command = await page.locator(".command pre").first().textContent();
      expect(command).toBe(`openclm enroll --server ${server.url} --user alice --request ${logonRequest}`);
      await browser.screenshot("request-approved");

      // The session ends under her (cookie gone): the next API call answers 401 and the portal
      // asks her to sign in again, without the browser's own password dialog.
      await browser.expectHttpErrors([401], async () => {
        await page.context().clearCookies();
        await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "My cards", exact: true }).click();
        await heading(page, "Sign in");
        await page.getByText("Your session has ended. Sign in again to continue.").waitFor();
      });
      await browser.screenshot("session-ended");

      // --- carol answers an offline unblock challenge for alice's card ------------------------------
      await signIn(page, "carol");
      await nav(page, "Helpdesk");
      await page.getByRole("textbox", { name: "Card ID" }).fill(`{${cardId.toUpperCase()}}`);
      await page.getByRole("button", { name: "Find card" }).click();
      const found = page.locator(`article[data-card="${cardId}"]`);
      await found.waitFor();
      await browser.screenshot("helpdesk-card");
      await found.getByRole("button", { name: "Start offline unblock" }).click();
      await page.getByRole("heading", { level: 2, name: "Offline unblock" }).waitFor();
      const unblockRequest = UUID.exec(new URL(page.url()).search)![0];
      // The card in alice's hands gives its challenge; carol types what alice reads out.
      const { CardStore } = (await import(pathToFileURL(join(REPO, "dist/client/card/store.js")).href)) as typeof import("../../src/client/card/store.js");
      const store = new CardStore(cardDir);
      const locked = store.openLocked(cardId);
      let response: string;
      try {
        const challenge = locked.card.getChallenge(Date.now(), { purpose: "offline-unblock" });
        await page.getByLabel("Challenge read out by the user").fill(challenge.toString("hex").toUpperCase().replace(/(....)(?=.)/g, "$1 "));
        await browser.screenshot("helpdesk-challenge");
        await page.getByRole("button", { name: "Get response" }).click();
        response = ((await page.getByTestId("unblock-response").textContent()) ?? "").replace(/\s/g, "");
        expect(response).toMatch(/^[0-9A-F]{16}$/);
        // The card accepts it: the response was computed with its own diversified admin key.
        locked.card.authenticateAdmin(Buffer.from(response, "hex"));
        expect(locked.card.isAdminAuthenticated).toBe(true);
      } finally {
        locked.release();
      }
      await browser.screenshot("helpdesk-response");
      await page.getByRole("button", { name: "Mark the request completed" }).click();
      await page.getByText("The offline unblock request is completed.").waitFor();
      await signOut(page);

      // --- dave finds the audit entries (signing in with the keyboard only) --------------------------
      await heading(page, "Sign in");
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("username");
      await page.keyboard.type("dave");
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("password");
      await page.keyboard.type("dave");
      await page.keyboard.press("Enter");
      await heading(page, "My cards");
      await nav(page, "Audit");
      await page.getByLabel("Request ID").fill(logonRequest);
      await page.getByRole("button", { name: "Search" }).click();
      await onlyRowsOf(page, logonRequest);
      await page.locator('tr[data-action="request.approve"]').waitFor();
      expect(await page.locator('tr[data-action="request.approve"]').textContent()).toContain("bob");
      expect(await page.locator('tr[data-action="request.create"]').textContent()).toContain("alice");
      await browser.screenshot("audit-request");
      await page.getByLabel("Request ID").fill(unblockRequest);
      await page.getByLabel("Request ID").press("Enter");
      await onlyRowsOf(page, unblockRequest);
      await page.locator('tr[data-action="smartcard.authenticationresponse"]').waitFor();
      expect(await page.locator('tr[data-action="smartcard.authenticationresponse"]').textContent()).toContain("carol");
      await page.getByLabel("Request ID").fill("");
      await page.getByLabel(/^Action/).fill("portal.*");
      await page.getByRole("button", { name: "Search" }).click();
      await page.locator('tr[data-action="portal.login"]').first().waitFor();
      const logins = await page.locator('tr[data-action="portal.login"]').allTextContents();
      expect(logins.some((t) => t.includes("alice") && t.includes("failure"))).toBe(true);
      expect(logins.some((t) => t.includes("dave") && t.includes("success"))).toBe(true);
      await browser.screenshot("audit-logins");

      // --- the administration views --------------------------------------------------------------------
      await nav(page, "Users and groups");
      await page.getByRole("cell", { name: "alice", exact: true }).waitFor();
      await page.getByRole("button", { name: /cm-approvers/ }).waitFor();
      await browser.screenshot("admin-users");
      await nav(page, "Profile templates");
      await page.getByRole("heading", { level: 2, name: "Smart Card Logon" }).waitFor();
      await page.getByRole("heading", { level: 2, name: "Virtual Smartcard VPN" }).waitFor();
      await browser.screenshot("admin-templates");
      await nav(page, "CA and CRL");
      await page.getByText("CN=OpenCLM Issuing CA").first().waitFor();
      await page.getByText("Revoked certificates").waitFor();
      await browser.screenshot("admin-ca-crl");
      await signOut(page);

      // --- no console errors but the ones provoked on purpose ------------------------------------------
      expect(browser.entries.filter((e) => e.expected).length).toBeGreaterThan(0);
      expect(browser.unexpected(), JSON.stringify(browser.unexpected(), null, 2)).toEqual([]);
    },
  );
});
