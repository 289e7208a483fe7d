// The signed-in account: who it is, and a password change for a local account (other sessions end).

import { post } from "../api.js";
import { h } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
import { t } from "../i18n.js";
import { page, signInPath } from "../layout.js";
import { navigate } from "../router.js";
import { session } from "../session.js";
import { ROLE_NAMES } from "./admin.js";

export async function accountPage(root) {
  const a = session.account;
  if (!a) return navigate(signInPath(), { replace: true });
  const about = h("dl", { class: "facts", testid: "account-facts" },
    h("dt", {}, t("signin.username")), h("dd", {}, a.username), h("dt", {}, t("account.name")), h("dd", {}, a.display_name),
    h("dt", {}, t("admin.role")), h("dd", { testid: "account-role-text" }, ROLE_NAMES[a.role] ? t(ROLE_NAMES[a.role]) : a.role),
    h("dt", {}, t("account.signsInWith")), h("dd", {}, a.source === "local" ? t("account.localPassword") : a.source));
  let change = null;
  if (a.source === "local") {
    const current = h("input", { type: "password", autocomplete: "current-password", required: true, testid: "current-password" });
    const next = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 10, testid: "new-password" });
    const again = h("input", { type: "password", autocomplete: "new-password", required: true, testid: "new-password-again" });
    const done = h("p", { class: "notice", testid: "password-changed", role: "status", hidden: true },
      t("account.passwordChanged"));
    change = h("form", { class: "card narrow", testid: "password-form", "aria-label": t("account.changePassword") },
      h("h2", {}, t("account.changePassword")),
      field(t("account.currentPassword"), current, { name: "current_password" }),
      field(t("account.newPassword"), next, { name: "new_password", hint: t("account.newPasswordHint") }),
      field(t("account.newPasswordAgain"), again, { name: "again" }), formError(),
      h("button", { class: "btn btn--primary", type: "submit", testid: "password-save" }, t("account.changePassword")), done);
    onSubmit(change, async () => {
      done.hidden = true;
      if (next.value !== again.value) {
        const slot = change.querySelector('.field-error[data-field="again"]');
        slot.textContent = t("account.passwordsDiffer");
        again.setAttribute("aria-invalid", "true");
        return;
      }
      await post("/api/v1/auth/password", { current_password: current.value, new_password: next.value });
      change.reset();
      done.hidden = false;
    });
  }
  page(root, t("account.title"), h("div", { class: "page-head" }, h("h1", {}, t("account.title"))),
    h("section", { class: "card narrow" }, about), change ??
      h("p", { class: "muted", testid: "password-elsewhere" },
        a.source === "ldap" ? t("account.passwordInDirectory") : t("account.passwordAtProvider")));
  return undefined;
}
