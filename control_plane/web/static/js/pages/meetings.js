// The meetings list: upcoming, live now, and all of mine.

import { get } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { page, signInPath } from "../layout.js";
import { navigate } from "../router.js";
import { atLeast, session } from "../session.js";
import { meetingActions, settingBadges, stateBadge, when } from "./meeting_actions.js";

const SCOPES = [["upcoming", "meetings.upcoming"], ["live", "meetings.live"], ["mine", "meetings.mine"]];

function row(m, reload) {
  return h("li", { class: "meeting", testid: "meeting-row", dataset: { meetingId: m.id } },
    h("div", { class: "meeting-main" },
      h("a", { class: "meeting-title", href: `/meetings/${encodeURIComponent(m.id)}`, testid: "meeting-title" }, m.title),
      h("div", { class: "meeting-when muted" }, when(m)),
      h("div", { class: "badges" }, stateBadge(m.state), settingBadges(m))),
    meetingActions(m, { onDeleted: reload, primary: m.state === "live" }));
}

export async function meetingsPage(root, _params, query) {
  if (!session.account) return navigate(signInPath(), { replace: true });
  const scope = SCOPES.some(([s]) => s === query.get("scope")) ? query.get("scope") : "upcoming";
  const list = h("ul", { class: "meetings", testid: "meetings-list", "aria-busy": "true" });
  const tabs = h("div", { class: "tabs", role: "tablist" },
    SCOPES.map(([s, label]) => h("a", {
      href: `/meetings?scope=${s}`, role: "tab", class: ["tab", s === scope && "tab--on"],
      "aria-selected": s === scope ? "true" : "false", testid: `scope-${s}`,
    }, t(label))));
  const load = async () => {
    list.setAttribute("aria-busy", "true");
    try {
      const meetings = await get(`/api/v1/meetings?scope=${scope}`);
      list.replaceChildren(...(meetings.length
        ? meetings.map((m) => row(m, load))
        : [h("li", { class: "empty muted", testid: "meetings-empty" }, scope === "live" ? t("meetings.noneLive") : t("meetings.none"))]));
    } catch (err) {
      list.replaceChildren(h("li", { class: "form-error" }, err.detail || String(err)));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  };
  page(root, t("meetings.title"),
    h("div", { class: "page-head" }, h("h1", {}, t("meetings.title")),
      atLeast("host") ? h("a", { class: "btn btn--primary", href: "/meetings/new", testid: "new-meeting" }, t("nav.newMeeting")) : null),
    tabs, list);
  await load();
  const timer = setInterval(() => { if (scope === "live") load(); }, 15000);
  return () => clearInterval(timer);
}
