// Create and edit a meeting: title, schedule, password, lobby, guests, size, who publishes, locked.

import { get, patch, post } from "../api.js";
import { h } from "../dom.js";
import { check, field, formError, onSubmit } from "../forms.js";
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
    placeholder: editing && meeting.has_password ? "unchanged" : "none" });
  const clearPassword = h("input", { type: "checkbox", testid: "meeting-clear-password" });
  const lobby = h("input", { type: "checkbox", checked: Boolean(meeting?.lobby), testid: "meeting-lobby" });
  const guests = h("input", { type: "checkbox", checked: Boolean(meeting?.allow_guests), testid: "meeting-guests" });
  const locked = h("input", { type: "checkbox", checked: Boolean(meeting?.locked), testid: "meeting-locked" });
  const maxParticipants = h("input", { type: "number", min: 2, value: meeting?.max_participants || "", placeholder: "server default", testid: "meeting-max" });
  const publishPolicy = h("select", { testid: "meeting-publish-policy" },
    [["everyone", "Everyone"], ["hosts", "Only hosts and moderators"]]
      .map(([v, l]) => h("option", { value: v, selected: (meeting?.publish_policy || "everyone") === v }, l)));
  const cohosts = h("input", { testid: "meeting-cohosts", placeholder: "user names, separated by commas",
    value: (meeting?.cohosts || []).map((c) => c.username).join(", ") });

  const el = h("form", { class: "stack", testid: "meeting-form", novalidate: true },
    formError(),
    field("Title", title, { name: "title" }),
    field("Description", description, { name: "description" }),
    schedule.el,
    h("fieldset", { class: "fieldset" }, h("legend", {}, "Who gets in"),
      field("Meeting password", password, { name: "password", hint: "At least 4 characters; hosts need none" }),
      editing && meeting.has_password ? check("Remove the password", clearPassword, { name: "clear_password" }) : null,
      check("Guests without an account may join with the link", guests, { name: "allow_guests" }),
      check("Guests wait in a lobby until a host admits them", lobby, { name: "lobby" }),
      check("Locked: only hosts and moderators may join", locked, { name: "locked" }),
      field("Most participants", maxParticipants, { name: "max_participants" }),
      field("Who may share audio, video and screen", publishPolicy, { name: "publish_policy" }),
      field("Co-hosts", cohosts, { name: "cohosts", hint: "They may edit and moderate the meeting" })),
    h("div", { class: "actions" },
      h("button", { class: "btn btn--primary", type: "submit", testid: "meeting-save" }, editing ? "Save" : "Create meeting"),
      h("a", { class: "btn btn--quiet", href: editing ? `/meetings/${encodeURIComponent(meeting.id)}` : "/meetings" }, "Cancel")));

  function read() {
    const body = {
      title: title.value.trim(), description: description.value, schedule: schedule.read(),
      lobby: lobby.checked, allow_guests: guests.checked, locked: locked.checked,
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
    return problem(root, "New meeting", "Only hosts and admins may create meetings. Ask an admin to make you a host.",
      h("a", { class: "btn", href: "/meetings" }, "Back to meetings"));
  }
  const f = form(null);
  onSubmit(f.el, async () => {
    const created = await post("/api/v1/meetings", f.read());
    navigate(`/meetings/${encodeURIComponent(created.id)}`);
  });
  page(root, "New meeting", h("section", { class: "card" }, h("h1", {}, "New meeting"), f.el));
}

export async function editMeetingPage(root, { id }) {
  if (!session.account) return navigate(signInPath(), { replace: true });
  let meeting;
  try {
    meeting = await get(`/api/v1/meetings/${encodeURIComponent(id)}`);
  } catch (err) {
    return problem(root, "Meeting", err.detail || String(err), h("a", { class: "btn", href: "/meetings" }, "Back to meetings"));
  }
  if (!meeting.can_manage) {
    return problem(root, meeting.title, "Only the meeting's owner, its co-hosts and admins may change it.",
      h("a", { class: "btn", href: `/meetings/${encodeURIComponent(id)}` }, "Back"));
  }
  const f = form(meeting);
  onSubmit(f.el, async () => {
    await patch(`/api/v1/meetings/${encodeURIComponent(id)}`, f.read());
    navigate(`/meetings/${encodeURIComponent(id)}`);
  });
  page(root, `Edit ${meeting.title}`, h("section", { class: "card" }, h("h1", {}, "Edit meeting"), f.el));
}
