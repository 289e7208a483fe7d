// Sign in (local account or the directory, one form) and OpenID Connect buttons; Register.

import { get } from "../api.js";
import { h } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
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
    field(info.ldap ? "User name (this server or the directory)" : "User name", username, { name: "username" }),
    field("Password", password, { name: "password" }),
    h("button", { class: "btn btn--primary", type: "submit", testid: "signin-submit" }, "Sign in"));
  onSubmit(form, async () => {
    await signIn(username.value.trim(), password.value);
    navigate(next, { replace: true });
  });
  const oidc = info.oidc.length
    ? h("div", { class: "stack oidc", testid: "oidc-providers" },
      h("div", { class: "divider" }, h("span", {}, "or")),
      info.oidc.map((p) => h("a", {
        class: "btn btn--wide", href: `${p.start_url}?next=${encodeURIComponent(next)}`,
        "data-external": "", testid: `oidc-${p.id}`,
      }, `Sign in with ${p.name}`)))
    : null;
  const reg = info.registration
    ? h("p", { class: "muted" }, "No account yet? ",
      h("a", { href: `/register?next=${encodeURIComponent(next)}`, testid: "register-link" }, "Register"))
    : null;
  page(root, "Sign in", h("section", { class: "card narrow" }, h("h1", {}, "Sign in"), form, oidc, reg));
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
    field("User name", username, { name: "username" }),
    field("Display name", displayName, { name: "display_name", hint: "How others see you in meetings" }),
    field("E-mail (optional)", email, { name: "email" }),
    field("Password", password, { name: "password", hint: "At least 10 characters" }),
    h("button", { class: "btn btn--primary", type: "submit", testid: "register-submit" }, "Create account"));
  onSubmit(form, async () => {
    const body = { username: username.value.trim(), password: password.value };
    if (displayName.value.trim()) body.display_name = displayName.value.trim();
    if (email.value.trim()) body.email = email.value.trim();
    await register(body);
    navigate(next, { replace: true });
  });
  page(root, "Register", h("section", { class: "card narrow" }, h("h1", {}, "Create an account"), form,
    h("p", { class: "muted" }, "Have an account? ", h("a", { href: `/signin?next=${encodeURIComponent(next)}` }, "Sign in"))));
}
