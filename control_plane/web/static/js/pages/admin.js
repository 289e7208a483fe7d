// Administration (admins only): accounts (create, role, disable, reset a password), the live edges
// with their load, every recording, and the audit log. Each tab reads the same API as `curious`.

import { get, patch, post } from "../api.js";
import { h, toast } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
import { formatDateTime, formatNumber, t } from "../i18n.js";
import { page, signInPath } from "../layout.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

const TABS = [["accounts", "admin.tab.accounts"], ["edges", "admin.tab.edges"], ["recordings", "admin.tab.recordings"],
  ["audit", "admin.tab.audit"]];
const ROLES = ["admin", "host", "member", "guest"];
/** A role's name as shown (the API's value stays the option's value). */
export const ROLE_NAMES = { admin: "role.admin", host: "role.host", member: "role.member", guest: "role.guest" };
const RECORDING_STATES = { recording: "recordings.state.recording", stopped: "recordings.state.stopped", failed: "recordings.state.failed" };

const named = (table, value) => (table[value] ? t(table[value]) : value);

function when(iso) {
  return iso ? formatDateTime(iso) : "—";
}

/** A table with a header row of catalogue keys ("" for none), or *empty* when there are no rows. */
function table(testid, head, rows, empty) {
  if (!rows.length) return h("p", { class: "muted empty", testid: `${testid}-empty` }, empty);
  return h("div", { class: "table-wrap" }, h("table", { class: "table", testid },
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { scope: "col" }, c && t(c))))),
    h("tbody", {}, ...rows)));
}

// -- accounts -------------------------------------------------------------------------------------
function accountRow(a, reload) {
  const me = a.id === session.account.id;
  const role = h("select", { class: "select--small", testid: "account-role", "aria-label": t("admin.roleOf", { username: a.username }), disabled: me },
    ...ROLES.map((r) => h("option", { value: r, selected: r === a.role }, named(ROLE_NAMES, r))));
  role.addEventListener("change", async () => {
    try {
      await patch(`/api/v1/accounts/${encodeURIComponent(a.id)}`, { role: role.value });
      toast(t("admin.roleChanged", { username: a.username, role: named(ROLE_NAMES, role.value) }));
      await reload();
    } catch (err) {
      toast(err.detail || err.message, { kind: "error" });
      role.value = a.role;
    }
  });
  const disable = h("button", { class: ["btn", "btn--small", a.disabled ? "" : "btn--danger-quiet"], type: "button",
    testid: "account-disable", disabled: me }, a.disabled ? t("admin.enable") : t("admin.disable"));
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
    ? h("button", { class: "btn btn--small", type: "button", testid: "account-reset" }, t("admin.resetPassword")) : null;
  reset?.addEventListener("click", async () => {
    reset.disabled = true;
    try {
      const answer = await post(`/api/v1/accounts/${encodeURIComponent(a.id)}/password`, {});
      reset.replaceWith(h("span", { class: "secret", testid: "account-new-password" },
        t("admin.newPasswordOnce"), " ", h("code", {}, answer.password)));
    } catch (err) {
      toast(err.detail || err.message, { kind: "error" });
      reset.disabled = false;
    }
  });
  return h("tr", { testid: "account-row", dataset: { accountId: a.id, username: a.username, disabled: String(a.disabled) } },
    h("td", {}, h("strong", { testid: "account-username" }, a.username), h("div", { class: "muted" }, a.display_name)),
    h("td", {}, role),
    h("td", {}, a.source),
    h("td", { testid: "account-state" }, a.disabled ? t("admin.state.disabled") : t("admin.state.active")),
    h("td", {}, when(a.last_login_at)),
    h("td", { class: "row-actions" }, disable, reset));
}

function newAccountForm(reload) {
  const username = h("input", { name: "username", required: true, autocomplete: "off", testid: "new-account-username" });
  const name = h("input", { name: "display_name", autocomplete: "off", testid: "new-account-name" });
  const role = h("select", { name: "role", testid: "new-account-role" }, ...ROLES.map((r) => h("option", { value: r, selected: r === "member" }, named(ROLE_NAMES, r))));
  const result = h("p", { class: "secret", testid: "new-account-password", hidden: true });
  const form = h("form", { class: "card form-inline", testid: "new-account", "aria-label": t("admin.newAccount") },
    h("h2", {}, t("admin.newLocalAccount")),
    field(t("signin.username"), username, { name: "username" }), field(t("register.displayName"), name, { name: "display_name" }),
    field(t("admin.role"), role, { name: "role" }), formError(),
    h("button", { class: "btn btn--primary", type: "submit", testid: "new-account-create" }, t("admin.create")), result);
  onSubmit(form, async () => {
    const answer = await post("/api/v1/accounts", {
      username: username.value.trim(), role: role.value, ...(name.value.trim() ? { display_name: name.value.trim() } : {}),
    });
    result.hidden = false;
    result.replaceChildren(t("admin.created", { username: answer.account.username }), " ", h("code", {}, answer.password));
    form.reset();
    await reload();
  });
  return form;
}

