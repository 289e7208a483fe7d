// The room's controls — microphone, camera, screen, devices, chat, moderation, recording — as methods of
// Room (room.js assigns them to its prototype), so that they read and change the room's state.

import { toast } from "../dom.js";
import { t } from "../i18n.js";
import { E2EE_TEXT } from "./e2ee_view.js";

/** The edge waits up to 20 s for the control plane, which waits for a recorder to be seated. */
const RECORD_TIMEOUT_MS = 30000;
/** The reason *End for all* gives the edge, which tells everyone; each page shows it in its language (room.js). */
export const END_REASON = "ended by a moderator"; // i18n-ok: protocol value, translated where shown

export const controls = {
  async toggleMic() {
    const on = !this.micOn;
    if (on && !this.media.tracks.microphone) {
      await this.ensurePublisher().setSource("microphone", await this.media.useDevice("microphone", "").then((r) => r.track));
    }
    this.media.setMicEnabled(on);
    this.micOn = on;
    this.sig.send({ type: "mute", source: "microphone", muted: !on });
    this.render();
  },

  async toggleCamera() {
    if (this.cameraOn) {
      this.cameraOn = false;
      if (this.publisher?.sending("camera")) await this.publisher.setSource("camera", null);
      this.media.cameraOff();
      this.sig.send({ type: "mute", source: "camera", muted: true });
    } else {
      const track = await this.media.cameraOn();
      this.cameraOn = true;
      this.sig.send({ type: "mute", source: "camera", muted: false });
      await this.ensurePublisher().setSource("camera", track);
    }
    this.render();
  },

  async toggleScreen() {
    try {
      if (this.sharing) {
        this.sharing = false;
        await this.publisher?.stopSource("screen");
        this.media.stopScreen();
      } else {
        const track = await this.media.startScreen();
        this.sharing = true;
        await this.ensurePublisher().setSource("screen", track);
      }
    } catch (err) {
      if (err.name !== "NotAllowedError") toast(t("room.screenFailed", { detail: err.message }), { kind: "error" });
      this.sharing = Boolean(this.media.tracks.screen);
    }
    this.render();
  },

  async useDevice(source, deviceId) {
    if (source === "camera" && !this.cameraOn) {
      this.media.deviceIds.camera = deviceId; // used when the camera is turned on again
      return;
    }
    const { track, old } = await this.media.useDevice(source, deviceId);
    await this.ensurePublisher().setSource(source, track);
    if (old && old !== track) old.stop();
    this.render();
  },

  mutedByModerator(source) {
    if (source === "microphone") {
      this.media.setMicEnabled(false);
      this.micOn = false;
      toast(t("room.mutedByModerator"));
    } else if (source === "camera" && this.cameraOn) {
      this.toggleCamera();
    } else if (source === "screen" && this.sharing) {
      this.toggleScreen();
    }
  },

  /** To everyone, or (`to`: a participant id) privately: only that participant and oneself get it. */
  async sendChat(text, to = "") {
    await this.sig.request(to ? { type: "chat", text, to } : { type: "chat", text });
  },

  /** Raise one's hand, or lower it. */
  async toggleHand() {
    const up = Boolean(this.state.mine()?.hand);
    try {
      await this.sig.request({ type: "hand", raised: !up });
    } catch (err) {
      if (err.code !== "closed") toast(err.message, { kind: "error" });
    }
  },

  async react(reaction) {
    try {
      await this.sig.request({ type: "react", reaction });
    } catch (err) {
      if (err.code !== "closed" && err.code !== "rate_limited") toast(err.message, { kind: "error" });
    }
  },

  async moderate(action, participantId) {
    const msg = action === "mute"
      ? { type: "mute", participant_id: participantId, source: "microphone", muted: true }
      : action === "lower_hand" ? { type: "hand", participant_id: participantId, raised: false }
        : { type: action, participant_id: participantId };
    try {
      await this.sig.request(msg);
    } catch (err) {
      toast(err.message, { kind: "error" });
    }
  },

  /** Start or stop recording the meeting (a moderator with the record grant); the edge's
   * `recording` message then changes the mark and the button for everyone. */
  async toggleRecording() {
    if (this.recordPending) return;
    if (this.e2ee) return toast(E2EE_TEXT.recordRefused, { ms: 8000 }); // the server cannot read it (409 if asked)
    const action = this.recording ? "stop" : "start";
    this.recordPending = true;
    this.render();
    try {
      await this.sig.request({ type: "record", action }, RECORD_TIMEOUT_MS);
    } catch (err) {
      if (err.code !== "closed") toast(t(action === "start" ? "room.recordStartFailed" : "room.recordStopFailed", { detail: err.message }),
        { kind: "error", ms: 8000 });
    } finally {
      this.recordPending = false;
      this.render();
    }
  },

  async endForAll() {
    try {
      await this.sig.request({ type: "end_meeting", reason: END_REASON });
    } catch (err) {
      if (err.code !== "closed") toast(err.message, { kind: "error" });
    }
  },
};
