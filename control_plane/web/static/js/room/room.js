// A meeting room: joins the edge with the token, publishes this browser's camera and microphone,
// receives everyone else, and keeps the view in step with what the edge says.

import { h, toast } from "../dom.js";
import { t } from "../i18n.js";
import { controls, END_REASON } from "./controls.js";
import { showBreakout, showNotice } from "./breakouts.js";
import { exposeForDiagnostics } from "./debug.js";
import { E2ee } from "./e2ee.js";
import { LocalMedia } from "./media.js";
import { Publisher, Subscriber } from "./peers.js";
import { QualityMeter } from "./quality.js";
import { Signaling } from "./signaling.js";
import { RoomState } from "./state.js";
import { RoomView } from "./view.js";

/** How long a peer connection's ICE may stay `disconnected` (a network change) before ICE is restarted. */
const ICE_RESTART_AFTER_MS = 1500;

/** Why the room ended, as the page says it (catalogue keys). */
const ENDINGS = {
  kicked: "room.end.kicked", ended: "room.end.ended", denied: "room.end.denied", left: "room.end.left", lost: "room.end.lost",
  replaced: "room.end.replaced", edge_stopped: "room.end.edgeStopped", refused: "room.end.refused",
  unreachable: "room.end.unreachable", origin: "room.end.origin", no_join: "room.end.noJoin",
};

export class Room {
  constructor(root, { meeting, join, onRejoin, onExit, onMove = null, askAgain = null, onEntered = () => {}, movedBecause = null,
    media = null, prefs = null, mediaKey = null, breakout = null, onBreakout = null }) {
    this.meeting = meeting;
    this.join = join;
    // An end-to-end encrypted meeting (the join answer says so): frames encrypted with the passphrase's key.
    this.e2ee = join.e2ee && mediaKey ? new E2ee(mediaKey) : null;
    if (this.e2ee) this.e2ee.onChange = () => this.render();
    this.onRejoin = onRejoin;
    this.onExit = onExit;
    this.onMove = onMove; // the edge is stopping: join again through the control plane (another edge)
    this.askAgain = askAgain; // a new join answer from the control plane (a new token; where is the meeting now?)
    this.onEntered = onEntered;
    this.moving = false;
    this.moveReason = null; // why the room leaves its edge for the control plane's: "draining" (the edge said so)
    this.movedBecause = movedBecause; // why the previous room of this page left its edge
    this.state = new RoomState();
    // The devices the preview opened (and the choices made there: join muted, without the camera, the speaker).
    this.prefs = prefs || {};
    this.media = media || new LocalMedia();
    if (!media && this.prefs.camera) this.media.deviceIds = { camera: this.prefs.camera, microphone: this.prefs.microphone || "" };
    this.media.onScreenEnded = () => this.toggleScreen();
    this.breakout = breakout; // a breakout room: {name, endsAt, main}
    this.onBreakout = onBreakout; // the edge says where to go: a breakout room, or back (room/breakouts.js)
    this.view = new RoomView(root, this, meeting.title);
    if (breakout) showBreakout(this.view, breakout);
    this.view.showE2ee(this.e2ee);
    if (this.prefs.speaker) this.view.grid.setSpeaker(this.prefs.speaker);
    this.publisher = null;
    this.subscriber = null;
    this.entered = false;
    this.finished = false;
    this.micOn = false;
    this.cameraOn = false;
    this.sharing = false;
    this.recording = false; // a recorder is in the meeting (the edge says so)
    this.recordPending = false; // a record request waits for its answer
    this.mediaBroken = false;
    this.marks = { ...(join.marks || {}), start: performance.now() };
    this.view.grid.onRemoteFrame = () => { this.marks.firstFrame ??= performance.now(); };
    this.quality = new QualityMeter(() => [this.publisher?.pc, this.subscriber?.pc], (q) => this.view.setQuality(q));
    const perms = join.permissions || {};
    // Ask for the camera and microphone while connecting (not while waiting in a lobby), unless
    // the preview has them already.
    this.mediaStarted = media ? Promise.resolve(media.tracks)
      : join.lobby ? null : this.media.start({ audio: perms.publish_audio, video: perms.publish_video && !this.prefs.noCamera });
    this.sig = new Signaling({
      join, onMessage: (msg) => this.onMessage(msg), onState: (s, reason, detail) => this.onConnState(s, reason, detail),
    });
    this.sig.restartMedia = () => this.mediaBroken;
    this.sig.onRoundOver = () => this.askControlPlane();
    this.onPageHide = () => this.sig.leave();
    window.addEventListener("pagehide", this.onPageHide);
    exposeForDiagnostics(this);
    this.sig.connect();
  }

