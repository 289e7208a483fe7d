// The room's controls: microphone, camera, screen, hand, reactions, devices, chat, people, record,
// end for all, leave.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { E2EE_TEXT } from "./e2ee_view.js";
import { icon, REACTION_NAMES, REACTIONS } from "./icons.js";
import { CAN_CHOOSE_SPEAKER } from "./media.js";

/** The room's keyboard shortcuts (a letter alone, not while typing): key → the control's testid. */
export const SHORTCUTS = { m: "toggle-mic", v: "toggle-camera", h: "toggle-hand", c: "toggle-chat", p: "toggle-people" };
const KEY_OF = Object.fromEntries(Object.entries(SHORTCUTS).map(([key, testid]) => [testid, key]));

/** A control's title: its label, and its shortcut when it has one ("Mute (M)"). */
function hint(label, key) {
  return key ? t("room.shortcut", { label, key: key.toUpperCase() }) : label;
}

function toggle(testid, label, iconName) {
  const text = h("span", { class: "ctl-label" }, label);
  const badge = h("span", { class: "ctl-badge", hidden: true });
  const key = KEY_OF[testid];
  const el = h("button", { class: "ctl", type: "button", testid, "aria-pressed": "false", title: hint(label, key),
    "aria-keyshortcuts": key ? key.toUpperCase() : null }, h("span", { class: "ctl-icon" }, icon(iconName)), text, badge);
  return { el, text, badge, key };
}

/** Whether a key press belongs to what has the focus (typing, a menu) rather than to the room. */
function typing(event) {
  const target = event.target;
  return event.ctrlKey || event.metaKey || event.altKey || event.repeat
    || (target instanceof Element && target.closest("input, textarea, select, [contenteditable=true], [role=menu]"));
}

