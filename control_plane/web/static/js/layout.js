// The frame around every page but the room: a header with navigation and the account.

import { h, mount } from "./dom.js";
import { navigate } from "./router.js";
import { atLeast, session, signOut } from "./session.js";

/** A path on this site only (never `//host` or a full URL), for `?next=`. */
export function safeNext(value, otherwise = "/meetings") {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) && !/[\u0000-\u001f]/.test(value) ? value : otherwise;
}

export function signInPath(next = location.pathname + location.search) {
  return `/signin?next=${encodeURIComponent(next)}`;
}

function header() {
  const account = session.account;
  const nav = h("nav", { class: "nav", "aria-label": "Main" },
    account ? h("a", { href: "/meetings", testid: "nav-meetings" }, "Meetings") : null,
    account && atLeast("host") ? h("a", { href: "/meetings/new", testid: "nav-new-meeting" }, "New meeting") : null,
    account && atLeast("admin") ? h("a", { href: "/admin/accounts", testid: "nav-admin" }, "Administration") : null);
  const who = account
    ? h("div", { class: "who" },
      h("a", { class: "who-name", href: "/account", testid: "account-name", title: `${account.username}: your account` },
        account.display_name),
      h("button", {
        class: "btn btn--quiet", type: "button", testid: "sign-out",
        onclick: async () => {
          await signOut();
          navigate("/signin");
        },
      }, "Sign out"))
    : h("a", { class: "btn btn--quiet", href: signInPath(), testid: "nav-sign-in" }, "Sign in");
  return h("header", { class: "topbar" },
    h("a", { class: "brand", href: account ? "/meetings" : "/signin" },
      h("img", { src: "/static/icon.svg", alt: "", width: 28, height: 28 }), h("span", {}, "Curious Connect")),
    nav, who);
}

/** Draw a page: the header, then `content` in the main area. */
export function page(root, title, ...content) {
  document.title = title ? `${title} · Curious Connect` : "Curious Connect";
  mount(root, header(), h("main", { class: "page", id: "main" }, ...content));
}

export function loading(root) {
  page(root, "", h("p", { class: "muted", testid: "loading" }, "Loading…"));
}

export function problem(root, title, text, ...actions) {
  page(root, title, h("section", { class: "card narrow", testid: "problem" },
    h("h1", {}, title), h("p", {}, text), h("div", { class: "actions" }, ...actions)));
}
