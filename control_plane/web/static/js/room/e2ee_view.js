// What the room shows of end-to-end encryption: the header's badge, a tile whose frames cannot be
// decrypted, and why the Record button does nothing (docs/web.md, End-to-end encryption).

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { icon } from "./icons.js";

/** The texts, in the page's language (read when shown). */
export const E2EE_TEXT = {
  get badge() { return t("e2ee.badge"); },
  get badgeTitle() { return t("e2ee.badgeTitle"); },
  get undecryptable() { return t("e2ee.undecryptable"); },
  get undecryptableTitle() { return t("e2ee.undecryptableTitle"); },
  get recordRefused() { return t("e2ee.recordRefused"); },
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
