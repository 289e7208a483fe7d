// One meeting: when it is, how to get in, the join link, what its hosts may do with it, and
// (for them) its recordings.

import { ApiError, get, post } from "../api.js";
import { formatDateTime, h, toast } from "../dom.js";
import { page, problem, signInPath } from "../layout.js";
import { navigate, render } from "../router.js";
import { session } from "../session.js";
import { copyLinkButton, joinLink, meetingActions, settingBadges, stateBadge, when } from "./meeting_actions.js";
import { recordingsSection } from "./recordings.js";

const FREQ = { daily: ["day", "days"], weekly: ["week", "weeks"], monthly: ["month", "months"] };

function repeatText(rec) {
  if (!rec) return "Once";
  const [one, many] = FREQ[rec.freq];
  let text = rec.interval > 1 ? `Every ${rec.interval} ${many}` : `Every ${one}`;
  if (rec.weekdays?.length) text += ` on ${rec.weekdays.join(", ")}`;
  if (rec.count) text += `, ${rec.count} times`;
  if (rec.until) text += `, until ${rec.until}`;
  return text;
}

async function occurrences(m) {
  if (!m.schedule?.recurrence) return null;
  try {
    const list = await get(`/api/v1/meetings/${encodeURIComponent(m.id)}/occurrences?limit=5`);
    return h("div", { class: "stack-s" }, h("h2", {}, "Next times"),
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
        toast("The meeting can be joined again");
        render();
      } catch (err) {
        toast(err.detail || String(err), { kind: "error" });
      }
    },
  }, "Make it joinable again");
}

export async function meetingPage(root, { id }) {
  let m;
  try {
    m = await get(`/api/v1/meetings/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return navigate(signInPath(), { replace: true });
    return problem(root, "Meeting", err.detail || String(err),
      h("a", { class: "btn", href: session.account ? "/meetings" : "/signin" }, "Back"));
  }
  const people = m.owner
    ? h("p", { class: "muted" }, `Hosted by ${m.owner.display_name}`,
      m.cohosts.length ? ` with ${m.cohosts.map((c) => c.display_name).join(", ")}` : "")
    : null;
  const link = h("input", { readonly: true, value: joinLink(m.id), testid: "join-link", "aria-label": "Join link",
    onfocus: (e) => e.target.select() });
  const recordings = m.can_manage ? recordingsSection(m) : null;
  page(root, m.title,
    h("section", { class: "card", testid: "meeting-view", dataset: { meetingId: m.id } },
      h("div", { class: "page-head" }, h("h1", { testid: "meeting-heading" }, m.title), stateBadge(m.state)),
      m.description ? h("p", { class: "description" }, m.description) : null,
      h("dl", { class: "facts" },
        h("dt", {}, "When"), h("dd", { testid: "meeting-when" }, when(m)),
        m.schedule ? [h("dt", {}, "Repeats"), h("dd", { testid: "meeting-repeats" }, repeatText(m.schedule.recurrence))] : null,
        h("dt", {}, "Participants"), h("dd", {}, `up to ${m.max_participants}`)),
      h("div", { class: "badges" }, settingBadges(m)),
      people,
      h("div", { class: "link-row" }, link, copyLinkButton(m.id)),
      meetingActions(m, { onDeleted: () => navigate("/meetings"), copy: false }),
      m.state === "ended" && m.can_manage ? restartButton(m) : null,
      await occurrences(m)),
    recordings?.el);
  return () => recordings?.stop();
}
