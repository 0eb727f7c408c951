// Users and groups of the local directory (GET/POST/PUT /admin/users, GET /admin/groups).
import { useState, type FormEvent } from "react";
import { ApiError, get, post, put } from "../api";
import { formatDate } from "../format";
import { useSession } from "../session";
import { Badge, Empty, ErrorMessage, Loading, PageTitle, Section, Success, useApi } from "../components/ui";

interface DirectoryUser {
  Uuid: string;
  Name: string;
  DisplayName: string;
  Email: string;
  Upn: string;
  Groups: string[];
  Disabled: boolean;
  Source: string;
  HasPassword: boolean;
  Created: string;
}

interface Group {
  Name: string;
  Members: number;
}

const splitGroups = (text: string) =>
  text
    .split(/[,\s]+/)
    .map((g) => g.trim())
    .filter(Boolean);

/** A 404 from an extension route: this server does not offer it. */
export function NotAvailable({ error, what }: { error: unknown; what: string }) {
  if (error instanceof ApiError && error.status === 404 && error.code === "NotFound")
    return (
      <Empty>
        <p>{what} is not available on this server.</p>
        <p className="hint">The server answered: {error.message}.</p>
      </Empty>
    );
  return <ErrorMessage error={error} title={`${what} could not be loaded`} />;
}

function UserForm({ user, onSaved }: { user?: DirectoryUser; onSaved: (u: string) => void }) {
  const [name, setName] = useState(user?.Name ?? "");
  const [displayName, setDisplayName] = useState(user?.DisplayName ?? "");
  const [email, setEmail] = useState(user?.Email ?? "");
  const [upn, setUpn] = useState(user?.Upn ?? "");
  const [groups, setGroups] = useState(user?.Groups.join(", ") ?? "");
  const [password, setPassword] = useState("");
  const [disabled, setDisabled] = useState(user?.Disabled ?? false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const p = user ? `edit-${user.Name}` : "new";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { displayname: displayName, email, upn, groups: splitGroups(groups), disabled };
      if (password) body.password = password;
      if (user) await put(`/admin/users/${encodeURIComponent(user.Name)}`, body);
      else await post("/admin/users", { name: name.trim(), ...body });
      setPassword("");
      onSaved(user ? user.Name : name.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form form-grid" onSubmit={(e) => void submit(e)}>
      <ErrorMessage error={error} title={user ? "The user was not saved" : "The user was not created"} />
      {!user && (
        <div className="field">
          <label htmlFor={`${p}-name`}>User name</label>
          <input id={`${p}-name`} value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
        </div>
      )}
      <div className="field">
        <label htmlFor={`${p}-display`}>Display name</label>
        <input id={`${p}-display`} value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${p}-email`}>E-mail</label>
        <input id={`${p}-email`} type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${p}-upn`}>User principal name</label>
        <input id={`${p}-upn`} value={upn} onChange={(e) => setUpn(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${p}-groups`}>Groups (comma-separated)</label>
        <input id={`${p}-groups`} value={groups} onChange={(e) => setGroups(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${p}-password`}>{user ? "New password (leave empty to keep)" : "Password (leave empty for none)"}</label>
        <input id={`${p}-password`} type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      <div className="field field-check">
        <input id={`${p}-disabled`} type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} />
        <label htmlFor={`${p}-disabled`}>Disabled (cannot sign in)</label>
      </div>
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : user ? "Save changes" : "Create user"}
        </button>
      </div>
    </form>
  );
}

export function AdminUsers() {
  const { user: me } = useSession();
  const [group, setGroup] = useState("");
  const [filter, setFilter] = useState("");
  const [editing, setEditing] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const users = useApi((signal) => get<DirectoryUser[]>(`/admin/users?top=1000${filter ? `&group=${encodeURIComponent(filter)}` : ""}`, signal), [filter]);
  const groups = useApi((signal) => get<Group[]>("/admin/groups", signal), []);

  const onSaved = (name: string) => {
    setSaved(name);
    setEditing(null);
    setAdding(false);
    users.reload();
    groups.reload();
  };

  return (
    <>
      <PageTitle lead="The local user directory. Principals in policies are user:NAME or group:NAME.">Users and groups</PageTitle>
      {saved && (
        <Success>
          <p>User {saved} saved.</p>
        </Success>
      )}
      <Section title="Groups">
        {groups.error ? <NotAvailable error={groups.error} what="The group list" /> : null}
        {groups.loading && !groups.data && <Loading what="groups" />}
        {groups.data && groups.data.length === 0 && <Empty>No groups yet.</Empty>}
        {groups.data && groups.data.length > 0 && (
          <ul className="chips" aria-label="Groups">
            {groups.data.map((g) => (
              <li key={g.Name}>
                <button type="button" className={`chip${filter === g.Name ? " chip-active" : ""}`} aria-pressed={filter === g.Name} onClick={() => setFilter(filter === g.Name ? "" : g.Name)}>
                  {g.Name} <span className="chip-count">{g.Members}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section
        title={filter ? `Users in ${filter}` : "Users"}
        actions={
          me.isAdmin && !adding ? (
            <button type="button" className="button-secondary" onClick={() => setAdding(true)}>
              Add user
            </button>
          ) : undefined
        }
      >
        {adding && (
          <div className="panel">
            <h3>New user</h3>
            <UserForm onSaved={onSaved} />
            <button type="button" className="button-link" onClick={() => setAdding(false)}>
              Cancel
            </button>
          </div>
        )}
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter(group.trim());
          }}
        >
          <label htmlFor="group-filter">Show members of group</label>
          <input id="group-filter" value={group} onChange={(e) => setGroup(e.target.value)} placeholder="all users" />
          <button type="submit" className="button-secondary">
            Filter
          </button>
        </form>
        {users.error ? <NotAvailable error={users.error} what="The user directory" /> : null}
        {users.loading && !users.data && <Loading what="users" />}
        {users.data && users.data.length === 0 && <Empty>No users{filter ? ` in ${filter}` : ""}.</Empty>}
        {users.data && users.data.length > 0 && (
          <div className="table-wrap">
            <table className="table">
              <caption>{users.data.length} users</caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Display name</th>
                  <th scope="col">E-mail</th>
                  <th scope="col">Groups</th>
                  <th scope="col">Source</th>
                  <th scope="col">Created</th>
                  <th scope="col">Status</th>
                  {me.isAdmin && (
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <tr key={u.Uuid}>
                    <td>{u.Name}</td>
                    <td>{u.DisplayName}</td>
                    <td>{u.Email}</td>
                    <td>{u.Groups.join(", ") || "—"}</td>
                    <td>{u.Source}</td>
                    <td>{formatDate(u.Created, false)}</td>
                    <td>
                      <Badge status={u.Disabled ? "Disabled" : "Active"} />
                    </td>
                    {me.isAdmin && (
                      <td>
                        <button type="button" className="button-link" onClick={() => setEditing(editing === u.Name ? null : u.Name)} aria-expanded={editing === u.Name}>
                          Edit<span className="visually-hidden"> {u.Name}</span>
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {editing && users.data?.find((u) => u.Name === editing) && (
          <div className="panel">
            <h3>Edit {editing}</h3>
            <UserForm key={editing} user={users.data.find((u) => u.Name === editing)} onSaved={onSaved} />
            <button type="button" className="button-link" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
        )}
      </Section>
    </>
  );
}
