// Administration (admins only): accounts (create, role, disable, reset a password), the live edges
// with their load, every recording, and the audit log. Each tab reads the same API as `curious`.

import { get, patch, post } from "../api.js";
import { h, toast } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
import { page, signInPath } from "../layout.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

const TABS = [["accounts", "Accounts"], ["edges", "Edges"], ["recordings", "Recordings"], ["audit", "Audit log"]];
const ROLES = ["admin", "host", "member", "guest"];

function when(iso) {
  if (!iso) return "—";
  const d = typeof iso === "number" ? new Date(iso * 1000) : new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function table(testid, head, rows, empty) {
  if (!rows.length) return h("p", { class: "muted empty", testid: `${testid}-empty` }, empty);
  return h("div", { class: "table-wrap" }, h("table", { class: "table", testid },
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, ...rows)));
}

// -- accounts -------------------------------------------------------------------------------------
function accountRow(a, reload) {
  const me = a.id === session.account.id;
  const role = h("select", { class: "select--small", testid: "account-role", "aria-label": `Role of ${a.username}`, disabled: me },
    ...ROLES.map((r) => h("option", { value: r, selected: r === a.role }, r)));
  role.addEventListener("change", async () => {
    try {
      await patch(`/api/v1/accounts/${encodeURIComponent(a.id)}`, { role: role.value });
      toast(`${a.username} is now ${role.value}`);
      await reload();
    } catch (err) {
      toast(err.detail || err.message, { kind: "error" });
      role.value = a.role;
    }
  });
  const disable = h("button", { class: ["btn", "btn--small", a.disabled ? "" : "btn--danger-quiet"], type: "button",
    testid: "account-disable", disabled: me }, a.disabled ? "Enable" : "Disable");
  disable.addEventListener("click", async () => {
    disable.disabled = true;
    try {
      await patch(`/api/v1/accounts/${encodeURIComponent(a.id)}`, { disabled: !a.disabled });
      await reload();
    } catch (err) {
      toast(err.detail || err.message, { kind: "error" });
      disable.disabled = false;
    }
  });
  const reset = a.source === "local" && !me
    ? h("button", { class: "btn btn--small", type: "button", testid: "account-reset" }, "Reset password") : null;
  reset?.addEventListener("click", async () => {
    reset.disabled = true;
    try {
      const answer = await post(`/api/v1/accounts/${encodeURIComponent(a.id)}/password`, {});
      reset.replaceWith(h("span", { class: "secret", testid: "account-new-password" },
        "New password (shown once): ", h("code", {}, answer.password)));
    } catch (err) {
      toast(err.detail || err.message, { kind: "error" });
      reset.disabled = false;
    }
  });
  return h("tr", { testid: "account-row", dataset: { accountId: a.id, username: a.username, disabled: String(a.disabled) } },
    h("td", {}, h("strong", { testid: "account-username" }, a.username), h("div", { class: "muted" }, a.display_name)),
    h("td", {}, role),
    h("td", {}, a.source),
    h("td", { testid: "account-state" }, a.disabled ? "disabled" : "active"),
    h("td", {}, when(a.last_login_at)),
    h("td", { class: "row-actions" }, disable, reset));
}

function newAccountForm(reload) {
  const username = h("input", { name: "username", required: true, autocomplete: "off", testid: "new-account-username" });
  const name = h("input", { name: "display_name", autocomplete: "off", testid: "new-account-name" });
  const role = h("select", { name: "role", testid: "new-account-role" }, ...ROLES.map((r) => h("option", { value: r, selected: r === "member" }, r)));
  const result = h("p", { class: "secret", testid: "new-account-password", hidden: true });
  const form = h("form", { class: "card form-inline", testid: "new-account", "aria-label": "New account" },
    h("h2", {}, "New local account"),
    field("User name", username, { name: "username" }), field("Display name", name, { name: "display_name" }),
    field("Role", role, { name: "role" }), formError(),
    h("button", { class: "btn btn--primary", type: "submit", testid: "new-account-create" }, "Create"), result);
  onSubmit(form, async () => {
    const answer = await post("/api/v1/accounts", {
      username: username.value.trim(), role: role.value, ...(name.value.trim() ? { display_name: name.value.trim() } : {}),
    });
    result.hidden = false;
    result.replaceChildren(`${answer.account.username} created. Password (shown once): `, h("code", {}, answer.password));
    form.reset();
    await reload();
  });
  return form;
}

