// Create and edit a meeting: title, schedule, password, lobby, guests, size, who publishes, locked,
// end-to-end encryption.

import { get, patch, post } from "../api.js";
import { h } from "../dom.js";
import { check, field, formError, onSubmit } from "../forms.js";
import { t } from "../i18n.js";
import { page, problem, signInPath } from "../layout.js";
import { navigate } from "../router.js";
import { atLeast, session } from "../session.js";
import { scheduleFields } from "./schedule_fields.js";

function form(meeting) {
  const editing = Boolean(meeting);
  const title = h("input", { required: true, maxlength: 200, value: meeting?.title || "", testid: "meeting-title-input", autofocus: true });
  const description = h("textarea", { rows: 3, maxlength: 5000, testid: "meeting-description" }, meeting?.description || "");
  const schedule = scheduleFields(meeting?.schedule || null);
  const password = h("input", { type: "password", autocomplete: "new-password", testid: "meeting-password",
    placeholder: editing && meeting.has_password ? t("meetingForm.passwordUnchanged") : t("meetingForm.passwordNone") });
  const clearPassword = h("input", { type: "checkbox", testid: "meeting-clear-password" });
  const lobby = h("input", { type: "checkbox", checked: Boolean(meeting?.lobby), testid: "meeting-lobby" });
  const guests = h("input", { type: "checkbox", checked: Boolean(meeting?.allow_guests), testid: "meeting-guests" });
  const locked = h("input", { type: "checkbox", checked: Boolean(meeting?.locked), testid: "meeting-locked" });
  const e2ee = h("input", { type: "checkbox", checked: Boolean(meeting?.e2ee), testid: "meeting-e2ee" });
  const maxParticipants = h("input", { type: "number", min: 2, value: meeting?.max_participants || "", placeholder: t("meetingForm.serverDefault"), testid: "meeting-max" });
  const publishPolicy = h("select", { testid: "meeting-publish-policy" },
    [["everyone", "meetingForm.publish.everyone"], ["hosts", "meetingForm.publish.hosts"]]
      .map(([v, l]) => h("option", { value: v, selected: (meeting?.publish_policy || "everyone") === v }, t(l))));
  const cohosts = h("input", { testid: "meeting-cohosts", placeholder: t("meetingForm.cohostsPlaceholder"),
    value: (meeting?.cohosts || []).map((c) => c.username).join(", ") });

  const el = h("form", { class: "stack", testid: "meeting-form", novalidate: true },
    formError(),
    field(t("meetingForm.title"), title, { name: "title" }),
    field(t("meetingForm.description"), description, { name: "description" }),
    schedule.el,
    h("fieldset", { class: "fieldset" }, h("legend", {}, t("meetingForm.whoGetsIn")),
      field(t("meetingForm.password"), password, { name: "password", hint: t("meetingForm.passwordHint") }),
      editing && meeting.has_password ? check(t("meetingForm.removePassword"), clearPassword, { name: "clear_password" }) : null,
      check(t("meetingForm.guests"), guests, { name: "allow_guests" }),
      check(t("meetingForm.lobby"), lobby, { name: "lobby" }),
      check(t("meetingForm.locked"), locked, { name: "locked" }),
      check(t("meetingForm.e2ee"), e2ee, { name: "e2ee", hint: t("meetingForm.e2eeHint") }),
      field(t("meetingForm.max"), maxParticipants, { name: "max_participants" }),
      field(t("meetingForm.publish"), publishPolicy, { name: "publish_policy" }),
      field(t("meetingForm.cohosts"), cohosts, { name: "cohosts", hint: t("meetingForm.cohostsHint") })),
    h("div", { class: "actions" },
      h("button", { class: "btn btn--primary", type: "submit", testid: "meeting-save" }, editing ? t("meetingForm.save") : t("meetingForm.create")),
      h("a", { class: "btn btn--quiet", href: editing ? `/meetings/${encodeURIComponent(meeting.id)}` : "/meetings" }, t("meetingForm.cancel"))));

  function read() {
    const body = {
      title: title.value.trim(), description: description.value, schedule: schedule.read(),
      lobby: lobby.checked, allow_guests: guests.checked, locked: locked.checked, e2ee: e2ee.checked,
      publish_policy: publishPolicy.value,
      cohosts: cohosts.value.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean),
    };
    if (maxParticipants.value) body.max_participants = Number(maxParticipants.value);
    if (password.value) body.password = password.value;
    else if (editing && clearPassword.checked) body.password = null;
    if (!editing && body.schedule === null) delete body.schedule;
    return body;
  }
  return { el, read };
}

export async function newMeetingPage(root) {
  if (!session.account) return navigate(signInPath(), { replace: true });
  if (!atLeast("host")) {
    return problem(root, t("nav.newMeeting"), t("meetingForm.onlyHosts"),
      h("a", { class: "btn", href: "/meetings" }, t("meetingForm.backToMeetings")));
  }
  const f = form(null);
  onSubmit(f.el, async () => {
    const created = await post("/api/v1/meetings", f.read());
    navigate(`/meetings/${encodeURIComponent(created.id)}`);
  });
  page(root, t("nav.newMeeting"), h("section", { class: "card" }, h("h1", {}, t("nav.newMeeting")), f.el));
}

export async function editMeetingPage(root, { id }) {
  if (!session.account) return navigate(signInPath(), { replace: true });
  let meeting;
  try {
    meeting = await get(`/api/v1/meetings/${encodeURIComponent(id)}`);
  } catch (err) {
    return problem(root, t("meeting.title"), err.detail || String(err),
      h("a", { class: "btn", href: "/meetings" }, t("meetingForm.backToMeetings")));
  }
  if (!meeting.can_manage) {
    return problem(root, meeting.title, t("meetingForm.onlyManagers"),
      h("a", { class: "btn", href: `/meetings/${encodeURIComponent(id)}` }, t("meeting.back")));
  }
  const f = form(meeting);
  onSubmit(f.el, async () => {
    await patch(`/api/v1/meetings/${encodeURIComponent(id)}`, f.read());
    navigate(`/meetings/${encodeURIComponent(id)}`);
  });
  page(root, t("meetingForm.editTitle", { title: meeting.title }), h("section", { class: "card" }, h("h1", {}, t("meetingForm.editHeading")), f.el));
}
