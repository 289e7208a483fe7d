// End-to-end encryption in the room (docs/security.md, End-to-end encryption): the media key is
// derived in this browser from a passphrase shared outside the product, and every frame sent is
// encrypted — every frame received decrypted — by a worker (`e2ee_worker.js`) before the browser
// packetizes it, so the edge forwards what it cannot read. The passphrase and the key never leave
// the browser; the passphrase is kept in sessionStorage for a rejoin in the same tab only.

/** PBKDF2-SHA-256 rounds (OWASP's figure for 2023 on): a guess costs as much in every browser. */
export const ITERATIONS = 600000;
const SALT_PREFIX = "curious-connect e2ee v1 meeting ";
const STORAGE_PREFIX = "cc.e2ee.";

/** How this browser transforms encoded frames: "script" (RTCRtpScriptTransform), "streams"
 * (createEncodedStreams, the older API), or null (it cannot take part in an E2EE meeting). */
export function e2eeMethod() {
  if (!globalThis.crypto?.subtle || typeof Worker === "undefined") return null;
  if (typeof globalThis.RTCRtpScriptTransform === "function") return "script";
  if (typeof globalThis.RTCRtpSender?.prototype?.createEncodedStreams === "function") return "streams";
  return null;
}

/**
 * The meeting's media key from *passphrase*: PBKDF2 (salt bound to the meeting id) → 256 bits, from
 * which HKDF derives the AES-GCM key (not extractable) and a one-byte key id sent with each frame.
 */
export async function deriveMediaKey(passphrase, meetingId) {
  const text = new TextEncoder();
  const base = await crypto.subtle.importKey("raw", text.encode(passphrase.normalize("NFC")), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: text.encode(SALT_PREFIX + meetingId), iterations: ITERATIONS }, base, 256);
  const master = await crypto.subtle.importKey("raw", bits, "HKDF", false, ["deriveKey", "deriveBits"]);
  const hkdf = (info) => ({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: text.encode(info) });
  const key = await crypto.subtle.deriveKey(hkdf("media key"), master, { name: "AES-GCM", length: 256 }, false, // i18n-ok: HKDF info
    ["encrypt", "decrypt"]);
  const keyId = new Uint8Array(await crypto.subtle.deriveBits(hkdf("key id"), master, 8))[0]; // i18n-ok: HKDF info
  return { key, keyId };
}

/** The passphrase given for *meetingId* earlier in this tab ("" when none). */
export function rememberedPassphrase(meetingId) {
  try {
    return sessionStorage.getItem(STORAGE_PREFIX + meetingId) || "";
  } catch {
    return "";
  }
}

export function rememberPassphrase(meetingId, passphrase) {
  try {
    sessionStorage.setItem(STORAGE_PREFIX + meetingId, passphrase);
  } catch {
    // storage off: asked again on a rejoin
  }
}

/** The frame transforms of one room: a worker, one transform per sender and receiver. */
export class E2ee {
  constructor({ key, keyId }, method = e2eeMethod()) {
    this.key = key;
    this.keyId = keyId;
    this.method = method;
    this.worker = new Worker(new URL("./e2ee_worker.js", import.meta.url), { type: "module", name: "e2ee" });
    this.worker.addEventListener("message", ({ data }) => this._report(data));
    this.ids = new WeakMap(); // sender or receiver → transform id
    this.status = new Map(); // transform id → {operation, kind, state, frames, failed}
    this.next = 0;
    this.onChange = () => {};
  }

  /** Add what the peer connections need (the older API must be asked for when they are made). */
  rtcConfig(config) {
    return this.method === "streams" ? { ...config, encodedInsertableStreams: true } : config;
  }

  /** Encrypt what *sender* sends (once per sender; kept across replaced tracks). */
  protectSender(sender, kind) {
    this._protect(sender, "encrypt", kind);
  }

  /** Decrypt what *receiver* receives; its state is then `stateOf(receiver)`. */
  protectReceiver(receiver) {
    this._protect(receiver, "decrypt", receiver.track?.kind || "");
  }

  _protect(end, operation, kind) {
    if (this.ids.has(end)) return;
    this.next += 1;
    const id = this.next;
    this.ids.set(end, id);
    this.status.set(id, { operation, kind, state: "", frames: 0, failed: 0 });
    const options = { operation, id, key: this.key, keyId: this.keyId };
    if (this.method === "script") {
      end.transform = new RTCRtpScriptTransform(this.worker, options);
    } else {
      const { readable, writable } = end.createEncodedStreams();
      this.worker.postMessage({ type: "streams", readable, writable, options }, [readable, writable]);
    }
  }

  _report({ type, id, state, frames, failed }) {
    const s = this.status.get(id);
    if (type !== "state" || !s) return;
    const changed = s.state !== state;
    Object.assign(s, { state, frames, failed });
    if (changed) this.onChange();
  }

  /** "ok" (frames decrypt), "failed" (they do not: another passphrase), or "" (none yet). */
  stateOf(end) {
    return (end && this.status.get(this.ids.get(end))?.state) || "";
  }

  /** For diagnostics and the tests: the method and each transform's counts. */
  snapshot() {
    return { method: this.method, keyId: this.keyId, transforms: [...this.status].map(([id, s]) => ({ id, ...s })) };
  }

  close() {
    this.worker.terminate();
  }
}

/** VP8 first for a video transceiver (the clear header sizes are VP8's; the edge forwards VP8 as sent). */
export function preferVp8(transceiver) {
  const codecs = RTCRtpSender.getCapabilities?.("video")?.codecs || [];
  const vp8 = codecs.filter((c) => /^video\/vp8$/i.test(c.mimeType));
  if (!vp8.length || !transceiver.setCodecPreferences) return;
  const rest = codecs.filter((c) => !/^video\/vp8$/i.test(c.mimeType));
  try {
    transceiver.setCodecPreferences([...vp8, ...rest]);
  } catch {
    // the browser's own order stands (VP8 first in Chromium's)
  }
}
