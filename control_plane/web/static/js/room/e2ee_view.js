// What the room shows of end-to-end encryption: the header's badge, a tile whose frames cannot be
// decrypted, and why the Record button does nothing (docs/web.md, End-to-end encryption).

import { h } from "../dom.js";
import { icon } from "./icons.js";

export const E2EE_TEXT = {
  badge: "End-to-end encrypted",
  badgeTitle: "Audio and video are encrypted in each browser with the meeting's passphrase: the servers cannot see or hear them",
  undecryptable: "Cannot decrypt — wrong passphrase?",
  undecryptableTitle: "This person's audio and video were encrypted with another passphrase than yours",
  recordRefused: "Recording is off: this meeting is end-to-end encrypted, so the server cannot read it",
};

/** The header's badge, shown in an end-to-end encrypted meeting. */
export function e2eeBadge() {
  return h("span", { class: "e2ee-badge", testid: "e2ee-badge", title: E2EE_TEXT.badgeTitle, hidden: true },
    icon("lock", 16), E2EE_TEXT.badge);
}

/** A tile's mark when its frames cannot be decrypted (instead of a black picture). */
export function undecryptableMark() {
  return h("div", { class: "tile-undecryptable", testid: "tile-undecryptable", title: E2EE_TEXT.undecryptableTitle, hidden: true },
    icon("lockOff", 28), h("span", {}, E2EE_TEXT.undecryptable));
}

/** One state for a tile from its receivers' (e2ee.js stateOf): "failed" when any fails, else "ok" when any decrypts. */
export function tileState(e2ee, entries) {
  const states = entries.filter(Boolean).map((entry) => e2ee.stateOf(entry.receiver));
  if (states.includes("failed")) return "failed";
  return states.includes("ok") ? "ok" : "";
}
