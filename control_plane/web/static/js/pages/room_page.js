// The join link (/m/<id>): a preview of one's camera and microphone (devices, join muted or without
// the camera), who joins (the account, or a guest's name), the meeting password when there is
// one, then the room.

import { ApiError, get, post } from "../api.js";
import { h } from "../dom.js";
import { field, formError, onSubmit } from "../forms.js";
import { t, tParts } from "../i18n.js";
import { page, problem, signInPath } from "../layout.js";
import { navigate, render } from "../router.js";
import { session } from "../session.js";
import { BreakoutTrips } from "../room/breakouts.js";
import { Preview } from "../room/preview.js";
import { Room } from "../room/room.js";
import { passphraseStep } from "./e2ee_prejoin.js";

const MAX_MOVES = 8;

export async function roomPage(root, { id }) {
  let meeting;
  try {
    meeting = await get(`/api/v1/meetings/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      return problem(root, t("join.signInTitle"), t("join.signInText"),
        h("a", { class: "btn btn--primary", href: signInPath(), testid: "join-sign-in" }, t("nav.signIn")));
    }
    return problem(root, t("meeting.title"), err.detail || String(err), h("a", { class: "btn", href: "/" }, t("meeting.back")));
  }
  let room = null;
  const guest = !session.account;
  const name = h("input", { autocomplete: "name", required: true, maxlength: 100, testid: "guest-name", autofocus: true });
  const password = h("input", { type: "password", autocomplete: "off", testid: "join-password" });
  const needsPassword = meeting.has_password && !meeting.can_manage;
  const secret = passphraseStep(meeting); // an end-to-end encrypted meeting: its passphrase, never sent
  let mediaKey = null;
  const form = h("form", { class: "stack", testid: "join-form", novalidate: true },
    formError(),
    guest
      ? field(t("join.yourName"), name, { name: "display_name", hint: t("join.yourNameHint") })
      : h("p", { testid: "join-as" }, tParts("join.as", { name: h("strong", {}, session.account.display_name) })),
    needsPassword ? field(t("meetingForm.password"), password, { name: "password" }) : null,
    secret?.el,
    h("button", { class: "btn btn--primary btn--wide", type: "submit", testid: "join-button", disabled: secret?.supported === false }, t("join.now")),
    guest ? h("p", { class: "muted" }, t("register.haveAccount"), " ", h("a", { href: signInPath() }, t("nav.signIn"))) : null);
  let moves = 0;
  let gone = false;
  const ask = (body) => post(`/api/v1/meetings/${encodeURIComponent(id)}/join`, body);
  const preview = meeting.state === "ended" ? null : new Preview();
  let handed = null; // the preview's devices and choices, for the first room (later rooms open their own)
  let place = null; // a breakout room the page is in ({meeting, breakout, ask}); null: the meeting itself
  let joinBody = {};
  // Breakout rooms: leave this room for the one the answer names, with the same camera and microphone.
  const trips = new BreakoutTrips(meeting, async (answer, next) => {
    handed = room?.handOver() ?? null;
    place = next;
    moves = 0;
    try {
      await start(joinBody, answer);
    } catch {
      await move(joinBody);
    }
  });
  const start = async (body, answer = null, movedBecause = null) => {
    const clicked = performance.now();
    const join = answer || await (place ? place.ask() : ask(body));
    if (gone) return;
    if (join.e2ee && !mediaKey) return render(); // end-to-end encrypted since the page was drawn: ask its passphrase
    join.marks = { clicked, token: performance.now() };
    const first = handed;
    handed = null;
    room = new Room(root, {
      meeting: place?.meeting ?? meeting, join, media: first?.media, prefs: first?.prefs ?? preview?.prefs,
      onRejoin: () => render(),
      onExit: () => navigate(session.account ? "/meetings" : "/"),
      onMove: (next, reason) => move(body, next, reason),
      askAgain: () => (place ? place.ask() : ask(body)),
      breakout: place?.breakout, onBreakout: (msg, from) => trips.handle(msg, from),
      onEntered: () => { moves = 0; },
      movedBecause, mediaKey,
    });
  };
  // The edge went away: join again (with backoff) until the control plane places the meeting elsewhere.
  const move = async (body, next = null, reason = null) => {
    moves += 1;
    if (moves > MAX_MOVES) {
      return problem(root, meeting.title, t("join.noServer"),
        h("button", { class: "btn btn--primary", type: "button", testid: "rejoin", onclick: () => render() }, t("join.tryAgain")));
    }
    if (!next) {
      const ceiling = Math.min(8000, 300 * 2 ** moves);
      await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + Math.random() * (ceiling / 2)));
    }
    if (gone) return;
    try {
      await start(body, next, reason);
    } catch {
      await move(body, null, reason);
    }
  };
  onSubmit(form, async () => {
    const body = {};
    if (guest) body.display_name = name.value.trim();
    if (needsPassword) body.password = password.value;
    joinBody = body;
    if (secret) mediaKey = await secret.mediaKey();
    if (preview && !preview.handedOver) handed = await preview.handOver();
    await start(body);
  });
  page(root, meeting.title, h("section", { class: ["card", preview ? "prejoin" : "narrow"], testid: "prejoin" },
    h("h1", {}, meeting.title),
    meeting.state === "ended" ? h("p", { class: "form-error" }, t("join.ended")) : null,
    h("div", { class: "prejoin-body" }, preview?.el, form)));
  return () => {
    gone = true;
    room?.destroy();
    preview?.destroy();
  };
}
