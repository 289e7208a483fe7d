// The breakout rooms panel, for those who manage the meeting: open rooms (how many, who goes where —
// chosen per person or spread evenly —, whether the others pick a room themselves, a timer), then
// the rooms with who is in each, a message to every room and bringing everyone back. Everything goes
// through the control plane's API (docs/breakouts.md); the edges then move people.

import { ApiError, get, post } from "../api.js";
import { h, toast } from "../dom.js";
import { formatList, t } from "../i18n.js";
import { ticking, timeLeft } from "./breakouts.js";

const MAX_ROOMS = 20;
/** How often the open rooms are read again while the panel shows them. */
const REFRESH_MS = 4000;

function labelled(text, control, hint = null) {
  return h("label", { class: "field" }, h("span", { class: "label" }, text), control,
    hint ? h("span", { class: "hint muted" }, hint) : null);
}

export class BreakoutPanel {
  constructor(room) {
    this.room = room;
    this.base = `/api/v1/meetings/${encodeURIComponent(room.meeting.id)}/breakouts`;
    this.current = null; // the open rooms, as the API reads them (null: none)
    this.people = []; // everyone else in the meeting
    this.assigned = new Map(); // participant id → room number (1 …), 0: not assigned
    this.count = h("input", { type: "number", min: 1, max: MAX_ROOMS, value: 2, required: true, testid: "breakout-count",
      onchange: () => this.drawPeople(true) });
    this.minutes = h("input", { type: "number", min: 0, max: 1440, value: 0, testid: "breakout-minutes" });
    this.choose = h("input", { type: "checkbox", testid: "breakout-choose" });
    this.list = h("ul", { class: "breakout-people", testid: "breakout-people" });
    this.error = h("p", { class: "field-error", role: "alert", testid: "breakout-error" });
    this.message = h("input", { maxlength: 500, autocomplete: "off", testid: "breakout-message",
      "aria-label": t("breakout.messageLabel"), placeholder: t("breakout.messageLabel") });
    this.body = h("div", { class: "breakout-body" });
    this.el = h("section", { class: "panel breakout-panel", testid: "breakouts-panel", "aria-label": t("breakout.panel"), hidden: true },
      h("h2", { class: "panel-title" }, t("breakout.panel")), this.body, this.error);
    this.drawSetup();
  }

