// One meeting: when it is, how to get in, the join link, what its hosts may do with it, and
// (for them) its recordings.

import { ApiError, get, post } from "../api.js";
import { h, toast } from "../dom.js";
import { formatDate, formatDateTime, formatList, t, weekdayName } from "../i18n.js";
import { page, problem, signInPath } from "../layout.js";
import { navigate, render } from "../router.js";
import { session } from "../session.js";
import { copyLinkButton, joinLink, meetingActions, settingBadges, stateBadge, when } from "./meeting_actions.js";
import { recordingsSection } from "./recordings.js";

const EVERY = { daily: "meeting.repeat.daily", weekly: "meeting.repeat.weekly", monthly: "meeting.repeat.monthly" };

function repeatText(rec) {
  if (!rec) return t("meeting.repeat.once");
  let text = EVERY[rec.freq] ? t(EVERY[rec.freq], { count: rec.interval }) : rec.freq;
  if (rec.weekdays?.length) text += t("meeting.repeat.on", { days: rec.weekdays.map((d) => weekdayName(d)).join(", ") });
  if (rec.count) text += t("meeting.repeat.times", { count: rec.count });
  if (rec.until) text += t("meeting.repeat.until", { date: formatDate(rec.until) });
  return text;
}

async function occurrences(m) {
  if (!m.schedule?.recurrence) return null;
  try {
    const list = await get(`/api/v1/meetings/${encodeURIComponent(m.id)}/occurrences?limit=5`);
    return h("div", { class: "stack-s" }, h("h2", {}, t("meeting.nextTimes")),
      h("ul", { class: "plain", testid: "meeting-occurrences" },
        list.map((o) => h("li", {}, formatDateTime(o.start_utc, m.schedule.time_zone)))));
  } catch {
    return null;
  }
}

function restartButton(m) {
  return h("button", {
    class: "btn btn--primary", type: "button", testid: "meeting-restart",
    onclick: async () => {
      try {
        await post(`/api/v1/meetings/${encodeURIComponent(m.id)}/restart`);
        toast(t("meeting.restarted"));
        render();
      } catch (err) {
        toast(err.detail || String(err), { kind: "error" });
      }
    },
  }, t("meeting.restart"));
}

export async function meetingPage(root, { id }) {
  let m;
  try {
    m = await get(`/api/v1/meetings/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return navigate(signInPath(), { replace: true });
    return problem(root, t("meeting.title"), err.detail || String(err),
      h("a", { class: "btn", href: session.account ? "/meetings" : "/signin" }, t("meeting.back")));
  }
  const people = m.owner
    ? h("p", { class: "muted" }, m.cohosts.length
      ? t("meeting.hostedWith", { owner: m.owner.display_name, cohosts: formatList(m.cohosts.map((c) => c.display_name)) })
      : t("meeting.hostedBy", { owner: m.owner.display_name }))
    : null;
  const link = h("input", { readonly: true, value: joinLink(m.id), testid: "join-link", "aria-label": t("meeting.joinLink"),
    onfocus: (e) => e.target.select() });
  const recordings = m.can_manage ? recordingsSection(m) : null;
  page(root, m.title,
    h("section", { class: "card", testid: "meeting-view", dataset: { meetingId: m.id } },
      h("div", { class: "page-head" }, h("h1", { testid: "meeting-heading" }, m.title), stateBadge(m.state)),
      m.description ? h("p", { class: "description" }, m.description) : null,
      h("dl", { class: "facts" },
        h("dt", {}, t("meeting.fact.when")), h("dd", { testid: "meeting-when" }, when(m)),
        m.schedule ? [h("dt", {}, t("meeting.fact.repeats")), h("dd", { testid: "meeting-repeats" }, repeatText(m.schedule.recurrence))] : null,
        h("dt", {}, t("meeting.fact.participants")), h("dd", {}, t("meeting.upTo", { count: m.max_participants }))),
      h("div", { class: "badges" }, settingBadges(m)),
      people,
      h("div", { class: "link-row" }, link, copyLinkButton(m.id)),
      meetingActions(m, { onDeleted: () => navigate("/meetings"), copy: false }),
      m.state === "ended" && m.can_manage ? restartButton(m) : null,
      await occurrences(m)),
    recordings?.el);
  return () => recordings?.stop();
}
