// The web app's entry: load the session, declare the routes, start the router.

import { h, mount } from "./dom.js";
import { initLanguage, onLanguageChange, t } from "./i18n.js";
import { problem } from "./layout.js";
import { accountPage } from "./pages/account.js";
import { adminPage } from "./pages/admin.js";
import { editMeetingPage, newMeetingPage } from "./pages/meeting_form.js";
import { meetingPage } from "./pages/meeting_view.js";
import { meetingsPage } from "./pages/meetings.js";
import { roomPage } from "./pages/room_page.js";
import { registerPage, signinPage } from "./pages/signin.js";
import { fallback, navigate, render, route, start } from "./router.js";
import { loadSession, session } from "./session.js";

route("/", () => navigate(session.account ? "/meetings" : "/signin", { replace: true }));
route("/signin", signinPage);
route("/register", registerPage);
route("/meetings", meetingsPage);
route("/meetings/new", newMeetingPage);
route("/meetings/:id/edit", editMeetingPage);
route("/meetings/:id", meetingPage);
route("/m/:id", roomPage);
route("/account", accountPage);
route("/admin", (root) => navigate("/admin/accounts", { replace: true }));
route("/admin/:tab", adminPage);
fallback((root) => problem(root, t("notFound.title"), t("notFound.text"), h("a", { class: "btn", href: "/" }, t("notFound.home"))));

initLanguage();
// The header's switch changes the language: the page is drawn again in it (the switch is not in the room).
onLanguageChange(() => render());
const root = document.getElementById("app");
try {
  await loadSession();
} catch (err) {
  mount(root, h("p", { class: "form-error" }, t("app.unreachable", { detail: err.message })));
  throw err;
}
await start(root);
root.dataset.ready = "true";