  /** The panel was opened: read the rooms now and every few seconds while it shows. */
  open() {
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if (!this.el.isConnected || this.room.finished) clearInterval(this.timer);
      else if (!this.el.hidden) this.refresh();
    }, REFRESH_MS);
  }

  async refresh() {
    try {
      const found = await get(this.base);
      this.show(found.state === "open" ? found : null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) this.show(null);
      else this.error.textContent = err.detail || err.message;
    }
  }

  show(current) {
    const was = this.current;
    this.current = current;
    if (current) this.drawOpen();
    else if (was || !this.body.querySelector("[data-testid=breakout-open]")) this.drawSetup();
  }

  /** The room's roster changed: the people to send (the panel keeps each one's choice). */
  render(state) {
    const others = state.others();
    const key = others.map((p) => `${p.participant_id}:${p.name}`).join("|");
    if (key === this.peopleKey) return;
    this.peopleKey = key;
    this.people = others;
    if (!this.current) this.drawPeople();
  }

  rooms() {
    return Math.min(MAX_ROOMS, Math.max(1, Math.floor(Number(this.count.value) || 1)));
  }

  // -- before: how many rooms, who goes where -----------------------------------------------------
  drawSetup() {
    const spread = h("button", { class: "btn btn--small", type: "button", testid: "breakout-auto", onclick: () => this.spread() },
      t("breakout.spread"));
    const form = h("form", { class: "stack breakout-setup", testid: "breakout-setup" },
      labelled(t("breakout.count"), this.count),
      h("div", { class: "breakout-assign-head" }, h("h3", {}, t("breakout.who")), spread),
      this.list,
      h("label", { class: "check" }, this.choose, " ", t("breakout.allowChoose")),
      labelled(t("breakout.minutes"), this.minutes, t("breakout.minutesHint")),
      h("button", { class: "btn btn--primary", type: "submit", testid: "breakout-open" }, t("breakout.open")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.openRooms(form);
    });
    this.body.replaceChildren(form);
    this.drawPeople();
  }

  drawPeople(keepFocus = false) {
    const n = this.rooms();
    const focused = keepFocus ? document.activeElement : null;
    this.list.replaceChildren(...(this.people.length ? this.people.map((p) => {
      const chosen = Math.min(this.assigned.get(p.participant_id) || 0, n);
      const select = h("select", { testid: "breakout-assign", "aria-label": t("breakout.roomFor", { name: p.name }),
        dataset: { participantId: p.participant_id },
        onchange: () => this.assigned.set(p.participant_id, Number(select.value)) },
      h("option", { value: 0, selected: chosen === 0 }, t("breakout.unassigned")),
      ...Array.from({ length: n }, (_, i) => h("option", { value: i + 1, selected: chosen === i + 1 }, t("breakout.roomName", { number: i + 1 }))));
      return h("li", { class: "breakout-person", testid: "breakout-person", dataset: { participantId: p.participant_id } },
        h("span", { class: "grow" }, p.name), select);
    }) : [h("li", { class: "muted" }, t("breakout.nobody"))]));
    if (focused?.isConnected) focused.focus();
  }

  /** Spread everyone evenly over the rooms, in the roster's order. */
  spread() {
    const n = this.rooms();
    this.people.forEach((p, i) => this.assigned.set(p.participant_id, (i % n) + 1));
    this.drawPeople();
  }

  async openRooms(form) {
    const n = this.rooms();
    const rooms = Array.from({ length: n }, (_, i) => ({ name: t("breakout.roomName", { number: i + 1 }), participants: [] }));
    for (const p of this.people) {
      const to = Math.min(this.assigned.get(p.participant_id) || 0, n);
      if (to) rooms[to - 1].participants.push(p.participant_id);
    }
    const minutes = Number(this.minutes.value) || 0;
    const body = { rooms, allow_choose: this.choose.checked, ...(minutes > 0 ? { duration_s: Math.round(minutes * 60) } : {}) };
    await this.act(form, async () => this.show(await post(this.base, body)));
  }

  /** Run *fn* with *form*'s buttons disabled; its error goes to the panel's alert. */
  async act(form, fn) {
    const buttons = [...form.querySelectorAll("button")];
    buttons.forEach((b) => { b.disabled = true; });
    this.error.textContent = "";
    try {
      await fn();
    } catch (err) {
      this.error.textContent = err.detail || err.message;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // -- while open: the rooms, a message to all of them, bring everyone back ---------------------------
  drawOpen() {
    const c = this.current;
    const status = h("p", { testid: "breakout-status" }, t("breakout.openNow", { count: c.rooms.length }));
    if (c.ends_at) {
      status.append(" ", ticking(h("span", { role: "timer", testid: "breakout-ends" }),
        () => t("breakout.timeLeft", { time: timeLeft(c.ends_at) })));
    }
    const rooms = h("ul", { class: "breakout-rooms", testid: "breakout-rooms" }, ...c.rooms.map((r) => h("li", {
      class: "breakout-room", testid: "breakout-room", dataset: { roomId: r.room_id } },
    h("strong", {}, r.name), " ",
    h("span", { class: "muted", testid: "breakout-room-people" },
      r.present.length ? formatList(r.present.map((p) => p.name)) : t("breakout.empty")))));
    const choosing = c.choosing.length
      ? h("p", { class: "muted", testid: "breakout-choosing" }, t("breakout.stillChoosing", { names: formatList(c.choosing.map((p) => p.name)) }))
      : null;
    const say = h("form", { class: "breakout-say" }, this.message,
      h("button", { class: "btn btn--primary", type: "submit", testid: "breakout-broadcast" }, t("breakout.send")));
    say.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.message.value.trim();
      if (!text) return;
      this.act(say, async () => {
        await post(`${this.base}/broadcast`, { text });
        this.message.value = "";
        toast(t("breakout.sent"));
        await this.refresh();
      });
    });
    const back = h("form", {}, h("button", { class: "btn btn--danger", type: "submit", testid: "breakout-close" }, t("breakout.bringBack")));
    back.addEventListener("submit", (event) => {
      event.preventDefault();
      this.act(back, async () => {
        await post(`${this.base}/close`, {});
        this.show(null);
      });
    });
    const focused = this.body.contains(document.activeElement) ? document.activeElement?.dataset?.testid : "";
    this.body.replaceChildren(...[status, rooms, choosing, say, back].filter(Boolean));  // no one choosing: no line
    if (focused) this.body.querySelector(`[data-testid="${focused}"]`)?.focus();
  }
}
