// The side panels: chat, and people (the roster with moderator controls, and the lobby).

import { h } from "../dom.js";
import { formatNumber, formatTime, t } from "../i18n.js";
import { icon } from "./icons.js";

function time(at) {
  return formatTime(new Date(at * 1000));
}

export class ChatPanel {
  /** `send(text, to)`: to everyone (`to` empty) or privately to one participant; `nameOf(id)`. */
  constructor({ send, canChat, nameOf }) {
    this.nameOf = nameOf;
    this.canChat = false;
    this.list = h("ol", { class: "chat-list", testid: "chat-list", "aria-live": "polite" });
    this.input = h("input", { class: "chat-input", testid: "chat-input", maxlength: 2000, placeholder: t("chat.toEveryone"),
      "aria-label": t("chat.message"), autocomplete: "off" });
    // Who gets the message: everyone, or one person (privately).
    this.to = h("select", { class: "chat-to", testid: "chat-to", "aria-label": t("chat.sendTo"),
      onchange: () => this.setCanChat(this.canChat) }, h("option", { value: "" }, t("chat.everyone")));
    this.error = h("div", { class: "field-error", testid: "chat-error", role: "alert" });
    const button = h("button", { class: "btn btn--primary", type: "submit", testid: "chat-send" }, t("chat.send"));
    const form = h("form", { class: "chat-form" },
      h("label", { class: "chat-to-row" }, h("span", { class: "muted" }, t("chat.to")), this.to), this.input, button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      button.disabled = true;
      this.error.textContent = "";
      try {
        await send(text, this.to.value);
        this.input.value = "";
      } catch (err) {
        this.error.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
    this.form = form;
    this.el = h("section", { class: "panel", testid: "chat-panel", "aria-label": t("room.chat") },
      h("h2", { class: "panel-title" }, t("room.chat")), this.list, this.error, form);
    this.setCanChat(canChat);
  }

  setCanChat(ok) {
    this.canChat = ok;
    this.input.disabled = !ok;
    this.to.disabled = !ok;
    const to = this.to.value ? this.to.selectedOptions[0].textContent : "";
    this.input.placeholder = !ok ? t("chat.notAllowed") : to ? t("chat.toPrivately", { name: to }) : t("chat.toEveryone");
  }

  /** The people one may write to privately (everyone else in the meeting); a choice of someone gone falls back to everyone. */
  setPeople(others) {
    const key = others.map((p) => `${p.participant_id}:${p.name}`).join("|");
    if (key === this.peopleKey) return;
    this.peopleKey = key;
    const chosen = this.to.value;
    this.to.replaceChildren(h("option", { value: "" }, t("chat.everyone")),
      ...others.map((p) => h("option", { value: p.participant_id }, p.name)));
    this.to.value = others.some((p) => p.participant_id === chosen) ? chosen : "";
    this.setCanChat(this.canChat);
  }

  add(msg, me) {
    const mine = msg.sender === me;
    const privately = msg.to
      ? (mine ? t("chat.privateTo", { name: this.nameOf(msg.to) || t("chat.someoneWhoLeft") }) : t("chat.privateToYou")) : "";
    this.list.append(h("li", {
      class: ["chat-msg", mine && "chat-msg--mine", privately && "chat-msg--private"], testid: "chat-message",
      dataset: { sender: msg.sender, to: msg.to || "" },
    },
    h("div", { class: "chat-meta" }, h("span", { class: "chat-sender", testid: "chat-sender" }, mine ? t("chat.you") : msg.sender_name),
      privately ? h("span", { class: "badge", testid: "chat-private" }, privately) : null, h("time", {}, time(msg.at))),
    h("div", { class: "chat-text", testid: "chat-text" }, msg.text)));
    this.list.scrollTop = this.list.scrollHeight;
  }
}

export class PeoplePanel {
  constructor(actions) {
    this.actions = actions; // {mute(pid), kick(pid), promote(pid), admit(pid), deny(pid), lowerHand(pid)}
    this.lobby = h("div", { class: "lobby-list", testid: "lobby-list" });
    this.hands = h("div", { class: "hand-queue", testid: "hand-queue" });
    this.roster = h("ul", { class: "roster", testid: "roster" });
    this.count = h("span", { class: "muted" });
    this.el = h("section", { class: "panel", testid: "people-panel", "aria-label": t("room.people") },
      h("h2", { class: "panel-title" }, t("room.people"), " ", this.count), this.lobby, this.hands, this.roster);
  }

  _button(label, testid, fn, kind = "") {
    const b = h("button", { class: ["btn", "btn--small", kind], type: "button", testid }, label);
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await fn();
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  render(state) {
    const mod = state.isModerator();
    this.count.textContent = `(${formatNumber(state.participants.size)})`;
    this.lobby.hidden = !(mod && state.lobby.length);
    this.lobby.replaceChildren(
      h("h3", {}, t("people.lobby")),
      ...state.lobby.map((w) => h("div", { class: "lobby-entry", testid: "lobby-entry", dataset: { participantId: w.participant_id } },
        h("span", { class: "grow", testid: "lobby-name" }, w.name),
        this._button(t("people.admit"), "lobby-admit", () => this.actions.admit(w.participant_id), "btn--primary"),
        this._button(t("people.deny"), "lobby-deny", () => this.actions.deny(w.participant_id)))));
    // Raised hands, in the order they went up: moderators take them from here.
    const queue = state.handQueue();
    this.hands.hidden = !queue.length;
    this.hands.replaceChildren(
      h("h3", {}, t("people.raisedHands", { count: queue.length })),
      h("ol", {}, ...queue.map((p) => h("li", { class: "hand-entry", testid: "hand-queue-entry", dataset: { participantId: p.participant_id } },
        h("span", { class: "grow", testid: "hand-queue-name" }, p.participant_id === state.me ? t("room.you", { name: p.name }) : p.name),
        mod || p.participant_id === state.me
          ? this._button(t("people.lowerHand"), "hand-queue-lower", () => this.actions.lowerHand(p.participant_id)) : null))));
    const position = new Map(queue.map((p, i) => [p.participant_id, i + 1]));
    this.roster.replaceChildren(...[...state.participants.values()].map((p) => {
      const isMe = p.participant_id === state.me;
      const micMuted = p.muted.has("microphone") || ![...p.tracks.values()].some((tr) => tr.source === "microphone");
      const controls = mod && !isMe
        ? h("div", { class: "roster-actions" },
          micMuted ? null : this._button(t("people.mute"), "roster-mute", () => this.actions.mute(p.participant_id)),
          p.moderator ? null : this._button(t("people.promote"), "roster-promote", () => this.actions.promote(p.participant_id)),
          this._button(t("people.remove"), "roster-kick", () => this.actions.kick(p.participant_id), "btn--danger-quiet"))
        : null;
      return h("li", { class: "roster-entry", testid: "roster-entry", dataset: { participantId: p.participant_id, moderator: String(p.moderator) } },
        h("div", { class: "roster-who" },
          h("span", { class: "roster-name", testid: "roster-name" }, isMe ? t("room.you", { name: p.name }) : p.name),
          p.moderator ? h("span", { class: "badge", testid: "roster-moderator" }, p.role === "host" ? t("people.host") : t("people.moderator")) : null,
          h("span", { class: "roster-flags" },
            p.hand ? h("span", { class: "roster-hand", title: t("people.handPosition", { position: position.get(p.participant_id) }),
              testid: "roster-hand" }, icon("hand", 16), formatNumber(position.get(p.participant_id))) : null,
            micMuted ? h("span", { title: t("room.micMuted"), testid: "roster-mic-muted" }, icon("micOff", 16)) : null,
            p.muted.has("camera") ? h("span", { title: t("room.cameraOff") }, icon("cameraOff", 16)) : null)),
        controls);
    }));
  }
}