async function accountsTab(body) {
  const list = h("div", { "aria-busy": "true" });
  const load = async () => {
    const accounts = await get("/api/v1/accounts");
    list.replaceChildren(table("accounts", ["admin.col.account", "admin.role", "admin.col.source", "admin.col.state",
      "admin.col.lastSignIn", ""], accounts.map((a) => accountRow(a, load)), t("admin.noAccounts")));
    list.setAttribute("aria-busy", "false");
  };
  body.replaceChildren(newAccountForm(load), list);
  await load();
}

// -- edges, recordings, audit -------------------------------------------------------------------
async function edgesTab(body) {
  const edges = await get("/api/v1/edges");
  body.replaceChildren(table("edges", ["admin.col.edge", "admin.col.region", "admin.col.machine", "admin.col.cpu",
    "admin.col.meetings", "admin.col.participants", "admin.col.streams", "admin.col.state"],
    edges.map((e) => h("tr", { testid: "edge-row", dataset: { edgeId: e.edge_id } },
      h("td", {}, h("strong", {}, e.edge_id), h("div", { class: "muted" }, e.public_url)),
      h("td", {}, e.region), h("td", {}, e.machine || "—"),
      h("td", { testid: "edge-cpu" }, formatNumber(e.cpu_pct / 100, { style: "percent" })),
      h("td", { testid: "edge-meetings" }, formatNumber(e.meetings)), h("td", { testid: "edge-participants" }, formatNumber(e.participants)),
      h("td", {}, formatNumber(e.streams)), h("td", {}, e.draining ? t("admin.edge.draining") : t("admin.edge.live")))),
    t("admin.noEdges")));
}

async function recordingsTab(body) {
  const recordings = await get("/api/v1/recordings?limit=200");
  body.replaceChildren(table("recordings", ["admin.col.recording", "admin.col.meeting", "admin.col.state", "admin.col.started",
    "admin.col.seconds", "recordings.col.size"],
    recordings.map((r) => h("tr", { testid: "recording-row", dataset: { recordingId: r.id } },
      h("td", {}, h("code", {}, r.id)),
      h("td", {}, h("a", { href: `/meetings/${encodeURIComponent(r.meeting_id)}` }, r.meeting_id)),
      h("td", {}, named(RECORDING_STATES, r.state)), h("td", {}, when(r.started_at)),
      h("td", {}, formatNumber(Math.round(r.duration_s || 0))),
      h("td", {}, `${formatNumber((r.bytes || 0) / 1e6, { minimumFractionDigits: 1, maximumFractionDigits: 1 })} MB`))),
    t("admin.noRecordings")));
}

async function auditTab(body) {
  const entries = await get("/api/v1/audit?limit=200");
  body.replaceChildren(table("audit", ["admin.col.when", "admin.col.who", "admin.col.action", "admin.col.on"],
    entries.map((e) => h("tr", { testid: "audit-row", dataset: { action: e.action } },
      h("td", {}, when(e.at)),
      h("td", {}, e.actor_username || e.actor_kind),
      h("td", { testid: "audit-action" }, e.action),
      h("td", {}, `${e.target_kind} ${e.target_id}`.trim()))),
    t("admin.noEntries")));
}

const LOADERS = { accounts: accountsTab, edges: edgesTab, recordings: recordingsTab, audit: auditTab };

export async function adminPage(root, params) {
  if (!session.account) return navigate(signInPath(), { replace: true });
  const tab = LOADERS[params.tab] ? params.tab : "accounts";
  if (session.account.role !== "admin") {
    page(root, t("nav.admin"), h("section", { class: "card narrow", testid: "problem" },
      h("h1", {}, t("nav.admin")), h("p", {}, t("admin.onlyAdmins"))));
    return undefined;
  }
  const body = h("section", { class: "admin-body", testid: `admin-${tab}`, "aria-live": "polite" },
    h("p", { class: "muted" }, t("app.loading")));
  page(root, t("nav.admin"),
    h("div", { class: "page-head" }, h("h1", {}, t("nav.admin"))),
    h("nav", { class: "tabs", "aria-label": t("nav.admin") },
      ...TABS.map(([name, label]) => h("a", { href: `/admin/${name}`, class: ["tab", name === tab && "tab--on"],
        testid: `admin-tab-${name}`, "aria-current": name === tab ? "page" : null }, t(label)))),
    body);
  try {
    await LOADERS[tab](body);
  } catch (err) {
    body.replaceChildren(h("p", { class: "form-error", role: "alert" }, err.detail || String(err)));
  }
  return undefined;
}
