// Form building and error display: an ApiError's `fields` appear next to their inputs.

import { ApiError, del } from "./api.js";
import { h, toast } from "./dom.js";
import { t } from "./i18n.js";

/** A labelled control with an error slot; `name` ties it to an API field. */
export function field(label, control, { name, hint } = {}) {
  const input = control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
  const id = input.id || `f-${name || Math.random().toString(36).slice(2)}`;
  input.id = id;
  if (name && !input.name) input.name = name;
  const error = h("div", { class: "field-error", testid: name ? `error-${name}` : null, role: "alert" });
  if (name) error.dataset.field = name;
  return h("div", { class: "field", dataset: name ? { fieldWrap: name } : {} },
    h("label", { for: id }, label), control, hint ? h("div", { class: "hint" }, hint) : null, error);
}

/** A checkbox with its label and an error slot. */
export function check(label, control, { name, hint } = {}) {
  if (name && !control.name) control.name = name;
  const error = h("div", { class: "field-error", testid: name ? `error-${name}` : null, role: "alert" });
  if (name) error.dataset.field = name;
  return h("div", { class: "field field--check" },
    h("label", { class: "check" }, control, h("span", {}, label)), hint ? h("div", { class: "hint" }, hint) : null, error);
}

export function formError() {
  return h("div", { class: "form-error", testid: "form-error", role: "alert" });
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error, .form-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Put each field message in its slot (a nested field falls back to its parent); the rest on top. */
export function showErrors(form, err) {
  clearErrors(form);
  const general = form.querySelector(".form-error");
  if (!(err instanceof ApiError)) {
    if (general) general.textContent = String(err.message || err);
    return;
  }
  const unplaced = [];
  for (const { field: name, message } of err.fields) {
    let slot = null;
    const parts = name.split(".");
    while (parts.length && !slot) {
      slot = form.querySelector(`.field-error[data-field="${CSS.escape(parts.join("."))}"]`);
      parts.pop();
    }
    if (!slot) {
      unplaced.push(`${name}: ${message}`);
      continue;
    }
    const text = message.replace(/ - at `\$[^`]*`$/, ""); // the field is shown by the slot itself
    slot.textContent = slot.textContent ? `${slot.textContent}; ${text}` : text;
    const input = slot.parentElement.querySelector("input, select, textarea");
    if (input) input.setAttribute("aria-invalid", "true");
  }
  if (general && (unplaced.length || !err.fields.length)) {
    general.textContent = unplaced.length ? unplaced.join("; ") : err.detail;
  }
}

/** Run `action` on submit with the button disabled; errors are shown in the form. */
export function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    clearErrors(form);
    try {
      await action();
    } catch (err) {
      showErrors(form, err);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/**
 * Delete with a second click to confirm: *Delete*, then *question* with *Delete for good* and
 * *Keep* (in the chosen language). `url` is DELETEd; on success `deleted` is shown and `done`
 * runs; an error is shown and the button can be pressed again. `testid` names the first button
 * (`-confirm` the second).
 */
export function confirmDelete({ url, question, deleted, done, testid, small = false }) {
  const size = small ? " btn--small" : "";
  const box = h("span", { class: "confirm" });
  const ask = h("button", { class: `btn${size} btn--danger-quiet`, type: "button", testid }, t("form.delete"));
  const yes = h("button", { class: `btn${size} btn--danger`, type: "button", testid: `${testid}-confirm` },
    t("form.deleteForGood"));
  const no = h("button", { class: `btn${size} btn--quiet`, type: "button" }, t("form.keep"));
  ask.addEventListener("click", () => box.replaceChildren(h("span", { class: "muted" }, question), yes, no));
  no.addEventListener("click", () => box.replaceChildren(ask));
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    try {
      await del(url);
      toast(deleted);
      done();
    } catch (err) {
      toast(err.detail || String(err), { kind: "error" });
      yes.disabled = false;
    }
  });
  box.append(ask);
  return box;
}
