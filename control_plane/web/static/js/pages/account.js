// The signed-in account: who it is, and a password change for a local account (other sessions end).

import { post } from "../api.js";
import { h } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
import { page, signInPath } from "../layout.js";
import { navigate } from "../router.js";
import { session } from "../session.js";

export async function accountPage(root) {
  const a = session.account;
  if (!a) return navigate(signInPath(), { replace: true });
  const about = h("dl", { class: "facts", testid: "account-facts" },
    h("dt", {}, "User name"), h("dd", {}, a.username), h("dt", {}, "Name"), h("dd", {}, a.display_name),
    h("dt", {}, "Role"), h("dd", { testid: "account-role-text" }, a.role),
    h("dt", {}, "Signs in with"), h("dd", {}, a.source === "local" ? "a password here" : a.source));
  let change = null;
  if (a.source === "local") {
    const current = h("input", { type: "password", autocomplete: "current-password", required: true, testid: "current-password" });
    const next = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 10, testid: "new-password" });
    const again = h("input", { type: "password", autocomplete: "new-password", required: true, testid: "new-password-again" });
    const done = h("p", { class: "notice", testid: "password-changed", role: "status", hidden: true },
      "Your password was changed. Your other sessions were signed out.");
    change = h("form", { class: "card narrow", testid: "password-form", "aria-label": "Change password" },
      h("h2", {}, "Change password"),
      field("Current password", current, { name: "current_password" }),
      field("New password", next, { name: "new_password", hint: "At least 10 characters." }),
      field("New password again", again, { name: "again" }), formError(),
      h("button", { class: "btn btn--primary", type: "submit", testid: "password-save" }, "Change password"), done);
    onSubmit(change, async () => {
      done.hidden = true;
      if (next.value !== again.value) {
        const slot = change.querySelector('.field-error[data-field="again"]');
        slot.textContent = "the two new passwords differ";
        again.setAttribute("aria-invalid", "true");
        return;
      }
      await post("/api/v1/auth/password", { current_password: current.value, new_password: next.value });
      change.reset();
      done.hidden = false;
    });
  }
  page(root, "Your account", h("div", { class: "page-head" }, h("h1", {}, "Your account")),
    h("section", { class: "card narrow" }, about), change ??
      h("p", { class: "muted", testid: "password-elsewhere" }, `Your password is kept by ${a.source === "ldap" ? "the directory" : "your sign-in provider"}; change it there.`));
  return undefined;
}
