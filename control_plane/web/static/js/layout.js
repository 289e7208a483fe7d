// The frame around every page but the room: a header with navigation, the language and the account.

import { h, mount } from "./dom.js";
import { LANGUAGES, language, setLanguage, t } from "./i18n.js";
import { navigate } from "./router.js";
import { atLeast, session, signOut } from "./session.js";

/** A path on this site only (never `//host` or a full URL), for `?next=`. */
export function safeNext(value, otherwise = "/meetings") {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) && !/[\u0000-\u001f]/.test(value) ? value : otherwise;
}

export function signInPath(next = location.pathname + location.search) {
  return `/signin?next=${encodeURIComponent(next)}`;
}

/** The language switch: each language in its own name; a choice redraws the page (main.js). */
function languageSwitch() {
  const select = h("select", { class: "select--small lang-switch", testid: "language-switch", "aria-label": t("nav.language"),
    title: t("nav.language") },
  ...Object.entries(LANGUAGES).map(([code, name]) => h("option", { value: code, lang: code, selected: code === language() }, name)));
  select.addEventListener("change", () => setLanguage(select.value));
  return select;
}

function header() {
  const account = session.account;
  const nav = h("nav", { class: "nav", "aria-label": t("nav.main") },
    account ? h("a", { href: "/meetings", testid: "nav-meetings" }, t("nav.meetings")) : null,
    account && atLeast("host") ? h("a", { href: "/meetings/new", testid: "nav-new-meeting" }, t("nav.newMeeting")) : null,
    account && atLeast("admin") ? h("a", { href: "/admin/accounts", testid: "nav-admin" }, t("nav.admin")) : null);
  const who = account
    ? h("div", { class: "who" }, languageSwitch(),
      h("a", { class: "who-name", href: "/account", testid: "account-name", title: t("nav.yourAccount", { username: account.username }) },
        account.display_name),
      h("button", {
        class: "btn btn--quiet", type: "button", testid: "sign-out",
        onclick: async () => {
          await signOut();
          navigate("/signin");
        },
      }, t("nav.signOut")))
    : h("div", { class: "who" }, languageSwitch(),
      h("a", { class: "btn btn--quiet", href: signInPath(), testid: "nav-sign-in" }, t("nav.signIn")));
  return h("header", { class: "topbar" },
    h("a", { class: "brand", href: account ? "/meetings" : "/signin" },
      h("img", { src: "/static/icon.svg", alt: "", width: 28, height: 28 }), h("span", {}, t("app.name"))),
    nav, who);
}

/** Draw a page: the header, then `content` in the main area. */
export function page(root, title, ...content) {
  document.title = title ? t("app.pageTitle", { title }) : t("app.name");
  mount(root, header(), h("main", { class: "page", id: "main" }, ...content));
}

export function loading(root) {
  page(root, "", h("p", { class: "muted", testid: "loading" }, t("app.loading")));
}

export function problem(root, title, text, ...actions) {
  page(root, title, h("section", { class: "card narrow", testid: "problem" },
    h("h1", {}, title), h("p", {}, text), h("div", { class: "actions" }, ...actions)));
}
