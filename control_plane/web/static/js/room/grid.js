// The video grid: one tile per participant (camera, or initials when it is off) and one per
// shared screen, with names, mute marks and the active speaker's highlight. Tiles are kept by key
// so a video element is not recreated when something else changes.

import { h } from "../dom.js";
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
  const micOff = h("span", { class: "tile-flag", testid: "tile-mic-muted", title: "Microphone muted" }, icon("micOff", 16));
  const camOff = h("span", { class: "tile-flag", testid: "tile-camera-off", title: "Camera off" }, icon("cameraOff", 16));
  const hand = h("span", { class: "tile-hand", testid: "tile-hand", title: "Hand raised", hidden: true }, icon("hand", 18));
  const reaction = h("span", { class: "tile-reaction", testid: "tile-reaction", hidden: true });
  const avatar = h("div", { class: "tile-avatar", "aria-hidden": "true" });
  const el = h("div", { class: ["tile", `tile--${source}`], testid: "tile", dataset: { key, source } },
    avatar, video, audio, hand, reaction, h("div", { class: "tile-label" }, micOff, camOff, name));
  return { el, video, audio, name, micOff, camOff, avatar, hand, reaction };
}

export class Grid {
  constructor() {
    this.el = h("div", { class: "grid", testid: "grid", "aria-label": "Participants" });
    this.tiles = new Map();
    this.onRemoteFrame = () => {};
    this.speaker = ""; // where remote sound plays (a device id; "" the system's)
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

  /** Bring the tiles in line with the state, the local tracks and what the subscriber receives. */
  sync(state, local, bound) {
    const wanted = [];
    const people = [...state.participants.values()];
    for (const p of people) {
      const isMe = p.participant_id === state.me;
      const tracks = [...p.tracks.values()];
      for (const t of tracks.filter((x) => x.source === "screen")) {
        const tile = this._tile(`screen:${t.track_id}`, "screen");
        const track = isMe ? local.screen : bound.get(t.track_id)?.track || null;
        this._fill(tile, p, { isMe, video: track, label: `${isMe ? "You" : p.name} (screen)`, trackId: t.track_id });
        wanted.push(tile);
      }
    }
    for (const p of people) {
      const isMe = p.participant_id === state.me;
      const tile = this._tile(`camera:${p.participant_id}`, "camera");
      const cam = [...p.tracks.values()].find((t) => t.source === "camera");
      const mic = [...p.tracks.values()].find((t) => t.source === "microphone");
      const camOn = cam && !p.muted.has("camera");
      const video = isMe ? local.camera : camOn ? bound.get(cam.track_id)?.track || null : null;
      const audio = !isMe && mic ? bound.get(mic.track_id)?.track || null : null;
      this._fill(tile, p, {
        isMe, video, audio, label: isMe ? `${p.name} (you)` : p.name, trackId: cam?.track_id || "",
        micMuted: p.muted.has("microphone") || !mic, cameraOff: !video,
      });
      tile.el.dataset.speaking = String(state.activeSpeaker === p.participant_id);
      tile.el.dataset.hand = String(Boolean(p.hand));
      tile.hand.hidden = !p.hand;
      wanted.push(tile);
    }
    for (const [key, tile] of this.tiles) {
      if (!wanted.includes(tile)) {
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
    tile.reaction.title = REACTION_NAMES[reaction];
    tile.reaction.dataset.reaction = reaction;
    tile.reaction.hidden = false;
    tile.reaction.classList.remove("tile-reaction--pop");
    void tile.reaction.offsetWidth; // restart the animation
    tile.reaction.classList.add("tile-reaction--pop");
    clearTimeout(tile.reactionTimer);
    tile.reactionTimer = setTimeout(() => { tile.reaction.hidden = true; }, REACTION_MS);
  }

  _fill(tile, p, { isMe, video, audio = null, label, trackId, micMuted = false, cameraOff = false }) {
    const d = tile.el.dataset;
    d.participantId = p.participant_id;
    d.local = String(isMe);
    d.trackId = trackId;
    d.micMuted = String(micMuted);
    d.cameraOff = String(cameraOff);
    tile.el.classList.toggle("tile--mirror", isMe && tile.el.dataset.source === "camera");
    tile.name.textContent = label;
    tile.avatar.textContent = initials(p.name);
    tile.micOff.hidden = !micMuted;
    tile.camOff.hidden = !cameraOff || tile.el.dataset.source !== "camera";
    tile.video.hidden = !video;
    attach(tile.video, video, isMe ? null : this.onRemoteFrame);
    if (tile.audio) attach(tile.audio, audio);
  }
}
