// What can be done with a meeting from the lists and its page: join, copy the link, .ics, edit, delete.

import { confirmDelete } from "../forms.js";
import { copyText, h, toast } from "../dom.js";
import { formatDateTime, formatTime, t } from "../i18n.js";

export function joinLink(id) {
  return `${location.origin}/m/${encodeURIComponent(id)}`;
}

export function when(m) {
  const next = m.next_occurrence;
  if (!m.schedule) return t("meeting.anyTime");
  if (!next) return t("meeting.noMore");
  const zone = m.schedule.time_zone;
  return t("meeting.when", { start: formatDateTime(next.start_utc, zone), end: formatTime(next.end_utc, zone), zone });
}

export function stateBadge(state) {
  const labels = { scheduled: "meeting.state.scheduled", live: "meeting.state.live", ended: "meeting.state.ended" };
  return h("span", { class: ["badge", `badge--${state}`], testid: "meeting-state" }, labels[state] ? t(labels[state]) : state);
}

export function settingBadges(m) {
  return [
    m.has_password ? h("span", { class: "badge" }, t("meeting.badge.password")) : null,
    m.lobby ? h("span", { class: "badge" }, t("meeting.badge.lobby")) : null,
    m.allow_guests ? h("span", { class: "badge" }, t("meeting.badge.guests")) : null,
    m.locked ? h("span", { class: "badge" }, t("meeting.badge.locked")) : null,
    m.publish_policy === "hosts" ? h("span", { class: "badge" }, t("meeting.badge.hostsPublish")) : null,
    m.e2ee ? h("span", { class: "badge", testid: "meeting-e2ee-badge" }, t("meeting.badge.e2ee")) : null,
  ];
}

export function copyLinkButton(id) {
  return h("button", {
    class: "btn", type: "button", testid: "meeting-copy-link",
    onclick: async (event) => {
      const button = event.currentTarget;
      const ok = await copyText(joinLink(id));
      toast(ok ? t("meeting.linkCopied") : t("meeting.copyThisLink", { link: joinLink(id) }));
      button.dataset.copied = ok ? "true" : "false";
    },
  }, t("meeting.copyLink"));
}

/** Delete with a second click to confirm; `done` runs after the meeting is gone. */
export function deleteButton(m, done) {
  return confirmDelete({ url: `/api/v1/meetings/${encodeURIComponent(m.id)}`, question: `${t("meeting.deleteQuestion")} `,
                         deleted: t("meeting.deleted", { title: m.title }), done, testid: "meeting-delete" });
}

export function meetingActions(m, { onDeleted, primary = true, copy = true } = {}) {
  const id = encodeURIComponent(m.id);
  return h("div", { class: "actions" },
    m.state !== "ended"
      ? h("a", { class: ["btn", primary && "btn--primary"], href: `/m/${id}`, testid: "meeting-join" }, t("meeting.join"))
      : null,
    copy ? copyLinkButton(m.id) : null,
    m.schedule ? h("a", { class: "btn", href: `/api/v1/meetings/${id}/ics`, download: `meeting-${m.id}.ics`, testid: "meeting-ics" }, t("meeting.ics")) : null,
    m.can_manage ? h("a", { class: "btn", href: `/meetings/${id}/edit`, testid: "meeting-edit" }, t("meeting.edit")) : null,
    m.can_manage ? deleteButton(m, onDeleted) : null);
}
