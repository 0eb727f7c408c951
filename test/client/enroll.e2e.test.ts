// The client against the real server: `openclm serve --demo` in one process, `openclm enroll`
// and `openclm card` in others, exactly as a user runs them.
import { execFileSync, spawn } from "node:child_process";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startServer } from "../helpers/server.js";
import { CLI, REPO, runCli } from "./support/cli.js";
import { hasTmux, TmuxSession } from "./support/tmux.js";
import { tempDir } from "./support/tmp.js";

type Server0 = Awaited<ReturnType<typeof startServer>>;
let server: Server0;

beforeAll(async () => {
  server = await startServer({ demo: true });
});
afterAll(async () => {
  await server?.stop();
});

const VPN = "Virtual Smartcard VPN";
const alice = { user: "alice", password: "alice" };

function enrollArgs(url: string, cardDir: string, extra: string[] = []): string[] {
  return [
    "enroll", "--server", url, "--user", "alice", "--password-env", "P", "--pin-env", "PIN",
    "--template", VPN, "--data", "Request Reason=Need VPN", "--card-dir", cardDir, "--yes", "--json", ...extra,
  ];
}
const secrets = { P: "alice", PIN: "s3cret-PIN-e2e" };

async function cardJson(cardDir: string, ref: string) {
  const r = await runCli(["card", "show", ref, "--card-dir", cardDir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function allRequests(): Promise<{ Uuid: string; Status: number }[]> {
  const r = await call(server, "GET", "/requests", alice);
  expect(r.status).toBe(200);
  return r.body;
}

describe("openclm enroll against the demo server", () => {
  it("lets an enrollment agent enroll a card for another user (--on-behalf-of)", async () => {
    const cardDir = tempDir();
    const args = enrollArgs(server.url, cardDir, ["--on-behalf-of", "alice"]).map((a) => (a === "alice" ? "carol" : a));
    args[args.indexOf("--on-behalf-of") + 1] = "alice";
    const r = await runCli(args, { P: "carol", PIN: "agent-set-PIN-1" });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = JSON.parse(r.stdout);
    // alice owns the card and the request names both; alice sees them as her own.
    const request = await call(server, "GET", `/requests/${out.requestId}`, alice);
    expect(request.body).toMatchObject({ Status: 8, IsEnrollmentAgent: true, TargetUserName: "alice", OriginatorUserName: "carol" });
    const card = await call(server, "GET", `/smartcards/${out.smartcardUuid}`, alice);
    expect(card.body).toMatchObject({ Status: 3, AssignedUserUuid: request.body.TargetUserUuid });
    const audit = await call(server, "GET", `/audit?request=${out.requestId}`, { user: "dave", password: "dave" });
    expect(audit.status).toBe(200);
    expect(JSON.stringify(audit.body)).toContain("carol");
  });

  it("enrolls non-interactively: certificate on the card, chain verifies, request Completed, card Active", async () => {
    const cardDir = tempDir();
    const r = await runCli(enrollArgs(server.url, cardDir), secrets);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, status: "Completed", cardCreated: true, template: { name: VPN } });
    expect(out.certificates).toHaveLength(1);

    const card = await cardJson(cardDir, out.cardId);
    expect(card.atr).toBe("3b8d0180fba000000397425446590301c8");
    expect(card.unfinishedEnrollment).toBeNull();
    expect(card.keys).toHaveLength(1);
    expect(card.keys[0].state).toBe("certified");
    expect(card.keys[0].certificate.serialNumber).toBe(out.certificates[0].serialNumber);
    expect(card.pin).toMatchObject({ set: true, blocked: false });

    // The chain from the server, issuing CA first then root.
    const chain = await call(server, "GET", "/ca/certificates");
    const pems = chain.text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(pems).toHaveLength(2);
    const dir = tempDir();
    writeFileSync(join(dir, "issuing.pem"), `${pems[0]}\n`);
    writeFileSync(join(dir, "root.pem"), `${pems[1]}\n`);
    const leafB64 = JSON.parse(
      execFileSync(process.execPath, ["-e", `const d=require(${JSON.stringify(join(cardDir, `${out.cardId}.json`))});process.stdout.write(JSON.stringify(d.containers[0].certificate))`], { encoding: "utf8" }),
    ) as string;
    writeFileSync(join(dir, "leaf.pem"), `-----BEGIN CERTIFICATE-----\n${leafB64.replace(/.{1,64}/g, "$&\n")}-----END CERTIFICATE-----\n`);
    const verified = execFileSync("openssl", ["verify", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "issuing.pem"), join(dir, "leaf.pem")], { encoding: "utf8" });
    expect(verified).toMatch(/leaf\.pem: OK/);

    const request = await call(server, "GET", `/requests/${out.requestId}`, alice);
    expect(request.body.Status).toBe(8);
    const smartcard = await call(server, "GET", `/smartcards/${out.smartcardUuid}`, alice);
    expect(smartcard.body.Status).toBe(3);
    expect(smartcard.body.SerialNumber).toBe(`{${out.cardId}}`);
  });

  it("shows progress and summary in a terminal and never echoes the PIN", async () => {
    if (!hasTmux()) {
      console.warn("tmux not installed: interactive test skipped");
      return;
    }
    const cardDir = tempDir();
    const pin = "739184265";
    const script = join(tempDir(), "run.sh");
    writeFileSync(
      script,
      `cd ${JSON.stringify(REPO)}\nunset NO_COLOR\n${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} enroll --server ${server.url} --user alice --card-dir ${JSON.stringify(cardDir)}\necho "EXIT=$?"\nsleep 60\n`,
    );
    chmodSync(script, 0o700);
    const tmux = new TmuxSession();
    try {
      tmux.start(script);
      await tmux.waitFor(/Password for alice:/);
      tmux.type("alice");
      // The demo offers alice one smart card template, chosen without asking; a list otherwise.
      const next = await tmux.waitFor(/Choose 1-\d+:|Request Reason/);
      if (/Choose 1-\d+:/.test(next)) {
        const line = next.split("\n").find((l) => l.includes(VPN))!;
        tmux.type(/(\d+)\)/.exec(line)![1]!);
        await tmux.waitFor(/Request Reason/);
      }
      expect(tmux.screen()).toMatch(/Profile template: Virtual Smartcard VPN/);
      tmux.type("Need VPN from the terminal");
      await tmux.waitFor(/New PIN:/);
      tmux.type(pin);
      await tmux.waitFor(/Repeat the PIN:/);
      tmux.type(pin);
      await tmux.waitFor(/Enroll alice for "Virtual Smartcard VPN".*\[Y\/n\]/);
      tmux.type("y");
      const screen = await tmux.waitFor(/EXIT=\d+/, 60_000);
      expect(screen).toMatch(/EXIT=0/);
      expect(screen).toMatch(/✔ Create request/);
      expect(screen).toMatch(/✔ Generate RSA 2048 key on card/);
      expect(screen).toMatch(/✔ Complete request/);
      expect(screen).toMatch(/\d+ ms|\d+\.\d s/);
      expect(screen).toMatch(/Enrollment complete/);
      expect(screen).toMatch(/Certificate\s+CN=Alice Example/);
      expect(screen).toMatch(/Serial\s+[0-9A-F]+/);
      expect(screen).toMatch(/Expires\s+\d{4}-/);
      expect(screen).not.toContain(pin);
    } finally {
      tmux.kill();
    }
  }, 120_000);

  it("recovers from a kill between key release and certificate submission", async () => {
    const cardDir = tempDir();
    const crashed = await runCli(enrollArgs(server.url, cardDir), { ...secrets, OPENCLM_TEST_CRASH_AT: "before-certificatedata" });
    expect(crashed.signal).toBe("SIGKILL");

    // The card says what was left behind; the server still has the request executing.
    const files = readdirSync(cardDir).filter((f) => f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const leftover = await cardJson(cardDir, join(cardDir, files[0]!));
    expect(leftover.unfinishedEnrollment).toMatchObject({ step: "certificatedata", user: "alice", createdCard: true });
    expect(leftover.keys.map((k: { state: string }) => k.state)).toEqual(["orphan"]);
    const human = await runCli(["card", "show", leftover.cardId, "--card-dir", cardDir]);
    expect(human.stdout).toMatch(/Unfinished enrollment/);
    expect(human.stdout).toMatch(/orphan key/);
    const oldRequest = leftover.unfinishedEnrollment.requestId as string;
    const oldSmartcard = leftover.unfinishedEnrollment.smartcardUuid as string;
    expect((await call(server, "GET", `/requests/${oldRequest}`, alice)).body.Status).toBe(18);

    const again = await runCli(enrollArgs(server.url, cardDir), secrets);
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    const out = JSON.parse(again.stdout);
    expect(out.recovered).toEqual([expect.objectContaining({ requestId: oldRequest, cardId: leftover.cardId, action: "abandoned" })]);

    expect((await call(server, "GET", `/requests/${oldRequest}`, alice)).body.Status).toBe(19);
    expect((await call(server, "GET", `/smartcards/${oldSmartcard}`, alice)).body.Status).not.toBe(3);
    expect((await call(server, "GET", `/requests/${out.requestId}`, alice)).body.Status).toBe(8);

    // One card left: the new one, complete; the abandoned one and its orphan key are gone.
    expect(existsSync(join(cardDir, files[0]!))).toBe(false);
    const list = JSON.parse((await runCli(["card", "list", "--card-dir", cardDir, "--json"])).stdout);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ cardId: out.cardId, unfinishedEnrollment: null });
    expect(list[0].keys.map((k: { state: string }) => k.state)).toEqual(["certified"]);
  });

  it("abandons the request and removes the new card when the server fails mid-way, showing message and correlation id", async () => {
    const proxy = await failingProxy(server.url, (method, path) => method === "POST" && /\/certificatedata$/i.test(path));
    try {
      const cardDir = tempDir();
      const before = new Set((await allRequests()).map((r) => r.Uuid));
      const r = await runCli(enrollArgs(proxy.url, cardDir), secrets);
      expect(r.code, r.stdout + r.stderr).toBe(5);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ ok: false, exitCode: 5, error: { kind: "server", status: 500, message: "injected failure", errorCode: "injected", correlationId: proxy.correlationId } });
      const created = (await allRequests()).filter((q) => !before.has(q.Uuid));
      expect(created.map((q) => q.Status)).toEqual([19]);
      expect(readdirSync(cardDir).filter((f) => f.endsWith(".json"))).toEqual([]);

      const human = await runCli(enrollArgs(proxy.url, cardDir).filter((a) => a !== "--json"), secrets);
      expect(human.code).toBe(5);
      expect(human.stderr).toMatch(/error: injected failure/);
      expect(human.stderr).toContain(`correlation id ${proxy.correlationId}`);
      expect(human.stdout).toMatch(/\[FAILED\] Submit certificate requests/);
      expect(human.stdout).toMatch(/\[ok\] Abandon unfinished enrollment/);
    } finally {
      await proxy.close();
    }
  });

  it("on Ctrl-C abandons the request, removes the new card and exits 130", async () => {
    const proxy = await failingProxy(server.url, (method, path) => method === "POST" && /\/certificatedata$/i.test(path), "hang");
    try {
      const cardDir = tempDir();
      const before = new Set((await allRequests()).map((r) => r.Uuid));
      const child = spawn(process.execPath, [CLI, ...enrollArgs(proxy.url, cardDir).filter((a) => a !== "--json")], {
        cwd: REPO,
        env: { ...process.env, NO_COLOR: "1", ...secrets },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
      // The submission hangs at the proxy: the moment to interrupt.
      for (let i = 0; i < 200 && !/Create certificate request/.test(stdout); i++) await new Promise((r) => setTimeout(r, 50));
      expect(stdout).toMatch(/Create certificate request/);
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGINT");
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/interrupted/);
      expect(stdout).toMatch(/\[ok\] Abandon unfinished enrollment/);
      const created = (await allRequests()).filter((q) => !before.has(q.Uuid));
      expect(created.map((q) => q.Status)).toEqual([19]);
      expect(readdirSync(cardDir).filter((f) => f.endsWith(".json"))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("exits 3 on a wrong password and 2 on an unknown data item, creating nothing", async () => {
    const cardDir = tempDir();
    const before = (await allRequests()).length;
    const auth = await runCli(enrollArgs(server.url, cardDir), { ...secrets, P: "wrong" });
    expect(auth.code).toBe(3);
    expect(JSON.parse(auth.stdout).error).toMatchObject({ kind: "auth", status: 401 });
    const input = await runCli([...enrollArgs(server.url, cardDir), "--data", "Favourite Colour=blue"], secrets);
    expect(input.code).toBe(2);
    expect(JSON.parse(input.stdout).error.message).toMatch(/collects no item "Favourite Colour"/);
    const shortPin = await runCli(enrollArgs(server.url, cardDir), { ...secrets, PIN: "12345" });
    expect(shortPin.code).toBe(2);
    expect(JSON.parse(shortPin.stdout).error.message).toMatch(/at least 6/);
    expect((await allRequests()).length).toBe(before);
    expect(readdirSync(cardDir).filter((f) => f.endsWith(".json"))).toEqual([]);
  });

  it("stops with exit 6 while a request awaits approval, then continues it on a physical-template card", async () => {
    // Smart Card Logon: a physical-card template needing one approval; carol may enroll for it.
    const carol = { user: "carol", password: "carol" };
    const cardDir = tempDir();
    const config = await call(server, "GET", "/profiletemplates/5c1b3a4e-2f6d-4c8a-9b7e-1d2f3a4b5c6d/configuration/smartcards", carol);
    expect(config.status).toBe(200);
    const created = await runCli(["card", "create", "--admin-key", config.body.DefaultAdminKeyHex, "--card-dir", cardDir, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const cardId = JSON.parse(created.stdout).cardId as string;
    const base = ["enroll", "--server", server.url, "--user", "carol", "--password-env", "P", "--pin-env", "PIN", "--card", cardId, "--card-dir", cardDir, "--yes", "--json"];
    const env = { P: "carol", PIN: "carol-PIN-1" };

    const withoutCard = await runCli(base.filter((a, i) => a !== "--card" && base[i - 1] !== "--card").concat(["--template", "Smart Card Logon", "--data", "Employee ID=12345"]), env);
    expect(withoutCard.code).toBe(2);
    expect(JSON.parse(withoutCard.stdout).error.message).toMatch(/physical smart cards: pass --card/);

    const pending = await runCli([...base, "--template", "Smart Card Logon", "--data", "Employee ID=12345"], env);
    expect(pending.code, pending.stdout + pending.stderr).toBe(6);
    const p = JSON.parse(pending.stdout);
    expect(p).toMatchObject({ status: "Pending", exitCode: 6 });
    expect(p.message).toMatch(/awaits approval/);
    expect((await cardJson(cardDir, cardId)).unfinishedEnrollment).toBeNull();

    const approved = await call(server, "POST", `/requests/${p.requestId}/approvals`, { user: "bob", password: "bob", body: { decision: "Approve", comment: "ok" } });
    expect(approved.status, approved.text).toBeLessThan(300);

    const done = await runCli([...base, "--request", p.requestId], env);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    const out = JSON.parse(done.stdout);
    expect(out).toMatchObject({ ok: true, cardId, cardCreated: false, requestId: p.requestId });
    expect((await call(server, "GET", `/requests/${p.requestId}`, carol)).body.Status).toBe(8);
    const card = await cardJson(cardDir, cardId);
    expect(card.keys.map((k: { state: string }) => k.state)).toEqual(["certified"]);
  });
});

/** A proxy in front of the server that answers 500 for (or, with `hang`, never answers) the calls `fail` picks. */
async function failingProxy(target: string, fail: (method: string, path: string) => boolean, mode: "fail" | "hang" = "fail") {
  const correlationId = "0f0e0d0c-0b0a-4908-8706-050403020100";
  const upstream = new URL(target);
  const proxy: Server = createServer((req, res) => {
    if (fail(req.method!, req.url!.split("?")[0]!)) {
      req.resume();
      if (mode === "hang") return;
      res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify({ Message: "injected failure", ErrorCode: "injected", CorrelationId: correlationId }));
      return;
    }
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    correlationId,
    close: () => new Promise<void>((r) => {
      proxy.closeAllConnections();
      proxy.close(() => r());
    }),
  };
}