  // -- messages from the edge -----------------------------------------------------------------
  onMessage(msg) {
    const s = this.state;
    switch (msg.type) {
      case "joined": {
        const again = this.entered && msg.participant_id !== s.me; // a new place (another edge, or one that forgot us)
        s.reset(msg);
        this.view.reporter.reset();
        this.iceServers = msg.ice_servers;
        this.subscriber ??= new Subscriber(this.sig, msg.ice_servers, {
          onTracks: () => this.render(), onState: (st) => this.onPeerState("subscribe", st), e2ee: this.e2ee,
        });
        this.subscriber.onIce = (st) => this.onIceState(st);
        this.recording = Boolean(msg.meeting?.recording);
        this.view.showRecording(this.recording);
        if (again) this.restartMedia({ again });
        else this.enter();
        break;
      }
      case "lobby_waiting":
        this.view.showWaiting(msg.name);
        break;
      case "admitted":
        toast(t("room.admitted"));
        break;
      case "resumed":
        this.view.reporter.reset();
        if (msg.ice_servers?.length) this.iceServers = msg.ice_servers; // fresh TURN credentials
        if (msg.media_restarted) this.restartMedia();
        break;
      case "offer":
        if (msg.pc === "subscribe") {
          this.marks.subscribeOffer ??= performance.now();
          this.subscriber?.handleOffer(msg.sdp);
        }
        break;
      case "ice":
        (msg.pc === "publish" ? this.publisher : this.subscriber)?.addCandidate(msg.candidate);
        break;
      case "track_published":
        s.addTrack(msg.track);
        break;
      case "track_unpublished":
        s.removeTrack(msg.participant_id, msg.track_id);
        break;
      case "muted":
        s.setMuted(msg.participant_id, msg.source, msg.muted);
        if (msg.participant_id === s.me && msg.by !== s.me && msg.muted) this.mutedByModerator(msg.source);
        break;
      case "hand": {
        s.setHand(msg.participant_id, msg.raised, msg.at);
        const mine = msg.participant_id === s.me;
        const name = s.participants.get(msg.participant_id)?.name || t("room.someone");
        if (mine && !msg.raised && msg.by !== s.me) toast(t("room.handLoweredByModerator"));
        this.view.announce(mine ? t(msg.raised ? "room.announce.youRaised" : "room.announce.youLowered")
          : t(msg.raised ? "room.announce.raised" : "room.announce.lowered", { name }));
        break;
      }
      case "reaction":
        this.view.grid.showReaction(msg.participant_id, msg.reaction);
        break;
      case "participant_joined":
      case "participant_updated":
        if (msg.type === "participant_joined") this.view.announce(t("room.announce.joined", { name: msg.participant.name }));
        s.upsert(msg.participant);
        break;
      case "participant_left": {
        const gone = s.participants.get(msg.participant_id);
        if (gone && msg.participant_id !== s.me) this.view.announce(t("room.announce.left", { name: gone.name }));
        s.remove(msg.participant_id);
        break;
      }
      case "lobby":
        s.lobby = msg.waiting;
        break;
      case "chat":
        this.view.chatMessage(msg, s.me);
        break;
      case "active_speaker":
        s.activeSpeaker = msg.participant_id;
        break;
      case "recording":
        this.recording = Boolean(msg.active);
        this.view.showRecording(this.recording);
        if (!msg.active && msg.error) toast(t("room.recordingFailed", { detail: msg.error }), { kind: "error", ms: 10000 });
        else toast(msg.active ? t("room.recordingStarted") : t("room.recordingStopped"));
        break;
      case "kicked":
      case "meeting_ended":
      case "denied":
        this.finish(msg.type === "meeting_ended" ? "ended" : msg.type, msg.reason);
        return;
      case "breakout":
        this.onBreakout?.(msg, this);
        break;
      case "notice":
        showNotice(this.view, msg);
        break;
      case "draining":
        this.moving = true;
        this.moveReason ??= "draining";
        toast(t("room.draining"));
        break;
      case "error":
        if (!this.entered && msg.re && String(msg.re).startsWith("join")) {
          if (msg.code === "draining") {
            this.moving = true;
            this.moveReason ??= "draining";
          }
          this.finish(this.moving ? "edge_stopped" : "refused", msg.message);
        } else if (!String(msg.re ?? "").startsWith("view-")) {
          toast(msg.message, { kind: "error" }); // (a view naming a track that just left: the next one is right)
        }
        break;
      default:
    }
    this.render();
  }

