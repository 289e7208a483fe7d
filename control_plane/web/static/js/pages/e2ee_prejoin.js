// The join page's part for an end-to-end encrypted meeting: the passphrase (shared by the host
// outside the product), turned into the media key in this browser before joining. It is never sent
// anywhere; sessionStorage keeps it for a rejoin in this tab.

import { ApiError } from "../api.js";
import { h } from "../dom.js";
import { field } from "../forms.js";
import { t } from "../i18n.js";
import { deriveMediaKey, e2eeMethod, rememberedPassphrase, rememberPassphrase } from "../room/e2ee.js";
import { icon } from "../room/icons.js";

const TEXT = {
  note: "e2ee.note", label: "e2ee.passphrase", hint: "e2ee.passphraseHint", missing: "e2ee.passphraseMissing",
  unsupported: "e2ee.unsupported",
};

/** null for a meeting that is not end-to-end encrypted; else the form's part and `mediaKey()`. */
export function passphraseStep(meeting) {
  if (!meeting.e2ee) return null;
  const supported = Boolean(e2eeMethod());
  const input = h("input", { type: "password", autocomplete: "off", maxlength: 512, testid: "join-passphrase",
    value: rememberedPassphrase(meeting.id) });
  const el = h("div", { class: "stack-s", testid: "join-e2ee" },
    h("p", { class: "e2ee-note" }, icon("lock", 16), " ", t(TEXT.note)),
    supported ? field(t(TEXT.label), input, { name: "e2ee_passphrase", hint: t(TEXT.hint) })
      : h("p", { class: "form-error", testid: "e2ee-unsupported", role: "alert" }, t(TEXT.unsupported)));
  return {
    el,
    supported,
    /** The media key from the passphrase typed (an error next to the field when there is none). */
    async mediaKey() {
      const passphrase = input.value;
      if (!passphrase) {
        const missing = t(TEXT.missing);
        throw new ApiError(400, { detail: missing, fields: [{ field: "e2ee_passphrase", message: missing }] });
      }
      const key = await deriveMediaKey(passphrase, meeting.id);
      rememberPassphrase(meeting.id, passphrase);
      return key;
    },
  };
}
