// The two peer connections (docs/sfu.md): the publish PC offers what this browser sends; the
// subscribe PC answers the edge's offers — the first and every renegotiation — and receives
// everyone else. ICE candidates trickle over signaling once the description they belong to is sent.

import { preferVp8 } from "./e2ee.js";
import { encodingsFor } from "./simulcast.js";

function rtcConfig(iceServers, e2ee) {
  const config = { iceServers: iceServers || [], bundlePolicy: "max-bundle" };
  return e2ee ? e2ee.rtcConfig(config) : config;
}

/** mid → {participantId, trackId, direction} from an SDP's `a=mid` / `a=msid` lines. */
export function parseMsids(sdp) {
  const out = {};
  for (const section of sdp.split(/^m=/m).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section);
    if (!mid) continue;
    const msid = /^a=msid:(\S+) (\S+)/m.exec(section);
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/m.exec(section);
    out[mid[1]] = { participantId: msid ? msid[1] : "", trackId: msid ? msid[2] : "", direction: dir ? dir[1] : "sendrecv" };
  }
  return out;
}

class Trickle {
  constructor(sig, pc, name) {
    this.ready = false;
    this.early = [];
    pc.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate && !candidate.candidate) return; // Chromium's empty end marker; null follows
      const msg = { type: "ice", pc: name, candidate: candidate ? candidate.toJSON() : null };
      if (this.ready) sig.send(msg);
      else this.early.push(msg);
    });
    this.sig = sig;
  }

  open() {
    this.ready = true;
    for (const msg of this.early.splice(0)) this.sig.send(msg);
  }
}

export class Publisher {
  /** `e2ee`: the room's frame encryption (e2ee.js) in an end-to-end encrypted meeting, else null. */
  constructor(sig, iceServers, onState, e2ee = null) {
    this.sig = sig;
    this.e2ee = e2ee;
    this.pc = new RTCPeerConnection(rtcConfig(iceServers, e2ee));
    this.stream = new MediaStream();
    this.transceivers = {}; // source → RTCRtpTransceiver
    this.trickle = new Trickle(sig, this.pc, "publish");
    this.chain = Promise.resolve();
    this.negotiations = 0;
    this.iceRestarts = 0;
    this.onIce = null; // (iceConnectionState) => …
    this.pc.addEventListener("connectionstatechange", () => onState(this.pc.connectionState));
    this.pc.addEventListener("iceconnectionstatechange", () => this.onIce?.(this.pc.iceConnectionState));
  }

  /**
   * Restart ICE in place (docs/protocol.md): a publish offer with new ICE credentials. The edge
   * answers with new ones and restarts the subscribe PC with its next offer; tracks stay. Nothing
   * to restart before the first negotiation.
   */
  restartIce() {
    if (this.pc.connectionState === "closed" || !this.negotiations) return null;
    this.pc.restartIce();
    this.iceRestarts += 1;
    return this.negotiate();
  }

  sender(source) {
    return this.transceivers[source]?.sender || null;
  }

  sending(source) {
    const t = this.transceivers[source];
    return Boolean(t && t.direction === "sendonly");
  }

  /** Send `track` as `source`: a new m-section (renegotiated) or a replaced track (not). */
  async setSource(source, track, { negotiate = true } = {}) {
    const t = this.transceivers[source];
    if (t && t.direction === "sendonly") {
      await t.sender.replaceTrack(track);
      return;
    }
    if (t) {
      t.direction = "sendonly";
      await t.sender.replaceTrack(track);
    } else {
      const init = { direction: "sendonly", streams: [this.stream] };
      const sendEncodings = encodingsFor(source, track);
      if (sendEncodings) init.sendEncodings = sendEncodings;
      const added = this.pc.addTransceiver(track, init);
      this.transceivers[source] = added;
      if (this.e2ee) {
        if (track.kind === "video") preferVp8(added);
        this.e2ee.protectSender(added.sender, track.kind);
      }
    }
    if (negotiate) await this.negotiate();
  }

