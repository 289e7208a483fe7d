// Sign in (local account or the directory, one form) and OpenID Connect buttons; Register.

import { get } from "../api.js";
import { h } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
import { t } from "../i18n.js";
import { page, safeNext } from "../layout.js";
import { navigate } from "../router.js";
import { register, session, signIn } from "../session.js";

async function providers() {
  try {
    return await get("/api/v1/auth/providers");
  } catch {
    return { registration: false, ldap: false, oidc: [] };
  }
}

export async function signinPage(root, _params, query) {
  const next = safeNext(query.get("next"));
  if (session.account) return navigate(next, { replace: true });
  const info = await providers();
  const username = h("input", { autocomplete: "username", required: true, testid: "signin-username", autofocus: true });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true, testid: "signin-password" });
  const form = h("form", { class: "stack", testid: "signin-form", novalidate: true },
    formError(),
    field(info.ldap ? t("signin.usernameOrDirectory") : t("signin.username"), username, { name: "username" }),
    field(t("signin.password"), password, { name: "password" }),
    h("button", { class: "btn btn--primary", type: "submit", testid: "signin-submit" }, t("signin.submit")));
  onSubmit(form, async () => {
    await signIn(username.value.trim(), password.value);
    navigate(next, { replace: true });
  });
  const oidc = info.oidc.length
    ? h("div", { class: "stack oidc", testid: "oidc-providers" },
      h("div", { class: "divider" }, h("span", {}, t("signin.or"))),
      info.oidc.map((p) => h("a", {
        class: "btn btn--wide", href: `${p.start_url}?next=${encodeURIComponent(next)}`,
        "data-external": "", testid: `oidc-${p.id}`,
      }, t("signin.with", { provider: p.name }))))
    : null;
  const reg = info.registration
    ? h("p", { class: "muted" }, t("signin.noAccount"), " ",
      h("a", { href: `/register?next=${encodeURIComponent(next)}`, testid: "register-link" }, t("signin.register")))
    : null;
  page(root, t("signin.title"), h("section", { class: "card narrow" }, h("h1", {}, t("signin.title")), form, oidc, reg));
}

export async function registerPage(root, _params, query) {
  const next = safeNext(query.get("next"));
  if (session.account) return navigate(next, { replace: true });
  const username = h("input", { autocomplete: "username", required: true, testid: "register-username" });
  const displayName = h("input", { autocomplete: "name", testid: "register-display-name" });
  const email = h("input", { type: "email", autocomplete: "email", testid: "register-email" });
  const password = h("input", { type: "password", autocomplete: "new-password", required: true, testid: "register-password" });
  const form = h("form", { class: "stack", testid: "register-form", novalidate: true },
    formError(),
    field(t("signin.username"), username, { name: "username" }),
    field(t("register.displayName"), displayName, { name: "display_name", hint: t("register.displayNameHint") }),
    field(t("register.email"), email, { name: "email" }),
    field(t("signin.password"), password, { name: "password", hint: t("register.passwordHint") }),
    h("button", { class: "btn btn--primary", type: "submit", testid: "register-submit" }, t("register.submit")));
  onSubmit(form, async () => {
    const body = { username: username.value.trim(), password: password.value };
    if (displayName.value.trim()) body.display_name = displayName.value.trim();
    if (email.value.trim()) body.email = email.value.trim();
    await register(body);
    navigate(next, { replace: true });
  });
  page(root, t("register.title"), h("section", { class: "card narrow" }, h("h1", {}, t("register.heading")), form,
    h("p", { class: "muted" }, t("register.haveAccount"), " ",
      h("a", { href: `/signin?next=${encodeURIComponent(next)}` }, t("signin.title")))));
}
