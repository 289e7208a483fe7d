// The video grid: one tile per participant (camera, or initials when it is off) and one per
// shared screen, with names, mute marks, a hand, the connection's quality and the active speaker's
// highlight. Tiles are kept by key so a video element is not recreated when something else changes.
//
// Many participants: the people's tiles come in pages (as many as fit: 9, 4 at phone width), and
// the active speaker is always on the page shown (in its last place when its own page is another).
// A tile off the page stays known but out of the document: the view message reports it hidden,
// so the edge sends it nothing (its sound still plays).

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { tileState, undecryptableMark } from "./e2ee_view.js";
import { icon, REACTION_NAMES, REACTIONS } from "./icons.js";

/** How long a reaction stays on its tile. */
const REACTION_MS = 4000;

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("") || "?";
}

/** Show `track` in a media element; nothing is done when it already shows that track. */
function attach(el, track, onFrame = null) {
  if (el.ccTrack === track) return;
  el.ccTrack = track || null;
  el.srcObject = track ? new MediaStream([track]) : null;
  if (!track) return;
  el.play().catch(() => {});
  if (onFrame && el.requestVideoFrameCallback) el.requestVideoFrameCallback(() => onFrame());
}

function makeTile(key, source) {
  const video = h("video", { class: "tile-video", autoplay: true, playsinline: true, muted: true });
  video.muted = true;
  const audio = source === "camera" ? h("audio", { autoplay: true, class: "offscreen" }) : null;
  const name = h("span", { class: "tile-name", testid: "tile-name" });
  const micOff = h("span", { class: "tile-flag", testid: "tile-mic-muted", title: t("room.micMuted") }, icon("micOff", 16));
  const camOff = h("span", { class: "tile-flag", testid: "tile-camera-off", title: t("room.cameraOff") }, icon("cameraOff", 16));
  const hand = h("span", { class: "tile-hand", testid: "tile-hand", title: t("room.handRaised"), hidden: true }, icon("hand", 18));
  const quality = h("span", { class: "tile-quality", testid: "tile-quality", title: t("room.connection", { quality: t(QUALITY_TEXT.unknown) }), hidden: true,
    dataset: { level: "unknown" } }, h("i"), h("i"), h("i"));
  const reaction = h("span", { class: "tile-reaction", testid: "tile-reaction", hidden: true });
  const avatar = h("div", { class: "tile-avatar", "aria-hidden": "true" });
  const undecryptable = undecryptableMark();
  const el = h("div", { class: ["tile", `tile--${source}`], testid: "tile", dataset: { key, source } },
    avatar, video, undecryptable, audio, hand, reaction, h("div", { class: "tile-label" }, quality, micOff, camOff, name));
  return { el, video, audio, name, micOff, camOff, avatar, hand, reaction, quality, undecryptable };
}

const QUALITY_TEXT = { good: "room.quality.good", fair: "room.quality.fair", poor: "room.quality.poor", unknown: "room.quality.unknown" };

export class Grid {
  constructor() {
    this.el = h("div", { class: "grid", testid: "grid", "aria-label": t("room.participants") });
    this.page = 0;
    this.pages = 1;
    this.pageLabel = h("span", { testid: "grid-page", "aria-live": "polite" });
    this.prev = h("button", { class: "btn btn--small", type: "button", testid: "grid-prev", "aria-label": t("room.previousPage"),
      onclick: () => this.turn(-1) }, "‹");
    this.next = h("button", { class: "btn btn--small", type: "button", testid: "grid-next", "aria-label": t("room.nextPage"),
      onclick: () => this.turn(1) }, "›");
    this.pager = h("nav", { class: "pager", testid: "grid-pager", "aria-label": t("room.pages"), hidden: true },
      this.prev, this.pageLabel, this.next);
    this.wrap = h("div", { class: "grid-wrap" }, this.el, this.pager);
    this.onTurn = () => {};
    this.tiles = new Map();
    this.onRemoteFrame = () => {};
    this.speaker = ""; // where remote sound plays (a device id; "" the system's)
    this.e2ee = null; // the room's frame encryption in an end-to-end encrypted meeting: each tile's decryption state
  }

  /** Play everyone's sound on *deviceId* (where the browser lets a page choose). */
  setSpeaker(deviceId) {
    this.speaker = deviceId || "";
    for (const tile of this.tiles.values()) this._sink(tile);
  }

  _sink(tile) {
    if (tile.audio?.setSinkId && tile.audio.sinkId !== this.speaker) tile.audio.setSinkId(this.speaker).catch(() => {});
  }

