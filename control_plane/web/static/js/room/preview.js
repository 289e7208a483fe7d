// Before joining: the camera's picture, a live microphone level, the camera, microphone and
// speaker to use, and whether to join muted or without the camera. The choice is remembered in
// this browser; the room takes over the devices already opened (no second permission prompt).

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { CAN_CHOOSE_SPEAKER, LocalMedia } from "./media.js";

const DEVICE = { camera: "device.camera", microphone: "device.microphone", speaker: "device.speaker" };
const UNNAMED = { camera: "device.unnamedCamera", microphone: "device.unnamedMicrophone", speaker: "device.unnamedSpeaker" };

const PREFS_KEY = "cc.prejoin";

export function loadPrefs() {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) || "{}");
    return {
      muted: Boolean(p.muted), noCamera: Boolean(p.noCamera),
      camera: String(p.camera || ""), microphone: String(p.microphone || ""), speaker: String(p.speaker || ""),
    };
  } catch {
    return { muted: false, noCamera: false, camera: "", microphone: "", speaker: "" };
  }
}

function savePrefs(prefs) {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // private browsing with storage off: the choice holds for this page only
  }
}

export class Preview {
  constructor() {
    this.prefs = loadPrefs();
    this.media = new LocalMedia();
    this.media.deviceIds = { microphone: this.prefs.microphone, camera: this.prefs.camera };
    this.video = h("video", { class: "preview-video", testid: "preview-video", autoplay: true, playsinline: true, muted: true });
    this.video.muted = true;
    this.off = h("div", { class: "preview-off", testid: "preview-camera-off", hidden: true }, t("room.cameraOff"));
    this.bar = h("i");
    this.level = h("div", { class: "meter", testid: "mic-level", role: "meter", "aria-label": t("prejoin.micLevel"),
      "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, dataset: { level: "0" } }, this.bar);
    this.selects = {};
    for (const source of ["camera", "microphone", "speaker"]) {
      this.selects[source] = h("select", { testid: `preview-${source}`, "aria-label": t(DEVICE[source]) });
      this.selects[source].addEventListener("change", () => this._choose(source, this.selects[source].value));
    }
    this.muted = h("input", { type: "checkbox", testid: "preview-join-muted", checked: this.prefs.muted });
    this.noCamera = h("input", { type: "checkbox", testid: "preview-no-camera", checked: this.prefs.noCamera });
    this.muted.addEventListener("change", () => this._save());
    this.noCamera.addEventListener("change", () => this._cameraChoice());
    this.error = h("div", { class: "field-error", testid: "preview-error", role: "alert" });
    const pick = (label, select) => h("label", { class: "field" }, h("span", { class: "label" }, label), select);
    this.el = h("section", { class: "preview", testid: "preview", "aria-label": t("prejoin.label") },
      h("div", { class: "preview-stage" }, this.video, this.off),
      h("div", { class: "preview-level" }, h("span", { class: "muted" }, t(DEVICE.microphone)), this.level),
      h("div", { class: "preview-devices" }, pick(t(DEVICE.camera), this.selects.camera),
        pick(t(DEVICE.microphone), this.selects.microphone), CAN_CHOOSE_SPEAKER ? pick(t(DEVICE.speaker), this.selects.speaker) : null),
      h("label", { class: "check" }, this.muted, h("span", {}, t("prejoin.muted"))),
      h("label", { class: "check" }, this.noCamera, h("span", {}, t("prejoin.noCamera"))),
      this.error);
    this.handedOver = false;
    this.started = this._start();
  }

  async _start() {
    await this.media.start({ audio: true, video: !this.prefs.noCamera });
    if (this.media.problems.length) this.error.textContent = t("device.notAvailable", { problems: this.media.problems.join("; ") });
    this._show();
    await this._listDevices();
    return this.media.tracks;
  }

  _show() {
    const cam = this.media.tracks.camera;
    this.video.srcObject = cam ? new MediaStream([cam]) : null;
    this.video.hidden = !cam;
    this.off.hidden = Boolean(cam);
    if (cam) this.video.play().catch(() => {});
    this._meter(this.media.tracks.microphone);
  }

  async _listDevices() {
    const found = await this.media.devices();
    for (const source of ["camera", "microphone", "speaker"]) {
      const current = source === "speaker" ? this.prefs.speaker : this.media.deviceIds[source];
      const list = found[source];
      this.selects[source].replaceChildren(...(list.length
        ? list.map((d, i) => h("option", { value: d.deviceId, selected: d.deviceId === current }, d.label || t(UNNAMED[source], { n: i + 1 })))
        : [h("option", { value: "" }, source === "speaker" ? t("device.systemSpeaker") : t("device.noneFound"))]));
      this.selects[source].disabled = !list.length;
    }
  }

  async _choose(source, deviceId) {
    this.error.textContent = "";
    try {
      if (source === "speaker") {
        this.prefs.speaker = deviceId;
      } else if (source === "camera" && this.noCamera.checked) {
        this.media.deviceIds.camera = deviceId; // used when the camera is turned on
      } else {
        const { track, old } = await this.media.useDevice(source, deviceId);
        if (old && old !== track) old.stop();
        this._show();
      }
      this._save();
    } catch (err) {
      this.error.textContent = t("device.error", { device: t(DEVICE[source]), detail: err.message });
    }
  }

  async _cameraChoice() {
    this._save();
    try {
      if (this.noCamera.checked) this.media.cameraOff();
      else if (!this.media.tracks.camera) await this.media.cameraOn();
      this._show();
    } catch (err) {
      this.error.textContent = t("device.error", { device: t(DEVICE.camera), detail: err.message });
    }
  }

  _save() {
    this.prefs = {
      muted: this.muted.checked, noCamera: this.noCamera.checked, speaker: this.prefs.speaker,
      camera: this.media.deviceIds.camera || this.prefs.camera, microphone: this.media.deviceIds.microphone || this.prefs.microphone,
    };
    savePrefs(this.prefs);
  }

  /** The microphone's level, drawn every frame from an analyser (0–100, also in `data-level`). */
  _meter(track) {
    this._stopMeter();
    if (!track || typeof AudioContext === "undefined") return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const draw = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      const level = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
      this.bar.style.width = `${level}%`;
      this.level.dataset.level = String(level);
      this.level.setAttribute("aria-valuenow", String(level));
      this.frame = requestAnimationFrame(draw);
    };
    ctx.resume().catch(() => {});
    this.audio = ctx;
    draw();
  }

  _stopMeter() {
    cancelAnimationFrame(this.frame);
    this.audio?.close().catch(() => {});
    this.audio = null;
  }

  /** The opened devices and the choices, for the room; the preview stops drawing. */
  async handOver() {
    await this.started;
    this._save();
    this._stopMeter();
    this.video.srcObject = null;
    this.handedOver = true;
    return { media: this.media, prefs: { ...this.prefs } };
  }

  destroy() {
    this._stopMeter();
    if (!this.handedOver) this.media.stopAll();
  }
}
