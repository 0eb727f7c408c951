// `openclm admin …`: the user directory and the audit trail, worked on the server's database
// directly (same --data-dir/--config/--demo/--database as `serve`), so an operator can create
// the first administrator before anyone can log in. Changes are audited with the operating
// system account as actor. Passwords come from a hidden prompt, an environment variable or
// stdin — never from the command line, where other users of the machine could read them.
import { Command, InvalidArgumentError, Option } from "commander";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { homedir, userInfo } from "node:os";
import { resolve } from "node:path";
import { once } from "node:events";
import type { Store } from "../store/store.js";
import { DomainError } from "../domain/errors.js";
import { Prompter } from "../client/ui/prompt.js";
import {
  createUser,
  listGroups,
  listUsers,
  MIN_PASSWORD_LENGTH,
  updateUser,
  userDetails,
  userView,
  type DirectoryActor,
  type UserChanges,
} from "../domain/services/users.js";
import { allAuditEvents, auditView, type AuditFilter } from "../domain/services/audit-query.js";
import { verifyAuditTrail } from "../domain/services/audit-verify.js";
import { resolveConfig } from "./serve.js";

interface StoreOpts {
  dataDir: string;
  config?: string;
  demo?: boolean;
  database?: string;
  json?: boolean;
}

interface PasswordOpts {
  passwordEnv?: string;
  passwordStdin?: boolean;
  /** false with --no-password. */
  password?: boolean;
}

const EXIT = { ok: 0, failure: 1, input: 2, broken: 3, notFound: 4 } as const;

class UsageError extends Error {}