  onConnState(state, reason, detail) {
    this.view.setConn(state);
    if (this.moving && state !== "connected" && !this.finished) {
      this.finish("edge_stopped"); // no resume on an edge that is going away
    } else if (state === "closed" && reason !== "left") {
      this.finish(reason, detail);
    }
  }

  onPeerState(pc, state) {
    if (state === "connected") this.marks[`${pc}Connected`] ??= performance.now();
    if (state === "failed" && !this.finished && this.sig.state === "connected") {
      // Ask the edge to rebuild both connections: drop the socket and resume with restart_media.
      this.mediaBroken = true;
      this.sig.ws?.close();
    }
  }

  /** No edge of the plan took the room back: a new token, and where the meeting is now (or null). */
  async askControlPlane() {
    if (!this.askAgain || this.finished) return null;
    this.marks.askedControlPlane = performance.now();
    return this.askAgain();
  }

  // -- entering and publishing ----------------------------------------------------------------
  async enter() {
    if (this.entered) return;
    this.entered = true;
    this.marks.joined = performance.now();
    this.view.hideWaiting();
    this.onEntered();
    const perms = this.join.permissions || {};
    this.mediaStarted ??= this.media.start({ audio: perms.publish_audio, video: perms.publish_video });
    await this.mediaStarted;
    for (const problem of this.media.problems) toast(t("device.notAvailable", { problems: problem }), { kind: "error" });
    await this.publishLocal();
  }

  async publishLocal() {
    if (this.prefs.noCamera && this.media.tracks.camera) this.media.cameraOff(); // "join without my camera"
    const tracks = this.media.tracks;
    for (const src of ["microphone", "camera"]) {
      if (tracks[src] && !this.state.may(src)) { // opened for the preview, but this participant may not send it
        tracks[src].stop();
        tracks[src] = null;
      }
    }
    const sources = ["microphone", "camera"].filter((src) => tracks[src]);
    const muted = Boolean(this.prefs.muted && tracks.microphone);
    if (muted) this.media.setMicEnabled(false); // "join with my microphone muted"
    this.micOn = Boolean(tracks.microphone) && !muted;
    this.cameraOn = Boolean(tracks.camera);
    if (muted) this.sig.send({ type: "mute", source: "microphone", muted: true });
    if (!sources.length) return this.render();
    const pub = this.ensurePublisher();
    for (const src of sources) await pub.setSource(src, tracks[src], { negotiate: false });
    try {
      await pub.negotiate();
      this.marks.published = performance.now();
    } catch (err) {
      if (pub === this.publisher) toast(t("room.publishFailed", { detail: err.message }), { kind: "error" });
    }
    this.render();
  }

  ensurePublisher() {
    if (!this.publisher) {
      this.publisher = new Publisher(this.sig, this.iceServers, (st) => this.onPeerState("publish", st), this.e2ee);
      this.publisher.onIce = (st) => this.onIceState(st);
    }
    return this.publisher;
  }

  /** A path went quiet (the network changed): restart ICE in place unless it comes back by itself. */
  onIceState(state) {
    clearTimeout(this.iceTimer);
    if (state !== "disconnected") return;
    this.iceTimer = setTimeout(() => {
      const pcs = [this.publisher?.pc, this.subscriber?.pc];
      if (pcs.some((pc) => pc?.iceConnectionState === "disconnected")) this.restartIce();
    }, ICE_RESTART_AFTER_MS);
  }

  /** ICE restart through the publish PC (the edge restarts the subscribe PC); if it fails, the PCs
   * fail and the room restarts its media (onPeerState). */
  restartIce() {
    if (this.finished || this.sig.state !== "connected") return;
    this.publisher?.restartIce()?.catch((err) => console.warn("ICE restart refused", err));
  }

