// What can be done with a meeting from the lists and its page: join, copy the link, .ics, edit, delete.

import { confirmDelete } from "../forms.js";
import { copyText, formatDateTime, h, toast } from "../dom.js";

export function joinLink(id) {
  return `${location.origin}/m/${encodeURIComponent(id)}`;
}

export function when(m) {
  const next = m.next_occurrence;
  if (!m.schedule) return "Any time (not scheduled)";
  if (!next) return "No more occurrences";
  const zone = m.schedule.time_zone;
  const end = new Intl.DateTimeFormat(undefined, { timeStyle: "short", timeZone: zone }).format(new Date(next.end_utc));
  return `${formatDateTime(next.start_utc, zone)} – ${end} (${zone})`;
}

export function stateBadge(state) {
  const labels = { scheduled: "Scheduled", live: "Live now", ended: "Ended" };
  return h("span", { class: ["badge", `badge--${state}`], testid: "meeting-state" }, labels[state] || state);
}

export function settingBadges(m) {
  return [
    m.has_password ? h("span", { class: "badge" }, "Password") : null,
    m.lobby ? h("span", { class: "badge" }, "Lobby") : null,
    m.allow_guests ? h("span", { class: "badge" }, "Guests welcome") : null,
    m.locked ? h("span", { class: "badge" }, "Locked") : null,
    m.publish_policy === "hosts" ? h("span", { class: "badge" }, "Only hosts publish") : null,
  ];
}

export function copyLinkButton(id) {
  return h("button", {
    class: "btn", type: "button", testid: "meeting-copy-link",
    onclick: async (event) => {
      const button = event.currentTarget;
      const ok = await copyText(joinLink(id));
      toast(ok ? "Join link copied" : `Copy this link: ${joinLink(id)}`);
      button.dataset.copied = ok ? "true" : "false";
    },
  }, "Copy link");
}

/** Delete with a second click to confirm; `done` runs after the meeting is gone. */
export function deleteButton(m, done) {
  return confirmDelete({ url: `/api/v1/meetings/${encodeURIComponent(m.id)}`, question: "Delete this meeting? ",
                         deleted: `“${m.title}” deleted`, done, testid: "meeting-delete" });
}

export function meetingActions(m, { onDeleted, primary = true, copy = true } = {}) {
  const id = encodeURIComponent(m.id);
  return h("div", { class: "actions" },
    m.state !== "ended"
      ? h("a", { class: ["btn", primary && "btn--primary"], href: `/m/${id}`, testid: "meeting-join" }, "Join")
      : null,
    copy ? copyLinkButton(m.id) : null,
    m.schedule ? h("a", { class: "btn", href: `/api/v1/meetings/${id}/ics`, download: `meeting-${m.id}.ics`, testid: "meeting-ics" }, "Calendar (.ics)") : null,
    m.can_manage ? h("a", { class: "btn", href: `/meetings/${id}/edit`, testid: "meeting-edit" }, "Edit") : null,
    m.can_manage ? deleteButton(m, onDeleted) : null);
}