async function accountsTab(body) {
  const list = h("div", { "aria-busy": "true" });
  const load = async () => {
    const accounts = await get("/api/v1/accounts");
    list.replaceChildren(table("accounts", ["Account", "Role", "Source", "State", "Last sign-in", ""],
      accounts.map((a) => accountRow(a, load)), "No accounts."));
    list.setAttribute("aria-busy", "false");
  };
  body.replaceChildren(newAccountForm(load), list);
  await load();
}

// -- edges, recordings, audit -------------------------------------------------------------------
async function edgesTab(body) {
  const edges = await get("/api/v1/edges");
  body.replaceChildren(table("edges", ["Edge", "Region", "Machine", "CPU", "Meetings", "Participants", "Streams", "State"],
    edges.map((e) => h("tr", { testid: "edge-row", dataset: { edgeId: e.edge_id } },
      h("td", {}, h("strong", {}, e.edge_id), h("div", { class: "muted" }, e.public_url)),
      h("td", {}, e.region), h("td", {}, e.machine || "—"),
      h("td", { testid: "edge-cpu" }, `${Math.round(e.cpu_pct)} %`),
      h("td", { testid: "edge-meetings" }, String(e.meetings)), h("td", { testid: "edge-participants" }, String(e.participants)),
      h("td", {}, String(e.streams)), h("td", {}, e.draining ? "draining" : "live"))),
    "No edge is live."));
}

async function recordingsTab(body) {
  const recordings = await get("/api/v1/recordings?limit=200");
  body.replaceChildren(table("recordings", ["Recording", "Meeting", "State", "Started", "Seconds", "Size"],
    recordings.map((r) => h("tr", { testid: "recording-row", dataset: { recordingId: r.id } },
      h("td", {}, h("code", {}, r.id)),
      h("td", {}, h("a", { href: `/meetings/${encodeURIComponent(r.meeting_id)}` }, r.meeting_id)),
      h("td", {}, r.state), h("td", {}, when(r.started_at)), h("td", {}, String(Math.round(r.duration_s || 0))),
      h("td", {}, `${((r.bytes || 0) / 1e6).toFixed(1)} MB`))),
    "Nothing has been recorded."));
}

async function auditTab(body) {
  const entries = await get("/api/v1/audit?limit=200");
  body.replaceChildren(table("audit", ["When", "Who", "Action", "On"],
    entries.map((e) => h("tr", { testid: "audit-row", dataset: { action: e.action } },
      h("td", {}, when(e.at)),
      h("td", {}, e.actor_username || e.actor_kind),
      h("td", { testid: "audit-action" }, e.action),
      h("td", {}, `${e.target_kind} ${e.target_id}`.trim()))),
    "No entries yet."));
}

const LOADERS = { accounts: accountsTab, edges: edgesTab, recordings: recordingsTab, audit: auditTab };

export async function adminPage(root, params) {
  if (!session.account) return navigate(signInPath(), { replace: true });
  const tab = LOADERS[params.tab] ? params.tab : "accounts";
  if (session.account.role !== "admin") {
    page(root, "Administration", h("section", { class: "card narrow", testid: "problem" },
      h("h1", {}, "Administration"), h("p", {}, "Only administrators may see these pages.")));
    return undefined;
  }
  const body = h("section", { class: "admin-body", testid: `admin-${tab}`, "aria-live": "polite" },
    h("p", { class: "muted" }, "Loading…"));
  page(root, "Administration",
    h("div", { class: "page-head" }, h("h1", {}, "Administration")),
    h("nav", { class: "tabs", "aria-label": "Administration" },
      ...TABS.map(([t, label]) => h("a", { href: `/admin/${t}`, class: ["tab", t === tab && "tab--on"], testid: `admin-tab-${t}`,
        "aria-current": t === tab ? "page" : null }, label))),
    body);
  try {
    await LOADERS[tab](body);
  } catch (err) {
    body.replaceChildren(h("p", { class: "form-error", role: "alert" }, err.detail || String(err)));
  }
  return undefined;
}
