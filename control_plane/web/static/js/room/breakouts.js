// Breakout rooms, for those sent to them (docs/breakouts.md): where the edge says to go
// (`breakout`: a room, a list to choose from, or back to the main meeting), the room's time left
// in the header, and a moderator's message to every room (`notice`), shown until dismissed.

import { post } from "../api.js";
import { h, toast } from "../dom.js";
import { t } from "../i18n.js";

/** "m:ss" (or "h:mm:ss") from now until *endsAt* (Unix seconds), never below zero. */
export function timeLeft(endsAt, now = Date.now() / 1000) {
  const s = Math.max(0, Math.round(endsAt - now));
  const two = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return hours ? `${hours}:${two(minutes)}:${two(s % 60)}` : `${minutes}:${two(s % 60)}`;
}

/** Keep *el*'s text at what *text()* says, every second, until *el* has left the page. */
export function ticking(el, text) {
  let seen = false;
  const tick = () => {
    if (el.isConnected) seen = true;
    else if (seen) return clearInterval(timer);
    el.textContent = text();
    return undefined;
  };
  const timer = setInterval(tick, 1000);
  tick();
  return el;
}

/** The page's trips between its main meeting and the breakout rooms. */
export class BreakoutTrips {
  /**
   * *meeting*: the main meeting (as the API reads it). `go(answer, place)` leaves the room and
   * enters the one *answer* (a join answer) names: a breakout room (*place*: `{meeting, breakout, ask}`)
   * or, with *place* null, the main meeting again.
   */
  constructor(meeting, go) {
    this.meeting = meeting;
    this.go = go;
    this.ticket = "";
  }

  /** A `breakout` message reached *room*. */
  handle(msg, room) {
    if (msg.ticket) this.ticket = msg.ticket;
    if (msg.action === "join" && msg.join && msg.room) {
      this.go(msg.join, this.place(msg.room, msg.ends_at));
    } else if (msg.action === "choose") {
      showChooser(room.view, msg.rooms, (choice) => this.choose(choice));
    } else if (msg.action === "return") {
      room.view.el.querySelector("[data-testid=breakout-chooser]")?.remove();
      if (msg.join) {
        toast(t("breakout.back"));
        this.go(msg.join, null);
      } else {
        toast(t("breakout.closed"));
      }
    }
  }

  /** A join answer for room *roomId* of the open set (with this page's ticket: guests too). */
  async ask(roomId) {
    return post(`/api/v1/meetings/${encodeURIComponent(this.meeting.id)}/breakouts/join`,
      { ticket: this.ticket, room_id: roomId });
  }

  place(choice, endsAt) {
    return {
      meeting: { ...this.meeting, id: choice.room_id, title: choice.name, can_manage: false },
      breakout: { name: choice.name, endsAt: endsAt || 0, main: this.meeting.title },
      ask: async () => (await this.ask(choice.room_id)).join,
    };
  }

  async choose(choice) {
    const answer = await this.ask(choice.room_id);
    this.go(answer.join, this.place(choice, answer.ends_at));
  }
}

/** In a breakout room: which meeting it belongs to and the time left, in the room's header. */
export function showBreakout(view, breakout) {
  const tag = h("span", { class: "breakout-tag", testid: "breakout-banner" },
    t("breakout.roomOf", { meeting: breakout.main }));
  if (breakout.endsAt) {
    tag.append(" · ", ticking(h("span", { role: "timer", testid: "breakout-time" }),
      () => t("breakout.timeLeft", { time: timeLeft(breakout.endsAt) })));
  }
  view.el.querySelector("[data-testid=room-title]").after(tag);
}

/** The rooms to choose from (the room stays as it is meanwhile). */
function showChooser(view, rooms, choose) {
  view.el.querySelector("[data-testid=breakout-chooser]")?.remove();
  const error = h("p", { class: "field-error", role: "alert", testid: "breakout-choose-error" });
  const buttons = rooms.map((r) => h("button", {
    class: "btn btn--primary", type: "button", testid: "breakout-choice", dataset: { roomId: r.room_id },
    onclick: async () => {
      buttons.forEach((b) => { b.disabled = true; });
      error.textContent = "";
      try {
        await choose(r);
      } catch (err) {
        error.textContent = err.detail || err.message;
        buttons.forEach((b) => { b.disabled = false; });
      }
    },
  }, r.name));
  const box = h("section", { class: "breakout-chooser", testid: "breakout-chooser", "aria-labelledby": "breakout-choose-title" },
    h("h2", { id: "breakout-choose-title" }, t("breakout.chooseTitle")),
    h("p", {}, t("breakout.chooseText")),
    h("div", { class: "actions" }, ...buttons), error);
  view.el.querySelector(".room-head").after(box);
  buttons[0]?.focus();
}

/** A moderator's message to everyone (in every room): shown until dismissed or replaced. */
export function showNotice(view, msg) {
  view.el.querySelector("[data-testid=breakout-notice]")?.remove();
  const box = h("div", { class: "breakout-notice", role: "alert", testid: "breakout-notice" },
    h("strong", {}, msg.sender_name ? t("breakout.noticeFrom", { name: msg.sender_name }) : t("breakout.notice")),
    " ", h("span", { testid: "breakout-notice-text" }, msg.text),
    h("button", { class: "btn btn--small btn--quiet", type: "button", testid: "breakout-notice-close",
      "aria-label": t("breakout.dismiss"), onclick: () => box.remove() }, "×"));
  view.el.querySelector(".room-head").after(box);
}