  /**
   * New peer connections, publishing again: the edge rebuilt its side, or the room has a new place
   * (`again`: joined afresh, on another edge or one that forgot it, which knows nothing of its mutes).
   */
  async restartMedia({ again = false } = {}) {
    if (again) this.marks.rejoined = performance.now();
    this.mediaBroken = false;
    this.publisher?.close();
    this.publisher = null;
    if (this.subscriber) this.subscriber.iceServers = this.iceServers;
    this.subscriber?.reset();
    const pub = this.ensurePublisher();
    const tracks = this.media.tracks;
    for (const src of ["microphone", "camera", "screen"]) {
      if (tracks[src] && this.state.may(src)) await pub.setSource(src, tracks[src], { negotiate: false });
    }
    if (Object.keys(pub.transceivers).length) await pub.negotiate().catch(() => {});
    if (again && pub === this.publisher) {
      this.marks.republished = performance.now();
      if (tracks.microphone && !this.micOn) this.sig.send({ type: "mute", source: "microphone", muted: true });
    }
  }

  leave() {
    this.sig.leave();
    this.finish("left");
  }

  // -- the end --------------------------------------------------------------------------------
  finish(reason, detail = "") {
    if (this.finished) return;
    this.finished = true;
    this.teardown();
    if (reason === "edge_stopped" && this.onMove) {
      this.view.showEnded("moving", t("room.moving"), [h("div", { class: "spinner" })]);
      this.onMove(null, this.moveReason);
      return;
    }
    const text = ENDINGS[reason] ? t(ENDINGS[reason]) : t("room.end.other", { reason });
    const actions = [];
    if (!["ended", "kicked", "denied"].includes(reason)) {
      actions.push(h("button", { class: "btn btn--primary", type: "button", testid: "rejoin", onclick: () => this.onRejoin() }, t("room.rejoin")));
    }
    actions.push(h("button", { class: "btn", type: "button", testid: "back-to-meetings", onclick: () => this.onExit() }, t("meetingForm.backToMeetings")));
    const why = detail === END_REASON ? t("room.endedByModerator") : detail; // what the edge says is shown as it is
    this.view.showEnded(reason, detail && reason !== "left" ? t("room.endedBecause", { text, detail: why }) : text, actions);
  }

  /** Tell the edge what the page shows (`view`); false when not in the meeting yet. */
  sendView(msg) {
    if (!this.entered || this.finished) return false;
    this.viewSeq = (this.viewSeq || 0) + 1;
    this.sig.send({ ...msg, id: `view-${this.viewSeq}` });
    return true;
  }

  teardown({ keepMedia = false } = {}) {
    window.removeEventListener("pagehide", this.onPageHide);
    this.view.stopShortcuts();
    this.view.reporter.close();
    this.quality.stop();
    this.publisher?.close();
    this.subscriber?.close();
    if (keepMedia) this.media.stopScreen();
    else this.media.stopAll();
    this.e2ee?.close();
    if (this.sig.state !== "closed") this.sig.leave();
    this.view.grid.sync(new RoomState(), {}, new Map());
  }

  /** Leave for another room of the meeting (breakout rooms): its camera and microphone, and whether
   * the microphone is muted, go on to the next room. */
  handOver() {
    this.finished = true;
    this.teardown({ keepMedia: true });
    return { media: this.media, prefs: { ...this.prefs, muted: !this.micOn } };
  }

  /** Leave quietly when the page changes (the router's cleanup). */
  destroy() {
    if (!this.finished) {
      this.finished = true;
      this.teardown();
    }
  }

  render() {
    if (this.finished) return;
    const may = { microphone: this.state.may("microphone"), camera: this.state.may("camera"), screen: this.state.may("screen") };
    this.view.render(this.state, {
      micOn: this.micOn, cameraOn: this.cameraOn, sharing: this.sharing, may, moderator: this.state.isModerator(),
      recording: this.recording, mayRecord: Boolean(this.state.grants.record), recordPending: this.recordPending,
      handUp: Boolean(this.state.mine()?.hand), e2ee: Boolean(this.e2ee),
    });
  }
}

// What the room's buttons do: methods of Room, kept in their own module.
Object.assign(Room.prototype, controls);