export class Toolbar {
  constructor(room) {
    this.room = room;
    this.mic = toggle("toggle-mic", t("room.mute"), "mic");
    this.camera = toggle("toggle-camera", t("room.stopVideo"), "camera");
    this.screen = toggle("toggle-screen", t("room.shareScreen"), "screen");
    this.hand = toggle("toggle-hand", t("room.raiseHand"), "hand");
    this.react = toggle("open-reactions", t("room.react"), "react");
    this.react.el.setAttribute("aria-haspopup", "true");
    this.reactions = h("div", { class: "popover reactions", testid: "reactions", role: "menu", "aria-label": t("room.reactions"), hidden: true },
      ...Object.entries(REACTIONS).map(([name, emoji]) => h("button", {
        class: "reaction", type: "button", role: "menuitem", testid: `react-${name}`, title: t(REACTION_NAMES[name]),
        "aria-label": t(REACTION_NAMES[name]), onclick: () => { this.reactions.hidden = true; room.react(name); },
      }, emoji)));
    this.devices = toggle("open-devices", t("room.devices"), "settings");
    this.chat = toggle("toggle-chat", t("room.chat"), "chat");
    this.people = toggle("toggle-people", t("room.people"), "people");
    this.breakouts = toggle("toggle-breakouts", t("breakout.panel"), "rooms");
    this.breakouts.el.hidden = true; // shown by the view to those who may open breakout rooms
    this.record = toggle("toggle-record", t("room.record"), "record");
    this.record.el.classList.add("ctl--record");
    this.record.el.hidden = true;
    this.end = toggle("end-meeting", t("room.endForAll"), "end");
    this.leave = toggle("leave", t("room.leave"), "leave");
    this.leave.el.classList.add("ctl--leave");
    this.end.el.classList.add("ctl--danger");
    this.confirm = h("div", { class: "popover", testid: "end-confirm-box", hidden: true },
      h("p", {}, t("room.endQuestion")),
      h("div", { class: "actions" },
        h("button", { class: "btn btn--danger", type: "button", testid: "end-confirm", onclick: () => this._endNow() }, t("room.endForAll")),
        h("button", { class: "btn btn--quiet", type: "button", onclick: () => { this.confirm.hidden = true; } }, t("room.cancel"))));

    this.mic.el.addEventListener("click", () => room.toggleMic());
    this.camera.el.addEventListener("click", () => room.toggleCamera());
    this.screen.el.addEventListener("click", () => room.toggleScreen());
    this.hand.el.addEventListener("click", () => room.toggleHand());
    this.react.el.addEventListener("click", () => {
      this.reactions.hidden = !this.reactions.hidden;
      this.react.el.setAttribute("aria-expanded", String(!this.reactions.hidden));
      if (!this.reactions.hidden) this.reactions.querySelector("button")?.focus();
    });
    this.reactions.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        this.reactions.hidden = true;
        this.react.el.setAttribute("aria-expanded", "false");
        this.react.el.focus();
      }
    });
    this.devices.el.addEventListener("click", () => room.view.togglePopover("devices"));
    this.chat.el.addEventListener("click", () => room.view.togglePanel("chat"));
    this.people.el.addEventListener("click", () => room.view.togglePanel("people"));
    this.breakouts.el.addEventListener("click", () => room.view.togglePanel("breakouts"));
    this.record.el.addEventListener("click", () => room.toggleRecording());
    this.end.el.addEventListener("click", () => { this.confirm.hidden = !this.confirm.hidden; });
    this.leave.el.addEventListener("click", () => room.leave());

    this.el = h("div", { class: "toolbar", testid: "toolbar", role: "toolbar", "aria-label": t("room.controls") },
      this.mic.el, this.camera.el, this.screen.el, this.hand.el, this.react.el, this.devices.el, this.chat.el,
      this.people.el, this.breakouts.el, this.record.el, this.end.el, this.leave.el, this.confirm, this.reactions);
  }

  _endNow() {
    this.confirm.hidden = true;
    this.room.endForAll();
  }

  /** Listen for the shortcuts on *target* (the document); returns the function that stops it. */
  listen(target) {
    const onKey = (event) => {
      const testid = SHORTCUTS[event.key?.toLowerCase()];
      if (!testid || typing(event)) return;
      const button = this.el.querySelector(`[data-testid="${testid}"]`);
      if (!button || button.disabled || button.hidden) return;
      event.preventDefault();
      button.click();
    };
    target.addEventListener("keydown", onKey);
    return () => target.removeEventListener("keydown", onKey);
  }

  _set(control, { on, label, iconName, disabled = false }) {
    control.el.setAttribute("aria-pressed", String(on));
    control.el.title = hint(label, control.key);
    control.text.textContent = label;
    control.el.disabled = disabled;
    control.el.querySelector(".ctl-icon").replaceChildren(icon(iconName));
  }

  /** Reflect the room's state in the buttons. */
  render({ micOn, cameraOn, sharing, may, moderator, recording, mayRecord, recordPending, unread, waiting, panel, handUp, e2ee = false }) {
    this._set(this.hand, { on: handUp, label: handUp ? t("room.lowerHand") : t("room.raiseHand"), iconName: "hand" });
    this.hand.el.dataset.state = handUp ? "on" : "off";
    this._set(this.mic, { on: !micOn, label: micOn ? t("room.mute") : t("room.unmute"), iconName: micOn ? "mic" : "micOff", disabled: !may.microphone });
    this._set(this.camera, { on: !cameraOn, label: cameraOn ? t("room.stopVideo") : t("room.startVideo"), iconName: cameraOn ? "camera" : "cameraOff", disabled: !may.camera });
    this._set(this.screen, { on: sharing, label: sharing ? t("room.stopSharing") : t("room.shareScreen"), iconName: "screen",
      disabled: !may.screen || !navigator.mediaDevices?.getDisplayMedia });
    this.mic.el.dataset.state = micOn ? "on" : "off";
    this.camera.el.dataset.state = cameraOn ? "on" : "off";
    this.screen.el.dataset.state = sharing ? "on" : "off";
    this._set(this.record, { on: recording, label: recording ? t("room.stopRecording") : t("room.record"),
      iconName: recording ? "recordStop" : "record", disabled: recordPending });
    this.record.el.dataset.state = recording ? "on" : "off";
    this.record.el.setAttribute("aria-busy", String(recordPending));
    this.record.el.hidden = !mayRecord;
    if (e2ee) { // it stays in reach and says why it records nothing when pressed
      this.record.el.setAttribute("aria-disabled", "true");
      this.record.el.title = E2EE_TEXT.recordRefused;
    }
    this.chat.el.setAttribute("aria-pressed", String(panel === "chat"));
    this.people.el.setAttribute("aria-pressed", String(panel === "people"));
    this.chat.badge.hidden = !unread;
    this.chat.badge.textContent = String(unread);
    this.chat.badge.dataset.testid = "chat-unread";
    this.people.badge.hidden = !waiting;
    this.people.badge.textContent = String(waiting);
    this.people.badge.dataset.testid = "lobby-count";
    this.end.el.hidden = !moderator;
    if (!moderator) this.confirm.hidden = true;
  }
}

