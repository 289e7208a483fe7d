// The room's screen: header (title, connection state, quality), the grid, the side panels, the
// toolbar, and the overlays (lobby waiting, reconnecting, ended).

import { h, mount } from "../dom.js";
import { t } from "../i18n.js";
import { BreakoutPanel } from "./breakout_panel.js";
import { e2eeBadge } from "./e2ee_view.js";
import { Grid } from "./grid.js";
import { ChatPanel, PeoplePanel } from "./panels.js";
import { describe } from "./quality.js";
import { DevicePicker, Toolbar } from "./toolbar.js";
import { ViewReporter } from "./viewport.js";

const CONN_LABEL = { connecting: "room.conn.connecting", connected: "room.conn.connected", reconnecting: "room.conn.reconnecting",
  closed: "room.conn.closed" };
const QUALITY_LABEL = { unknown: "room.quality.unknown", good: "room.quality.good", fair: "room.quality.fair", poor: "room.quality.poor" };

export class RoomView {
  constructor(root, room, title) {
    this.room = room;
    this.panel = "";
    this.unread = 0;
    this.grid = new Grid();
    this.grid.onTurn = () => room.render();
    this.reporter = new ViewReporter(this.grid, (msg) => room.sendView(msg));
    this.chat = new ChatPanel({ send: (text, to) => room.sendChat(text, to), canChat: false,
      nameOf: (id) => room.state.participants.get(id)?.name || "" });
    this.people = new PeoplePanel({
      mute: (pid) => room.moderate("mute", pid), kick: (pid) => room.moderate("kick", pid),
      promote: (pid) => room.moderate("promote", pid), admit: (pid) => room.moderate("admit", pid),
      deny: (pid) => room.moderate("deny", pid),
      lowerHand: (pid) => (pid === room.state.me ? room.toggleHand() : room.moderate("lower_hand", pid)),
    });
    // Breakout rooms: for those who manage the meeting, in the meeting itself (not in a breakout room).
    this.breakouts = room.meeting.can_manage && !room.breakout ? new BreakoutPanel(room) : null;
    this.toolbar = new Toolbar(room);
    this.toolbar.breakouts.el.hidden = !this.breakouts;
    this.stopShortcuts = this.toolbar.listen(document);
    this.devices = new DevicePicker(room);
    this.conn = h("span", { class: "conn", testid: "conn-state", dataset: { state: "idle" } });
    this.quality = h("span", { class: "quality", testid: "quality", dataset: { level: "unknown" }, title: t("room.connectionQuality") },
      h("span", { class: "quality-bars", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
      h("span", { class: "quality-text" }, t(QUALITY_LABEL.unknown)));
    this.recording = h("span", { class: "rec", testid: "recording", role: "status", hidden: true,
      title: t("room.beingRecorded") }, h("i", { "aria-hidden": "true" }), t("room.recording"));
    this.e2eeBadge = e2eeBadge();
    this.banner = h("div", { class: "banner", testid: "reconnecting", role: "status", hidden: true },
      t("room.connectionLost"));
    this.side = h("aside", { class: "side", testid: "side", hidden: true },
      h("button", { class: "btn btn--quiet side-close", type: "button", testid: "close-panel", "aria-label": t("room.closePanel"),
        onclick: () => this.togglePanel("") }, "×"),
      this.chat.el, this.people.el, this.breakouts?.el);
    // Joins, leaves and hands, for screen readers (polite: after what they are reading).
    this.announcer = h("div", { class: "sr-only", testid: "announcer", role: "status", "aria-live": "polite" });
    this.waiting = h("div", { class: "overlay", testid: "lobby-waiting", hidden: true });
    this.ended = h("div", { class: "overlay", testid: "room-ended", hidden: true });
    this.el = h("div", { class: "room", testid: "room" },
      h("header", { class: "room-head" },
        h("h1", { class: "room-title", testid: "room-title" }, title), this.e2eeBadge, this.recording, this.conn, this.quality),
      this.banner,
      h("div", { class: "stage" }, this.grid.wrap, this.side),
      h("div", { class: "dock" }, this.devices.el, this.toolbar.el),
      this.waiting, this.ended, this.announcer);
    mount(root, this.el);
    document.title = t("app.pageTitle", { title });
  }

  /** Say *text* to screen readers (the live region keeps the last few). */
  announce(text) {
    this.announcer.append(h("p", {}, text));
    while (this.announcer.children.length > 5) this.announcer.firstElementChild.remove();
  }

  /** Show whether a recorder is in the meeting (the edge's `recording` notice). */
  showRecording(on) {
    this.recording.hidden = !on;
  }

  /** An end-to-end encrypted meeting (*e2ee*: the room's frame encryption, or null): the badge, and each tile's state. */
  showE2ee(e2ee) {
    this.e2eeBadge.hidden = !e2ee;
    this.grid.e2ee = e2ee;
  }

  togglePanel(name) {
    this.panel = this.panel === name ? "" : name;
    this.side.hidden = !this.panel;
    this.side.dataset.panel = this.panel;
    this.chat.el.hidden = this.panel !== "chat";
    this.people.el.hidden = this.panel !== "people";
    if (this.breakouts) this.breakouts.el.hidden = this.panel !== "breakouts";
    if (this.panel === "breakouts") this.breakouts.open();
    this.toolbar.breakouts.el.setAttribute("aria-pressed", String(this.panel === "breakouts"));
    if (this.panel === "chat") {
      this.unread = 0;
      this.chat.input.focus();
    }
    this.room.render();
  }

  togglePopover(name) {
    if (name === "devices") {
      this.devices.el.hidden = !this.devices.el.hidden;
      if (!this.devices.el.hidden) this.devices.refresh().catch(() => {});
    }
  }

  chatMessage(msg, me) {
    this.chat.add(msg, me);
    if (this.panel !== "chat" && msg.sender !== me) this.unread += 1;
  }

  setConn(state) {
    this.conn.dataset.state = state;
    this.conn.textContent = CONN_LABEL[state] ? t(CONN_LABEL[state]) : "";
    this.banner.hidden = state !== "reconnecting";
  }

  setQuality(q) {
    this.quality.dataset.level = q.level;
    this.quality.dataset.rtt = q.rtt === null ? "" : String(Math.round(q.rtt));
    this.quality.dataset.loss = q.loss === null ? "" : q.loss.toFixed(1);
    this.quality.dataset.jitter = q.jitter === null ? "" : String(Math.round(q.jitter));
    this.quality.title = t("room.connectionDetail", { quality: t(QUALITY_LABEL[q.level]), detail: describe(q) });
    this.quality.querySelector(".quality-text").textContent = t(QUALITY_LABEL[q.level]);
    if (q.tracks) this.grid.setQuality(q.tracks);
  }

  showWaiting(name) {
    this.waiting.hidden = false;
    mount(this.waiting, h("div", { class: "card narrow" },
      h("h2", {}, t("room.waitingTitle")),
      h("p", {}, t("room.waitingText", { name })),
      h("div", { class: "spinner", "aria-hidden": "true" }),
      h("button", { class: "btn", type: "button", onclick: () => this.room.leave() }, t("room.leave"))));
  }

  hideWaiting() {
    this.waiting.hidden = true;
  }

  showEnded(reason, text, actions = []) {
    this.waiting.hidden = true;
    this.banner.hidden = true;
    this.ended.hidden = false;
    this.ended.dataset.reason = reason;
    mount(this.ended, h("div", { class: "card narrow" },
      h("h2", { testid: "room-ended-title" }, text), h("div", { class: "actions" }, ...actions)));
  }

  render(state, toolbarState) {
    this.grid.sync(state, this.room.media.tracks, this.room.subscriber ? this.room.subscriber.bound : new Map());
    this.reporter.update();
    this.people.render(state);
    this.breakouts?.render(state);
    this.chat.setCanChat(Boolean(state.grants.chat));
    this.chat.setPeople(state.others());
    this.toolbar.render({ ...toolbarState, unread: this.unread, waiting: state.isModerator() ? state.lobby.length : 0, panel: this.panel });
  }
}
