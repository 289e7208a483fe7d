// This browser's camera, microphone and screen: start, switch device, turn off and on, share.

import { t } from "../i18n.js";

const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

function videoConstraints(deviceId) {
  return deviceId ? { ...VIDEO, deviceId: { exact: deviceId } } : VIDEO;
}

function audioConstraints(deviceId) {
  return deviceId ? { ...AUDIO, deviceId: { exact: deviceId } } : AUDIO;
}

/** Whether this browser lets a page choose where sound plays (`setSinkId`). */
export const CAN_CHOOSE_SPEAKER = typeof HTMLMediaElement !== "undefined" && typeof HTMLMediaElement.prototype.setSinkId === "function";

export class LocalMedia {
  constructor() {
    this.tracks = { microphone: null, camera: null, screen: null };
    this.deviceIds = { microphone: "", camera: "" };
    this.problems = [];
    this.onScreenEnded = () => {};
  }

  _remember(source, track) {
    this.tracks[source] = track;
    if (track && source !== "screen") this.deviceIds[source] = track.getSettings().deviceId || "";
  }

  /** Ask for what may be published (one permission prompt when possible), on the devices chosen
   * before (`deviceIds`) when they are still there. */
  async start({ audio, video }) {
    if (!audio && !video) return this.tracks;
    const ask = () => navigator.mediaDevices.getUserMedia({
      audio: audio ? audioConstraints(this.deviceIds.microphone) : false,
      video: video ? videoConstraints(this.deviceIds.camera) : false,
    });
    try {
      let stream;
      try {
        stream = await ask();
      } catch (err) {
        if (err.name !== "OverconstrainedError" && err.name !== "NotFoundError") throw err;
        this.deviceIds = { microphone: "", camera: "" }; // a remembered device is gone: the defaults
        stream = await ask();
      }
      this._remember("microphone", stream.getAudioTracks()[0] || null);
      this._remember("camera", stream.getVideoTracks()[0] || null);
    } catch (err) {
      // One of the two may still work (no camera, or the camera is busy).
      const problem = (device, e) => this.problems.push(t("device.error", { device: t(device), detail: e.message }));
      if (audio) await this._one("microphone").catch((e) => problem("device.microphone", e));
      if (video) await this._one("camera").catch((e) => problem("device.camera", e));
      if (!this.tracks.microphone && !this.tracks.camera) this.problems.push(err.message);
    }
    return this.tracks;
  }

  async _one(source, deviceId = "") {
    const constraints = source === "camera"
      ? { video: videoConstraints(deviceId) } : { audio: audioConstraints(deviceId) };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const track = source === "camera" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
    this._remember(source, track);
    return track;
  }

  /** A new track from another device; the old one is stopped once it has been replaced. */
  async useDevice(source, deviceId) {
    const old = this.tracks[source];
    const enabled = old ? old.enabled : true;
    const track = await this._one(source, deviceId);
    track.enabled = enabled;
    return { track, old };
  }

  async cameraOn() {
    return this._one("camera", this.deviceIds.camera);
  }

  /** The camera is released (its light goes off), not just blanked. */
  cameraOff() {
    this.tracks.camera?.stop();
    this.tracks.camera = null;
  }

  setMicEnabled(on) {
    if (this.tracks.microphone) this.tracks.microphone.enabled = on;
  }

  async startScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    track.contentHint = "detail";
    track.addEventListener("ended", () => {
      if (this.tracks.screen === track) this.onScreenEnded();
    });
    this.tracks.screen = track;
    return track;
  }

  stopScreen() {
    this.tracks.screen?.stop();
    this.tracks.screen = null;
  }

  async devices() {
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      camera: all.filter((d) => d.kind === "videoinput"),
      microphone: all.filter((d) => d.kind === "audioinput"),
      speaker: all.filter((d) => d.kind === "audiooutput"),
    };
  }

  stopAll() {
    for (const track of Object.values(this.tracks)) track?.stop();
    this.tracks = { microphone: null, camera: null, screen: null };
  }
}