export function registerAdminCommands(program: Command): void {
  const admin = program.command("admin").description("administer users, groups and the audit trail on the server's database");
  admin.addHelpText(
    "after",
    "\nExit codes: 0 success, 1 unexpected error, 2 bad input or conflict, 3 audit trail broken, 4 no such user.",
  );

  const user = admin.command("user").description("local users: who may log in, their groups and certificate attributes");
  withStore(user.command("add <name>").description("create a user"))
    .option("--display-name <text>", "display name (certificate subject CN); default the user name")
    .option("--email <address>", "e-mail address (certificate e-mail SAN)")
    .option("--upn <upn>", "user principal name (smart card logon SAN)")
    .option("--group <group>", "group membership; repeat for several", collect, [])
    .option("--disabled", "create the account disabled")
    .addOption(passwordEnvOption())
    .addOption(passwordStdinOption())
    .option("--no-password", "no password: the user signs in through OpenID Connect only")
    .action((name: string, o: StoreOpts & PasswordOpts & { displayName?: string; email?: string; upn?: string; group: string[]; disabled?: boolean }) =>
      run(o, async (store, actor) => {
        const password = o.password === false ? undefined : await readPassword(o, name);
        const u = await createUser(store, actor, { name, displayName: o.displayName, email: o.email, upn: o.upn, groups: o.group, password, disabled: o.disabled });
        show(o, userView(u), `created user ${u.row.name} (${u.row.uuid})`);
      }),
    );

  withStore(user.command("list").description("list users"))
    .option("--group <group>", "only members of this group")
    .option("--top <n>", "at most this many", toInt, 1000)
    .option("--skip <n>", "skip this many", toInt, 0)
    .action((o: StoreOpts & { group?: string; top: number; skip: number }) =>
      run(o, async (store) => {
        const users = (await listUsers(store, { group: o.group, top: o.top, skip: o.skip })).map(userView);
        if (o.json) return printJson(users);
        for (const u of users) process.stdout.write(`${u.Name}\t${u.Disabled ? "disabled" : "enabled"}\t${u.DisplayName}\t${u.Groups.join(",")}\n`);
      }),
    );

  withStore(user.command("show <name>").description("show one user (by name or uuid)")).action((name: string, o: StoreOpts) =>
    run(o, async (store) => {
      const u = userView(await userDetails(store, name));
      if (o.json) return printJson(u);
      for (const [k, v] of Object.entries(u)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(", ") : String(v)}\n`);
    }),
  );

  withStore(user.command("set <name>").description("change display name, e-mail or UPN"))
    .option("--display-name <text>", "display name")
    .option("--email <address>", "e-mail address (empty to clear)")
    .option("--upn <upn>", "user principal name (empty to clear)")
    .action((name: string, o: StoreOpts & { displayName?: string; email?: string; upn?: string }) =>
      change(o, name, { displayName: o.displayName, email: o.email, upn: o.upn }),
    );

  withStore(user.command("disable <name>").description("disable a user: their passwords and tokens stop working at once")).action(
    (name: string, o: StoreOpts) => change(o, name, { disabled: true }),
  );
  withStore(user.command("enable <name>").description("enable a disabled user")).action((name: string, o: StoreOpts) => change(o, name, { disabled: false }));

  withStore(user.command("passwd <name>").description("set a user's password"))
    .addOption(passwordEnvOption())
    .addOption(passwordStdinOption())
    .action((name: string, o: StoreOpts & PasswordOpts) =>
      run(o, async (store, actor) => {
        const u = await updateUser(store, actor, name, { password: await readPassword(o, name) });
        show(o, userView(u), `password of ${u.row.name} changed`);
      }),
    );

  withStore(user.command("groups <name>").description("show or change a user's groups"))
    .option("--add <group>", "add a membership; repeat for several", collect, [])
    .option("--remove <group>", "remove a membership; repeat for several", collect, [])
    .option("--set <groups>", "replace all memberships with this comma-separated list (empty: none)")
    .action((name: string, o: StoreOpts & { add: string[]; remove: string[]; set?: string }) =>
      run(o, async (store, actor) => {
        const changes: UserChanges = { addGroups: o.add, removeGroups: o.remove };
        if (o.set !== undefined) changes.groups = o.set.split(",").map((g) => g.trim()).filter((g) => g !== "");
        const u = await updateUser(store, actor, name, changes);
        show(o, u.groups, u.groups.join("\n") || "(no groups)");
      }),
    );

  const group = admin.command("group").description("groups (they exist while they have members)");
  withStore(group.command("list").description("list groups with their member counts")).action((o: StoreOpts) =>
    run(o, async (store) => {
      const groups = await listGroups(store);
      if (o.json) return printJson(groups);
      for (const g of groups) process.stdout.write(`${g.name}\t${g.members}\n`);
    }),
  );

  const audit = admin.command("audit").description("the hash-chained audit trail");
  withStore(audit.command("verify").description("check that no audit record was changed, inserted or deleted"))
    .option("--anchor <seq:hash>", "also check that record SEQ still has HASH (a head printed by an earlier verify)")
    .action((o: StoreOpts & { anchor?: string }) =>
      run(o, async (store) => {
        const anchor = o.anchor === undefined ? undefined : parseAnchor(o.anchor);
        const r = await verifyAuditTrail(store, anchor);
        if (o.json) printJson(r);
        else if (r.ok) process.stdout.write(`audit trail intact: ${r.records} records, head ${r.lastSeq ?? 0}:${r.lastHash}\n`);
        else process.stderr.write(`audit trail BROKEN${r.brokenAt !== undefined ? ` at record ${r.brokenAt}` : ""}: ${r.problem}\n`);
        return r.ok ? EXIT.ok : EXIT.broken;
      }),
    );

  withStore(audit.command("export").description("write audit records as JSON lines, oldest first"))
    .option("--out <file>", "write to this file (mode 0600) instead of stdout")
    .option("--actor <name>", "only records by this actor (name or uuid)")
    .option("--action <action>", "only this action, or a prefix ending in * (request.*)")
    .option("--request <uuid>", "only records of this request")
    .option("--target <ref>", "only records targeting this object uuid or user name")
    .option("--from <time>", "from this ISO-8601 time (inclusive)")
    .option("--to <time>", "up to this ISO-8601 time (exclusive)")
    .action((o: StoreOpts & AuditFilter & { out?: string }) =>
      run(o, async (store) => {
        const out = o.out ? createWriteStream(resolve(o.out), { mode: 0o600 }) : process.stdout;
        let n = 0;
        for await (const row of allAuditEvents(store, { actor: o.actor, action: o.action, request: o.request, target: o.target, from: o.from, to: o.to })) {
          if (!out.write(`${JSON.stringify(auditView(row))}\n`)) await once(out, "drain");
          n++;
        }
        if (o.out) {
          await new Promise<void>((res) => out.end(() => res()));
          process.stderr.write(`${n} records written to ${o.out}\n`);
        }
      }),
    );
}

function withStore(cmd: Command): Command {
  return cmd
    .option("--data-dir <dir>", "the server's data directory", resolve(homedir(), ".openclm", "server"))
    .option("--config <file>", "the server's YAML configuration (for its database URL)")
    .option("--demo", "the demo configuration")
    .option("--database <url>", "sqlite:<path> or postgres://… (overrides the configuration)")
    .option("--json", "machine-readable output");
}

const passwordEnvOption = () => new Option("--password-env <var>", "read the password from this environment variable");
const passwordStdinOption = () => new Option("--password-stdin", "read the password from the first line of stdin");

const collect = (value: string, previous: string[]) => [...previous, value];

function toInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("not a non-negative integer");
  return n;
}

function parseAnchor(text: string): { seq: number; hash: string } {
  const m = /^(\d+):([0-9a-f]{64})$/i.exec(text.trim());
  if (!m) throw new UsageError("--anchor: SEQ:HASH, as `audit verify` prints the head");
  return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

async function readPassword(o: PasswordOpts, name: string): Promise<string> {
  if (o.passwordEnv) {
    const v = process.env[o.passwordEnv];
    if (v === undefined) throw new UsageError(`--password-env ${o.passwordEnv}: the environment variable is not set`);
    return v;
  }
  if (o.passwordStdin) return readStdinLine();
  const prompter = new Prompter();
  if (!prompter.interactive) throw new UsageError("no password given: use --password-env VAR or --password-stdin when not on a terminal");
  for (;;) {
    const first = await prompter.askHidden(`New password for ${name} (at least ${MIN_PASSWORD_LENGTH} characters):`);
    if ((await prompter.askHidden("Repeat the password:")) === first) return first;
    process.stderr.write("the two passwords differ, try again\n");
  }
}

async function readStdinLine(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += chunk.toString();
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0]!;
}

function change(o: StoreOpts, name: string, changes: UserChanges): Promise<void> {
  return run(o, async (store, actor) => {
    const u = await updateUser(store, actor, name, changes);
    show(o, userView(u), `${u.row.name}: ${u.row.disabled ? "disabled" : "enabled"}, ${u.row.display_name} <${u.row.email}> ${u.row.upn}`);
  });
}

function show(o: StoreOpts, json: unknown, text: string): void {
  if (o.json) printJson(json);
  else process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Opens the database as `serve` would, runs the body, closes, and sets the exit code. */
async function run(o: StoreOpts, body: (store: Store, actor: DirectoryActor) => Promise<number | void>): Promise<void> {
  const config = resolveConfig(o);
  const { openStore } = await import("../store/open.js");
  let store: Store | undefined;
  try {
    store = await openStore({ url: config.database, dataDir: resolve(o.dataDir) });
    const actor: DirectoryActor = { uuid: null, name: `cli:${osUser()}`, correlationId: randomUUID() };
    process.exitCode = (await body(store, actor)) ?? EXIT.ok;
  } catch (e) {
    process.exitCode = report(e);
  } finally {
    await store?.close();
  }
}

function report(e: unknown): number {
  if (e instanceof DomainError || e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n`);
    if (e instanceof DomainError && e.kind === "notFound") return EXIT.notFound;
    return EXIT.input;
  }
  process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
  return EXIT.failure;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? "unknown"}`;
  }
}