  /** Stop sending `source`: the edge unpublishes its track. */
  async stopSource(source) {
    const t = this.transceivers[source];
    if (!t || t.direction !== "sendonly") return;
    await t.sender.replaceTrack(null);
    t.direction = "inactive";
    await this.negotiate();
  }

  negotiate() {
    const run = this.chain.then(() => this._negotiate());
    this.chain = run.catch(() => {});
    return run;
  }

  async _negotiate() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    const sources = {};
    for (const [source, t] of Object.entries(this.transceivers)) {
      if (t.mid !== null && t.direction === "sendonly") sources[t.mid] = source;
    }
    const reply = this.sig.request({ type: "offer", pc: "publish", sdp: this.pc.localDescription.sdp, sources });
    this.trickle.open();
    const answer = await reply;
    await this.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    this.negotiations += 1;
  }

  addCandidate(candidate) {
    return this.pc.addIceCandidate(candidate || null).catch(() => {});
  }

  close() {
    this.pc.close();
  }
}

export class Subscriber {
  constructor(sig, iceServers, { onTracks, onState, e2ee = null }) {
    this.sig = sig;
    this.e2ee = e2ee;
    this.iceServers = iceServers;
    this.onTracks = onTracks;
    this.onState = onState;
    this.pc = null;
    this.bound = new Map(); // track id → {track, mid, participantId}
    this.byMidMap = new Map();
    this.chain = Promise.resolve();
    this.offers = 0;
    this.onIce = null; // (iceConnectionState) => …
  }

  _create() {
    const pc = new RTCPeerConnection(rtcConfig(this.iceServers, this.e2ee));
    this.pc = pc;
    this.trickle = new Trickle(this.sig, pc, "subscribe");
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this.pc) this.onState(pc.connectionState);
    });
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc === this.pc) this.onIce?.(pc.iceConnectionState);
    });
  }

  /** Answer an offer from the edge (offers are handled one at a time, in order). */
  handleOffer(sdp) {
    const run = this.chain.then(() => this._answer(sdp));
    this.chain = run.catch((err) => console.error("subscribe negotiation failed", err));
    return run;
  }

  async _answer(sdp) {
    if (!this.pc) this._create();
    const pc = this.pc;
    await pc.setRemoteDescription({ type: "offer", sdp });
    if (this.e2ee) for (const t of pc.getTransceivers()) this.e2ee.protectReceiver(t.receiver);
    await pc.setLocalDescription(await pc.createAnswer());
    this.sig.send({ type: "answer", pc: "subscribe", sdp: pc.localDescription.sdp });
    this.trickle.open();
    this.offers += 1;
    const msids = parseMsids(sdp);
    this.bound = new Map();
    this.byMidMap = new Map();
    for (const t of pc.getTransceivers()) {
      const info = msids[t.mid];
      if (!info || !info.trackId) continue;
      const active = t.currentDirection === "recvonly" || t.currentDirection === "sendrecv";
      const entry = { track: t.receiver.track, receiver: t.receiver, mid: t.mid, participantId: info.participantId, trackId: info.trackId, active };
      this.byMidMap.set(t.mid, entry);
      if (active) this.bound.set(info.trackId, entry);
    }
    this.onTracks(this.bound);
  }

  byMid(mid) {
    return this.byMidMap.get(mid) || null;
  }

  addCandidate(candidate) {
    if (!this.pc) return Promise.resolve();
    return this.pc.addIceCandidate(candidate || null).catch(() => {});
  }

  /** The edge rebuilt its side: start over with the next offer. */
  reset() {
    this.pc?.close();
    this.pc = null;
    this.bound = new Map();
    this.byMidMap = new Map();
    this.onTracks(this.bound);
  }

  close() {
    this.pc?.close();
    this.pc = null;
  }
}