  _tile(key, source) {
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = makeTile(key, source);
      this.tiles.set(key, tile);
      if (this.speaker) this._sink(tile);
    }
    return tile;
  }

  /** How many people's tiles a page holds: what fits the grid at a useful size. */
  pageSize() {
    const w = this.el.clientWidth || window.innerWidth;
    const h = this.el.clientHeight || window.innerHeight;
    return w < 700 || h < 420 ? 4 : 9;
  }

  turn(step) {
    this.page = Math.max(0, Math.min(this.pages - 1, this.page + step));
    this.onTurn();
  }

  /** The people whose tiles are on the page shown: that page of *people*, with the active speaker
   * in its last place when it is on another page. */
  _paged(people, speaker, me) {
    const size = this.pageSize();
    this.pages = Math.max(1, Math.ceil(people.length / size));
    this.page = Math.min(this.page, this.pages - 1);
    const shown = people.slice(this.page * size, (this.page + 1) * size);
    const loud = people.find((p) => p.participant_id === speaker && p.participant_id !== me);
    if (loud && !shown.includes(loud)) shown[shown.length - 1] = loud;
    this.pager.hidden = this.pages < 2;
    this.pageLabel.textContent = `${this.page + 1} / ${this.pages}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= this.pages - 1;
    return new Set(shown);
  }

  /** Each remote track's connection quality (track id as the browser names it → level). */
  setQuality(levels) {
    for (const tile of this.tiles.values()) {
      const ids = [tile.video.ccTrack?.id, tile.audio?.ccTrack?.id].filter(Boolean);
      const level = ids.map((id) => levels.get(id)).find(Boolean) || null;
      tile.quality.hidden = !level || tile.el.dataset.local === "true";
      if (!level) continue;
      tile.quality.dataset.level = level;
      tile.quality.title = t("room.connection", { quality: t(QUALITY_TEXT[level]) });
      tile.el.dataset.quality = level;
    }
  }

  /** Bring the tiles in line with the state, the local tracks and what the subscriber receives. */
  sync(state, local, bound) {
    const wanted = [];
    const people = [...state.participants.values()];
    const onPage = this._paged(people, state.activeSpeaker, state.me);
    const offPage = [];
    for (const p of people) {
      const isMe = p.participant_id === state.me;
      const tracks = [...p.tracks.values()];
      for (const shared of tracks.filter((x) => x.source === "screen")) {
        const tile = this._tile(`screen:${shared.track_id}`, "screen");
        const track = isMe ? local.screen : bound.get(shared.track_id)?.track || null;
        const e2ee = this.e2ee && !isMe ? tileState(this.e2ee, [bound.get(shared.track_id)]) : "";
        this._fill(tile, p, { isMe, video: track, label: isMe ? t("room.yourScreen") : t("room.screenOf", { name: p.name }), trackId: shared.track_id, e2ee });
        wanted.push(tile);
      }
    }
    for (const p of people) {
      const isMe = p.participant_id === state.me;
      const tile = this._tile(`camera:${p.participant_id}`, "camera");
      const cam = [...p.tracks.values()].find((tr) => tr.source === "camera");
      const mic = [...p.tracks.values()].find((tr) => tr.source === "microphone");
      const camOn = cam && !p.muted.has("camera");
      const shown = onPage.has(p);
      const video = isMe ? local.camera : camOn && shown ? bound.get(cam.track_id)?.track || null : null;
      const audio = !isMe && mic ? bound.get(mic.track_id)?.track || null : null; // heard on every page
      this._fill(tile, p, {
        isMe, video, audio, label: isMe ? t("room.you", { name: p.name }) : p.name, trackId: cam?.track_id || "",
        micMuted: p.muted.has("microphone") || !mic, cameraOff: !video,
        e2ee: this.e2ee && !isMe ? tileState(this.e2ee, [cam && bound.get(cam.track_id), mic && bound.get(mic.track_id)]) : "",
      });
      tile.el.dataset.speaking = String(state.activeSpeaker === p.participant_id);
      tile.el.dataset.hand = String(Boolean(p.hand));
      tile.hand.hidden = !p.hand;
      tile.el.dataset.offPage = String(!shown);
      if (shown) wanted.push(tile);
      else offPage.push(tile); // not drawn; the view reports it hidden, so the edge sends it no video
    }
    for (const tile of offPage) tile.el.remove();
    for (const [key, tile] of this.tiles) {
      if (!wanted.includes(tile) && !offPage.includes(tile)) {
        attach(tile.video, null);
        if (tile.audio) attach(tile.audio, null);
        tile.el.remove();
        this.tiles.delete(key);
      }
    }
    wanted.forEach((tile, i) => {
      if (this.el.children[i] !== tile.el) this.el.insertBefore(tile.el, this.el.children[i] || null);
    });
    this.el.dataset.count = String(Math.min(wanted.length, 9));
  }

  /** Show *reaction* on the participant's camera tile for a few seconds. */
  showReaction(participantId, reaction) {
    const tile = this.tiles.get(`camera:${participantId}`);
    if (!tile || !REACTIONS[reaction]) return;
    tile.reaction.textContent = REACTIONS[reaction];
    tile.reaction.title = t(REACTION_NAMES[reaction]);
    tile.reaction.dataset.reaction = reaction;
    tile.reaction.hidden = false;
    tile.reaction.classList.remove("tile-reaction--pop");
    void tile.reaction.offsetWidth; // restart the animation
    tile.reaction.classList.add("tile-reaction--pop");
    clearTimeout(tile.reactionTimer);
    tile.reactionTimer = setTimeout(() => { tile.reaction.hidden = true; }, REACTION_MS);
  }

  _fill(tile, p, { isMe, video, audio = null, label, trackId, micMuted = false, cameraOff = false, e2ee = "" }) {
    const d = tile.el.dataset;
    d.participantId = p.participant_id;
    d.local = String(isMe);
    d.trackId = trackId;
    d.micMuted = String(micMuted);
    d.cameraOff = String(cameraOff);
    d.e2ee = e2ee; // "ok", "failed" (cannot decrypt: another passphrase), "" (no frames yet, or not encrypted)
    tile.undecryptable.hidden = e2ee !== "failed";
    tile.el.classList.toggle("tile--mirror", isMe && tile.el.dataset.source === "camera");
    tile.name.textContent = label;
    tile.avatar.textContent = initials(p.name);
    tile.micOff.hidden = !micMuted;
    tile.camOff.hidden = !cameraOff || tile.el.dataset.source !== "camera";
    tile.video.hidden = !video || e2ee === "failed";
    attach(tile.video, video, isMe ? null : this.onRemoteFrame);
    if (tile.audio) attach(tile.audio, audio);
  }
}