/** The devices' names, and what a device without a label is called (the preview's too). */
export const DEVICE = { camera: "device.camera", microphone: "device.microphone", speaker: "device.speaker" };
export const UNNAMED = { camera: "device.unnamedCamera", microphone: "device.unnamedMicrophone", speaker: "device.unnamedSpeaker" };

/** Camera, microphone and speaker pickers; a choice replaces the track being sent (or where sound plays). */
export class DevicePicker {
  constructor(room) {
    this.room = room;
    this.camera = h("select", { testid: "select-camera", "aria-label": t(DEVICE.camera) });
    this.microphone = h("select", { testid: "select-microphone", "aria-label": t(DEVICE.microphone) });
    this.speaker = h("select", { testid: "select-speaker", "aria-label": t(DEVICE.speaker) });
    this.speaker.addEventListener("change", () => room.view.grid.setSpeaker(this.speaker.value));
    this.error = h("div", { class: "field-error", testid: "devices-error", role: "alert" });
    for (const source of ["camera", "microphone"]) {
      this[source].addEventListener("change", async () => {
        this.error.textContent = "";
        try {
          await room.useDevice(source, this[source].value);
        } catch (err) {
          this.error.textContent = t("device.error", { device: t(DEVICE[source]), detail: err.message });
        }
      });
    }
    this.el = h("div", { class: "popover popover--devices", testid: "devices", hidden: true },
      h("label", { class: "field" }, h("span", { class: "label" }, t(DEVICE.camera)), this.camera),
      h("label", { class: "field" }, h("span", { class: "label" }, t(DEVICE.microphone)), this.microphone),
      CAN_CHOOSE_SPEAKER ? h("label", { class: "field" }, h("span", { class: "label" }, t(DEVICE.speaker)), this.speaker) : null,
      this.error);
  }

  async refresh() {
    const found = await this.room.media.devices();
    for (const source of ["camera", "microphone"]) {
      const current = this.room.media.deviceIds[source];
      this[source].replaceChildren(...(found[source].length
        ? found[source].map((d, i) => h("option", { value: d.deviceId, selected: d.deviceId === current },
          d.label || t(UNNAMED[source], { n: i + 1 })))
        : [h("option", { value: "" }, t("device.noneFound"))]));
      this[source].disabled = !found[source].length || !this.room.state.may(source);
    }
    const current = this.room.view.grid.speaker;
    this.speaker.replaceChildren(h("option", { value: "" }, t("device.systemSpeaker")),
      ...found.speaker.filter((d) => d.deviceId && d.deviceId !== "default")
        .map((d, i) => h("option", { value: d.deviceId, selected: d.deviceId === current }, d.label || t(UNNAMED.speaker, { n: i + 1 }))));
  }
}
