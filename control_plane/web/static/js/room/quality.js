// A connection-quality hint from getStats: round-trip time, packet loss and jitter, sampled
// every two seconds on both peer connections.

import { formatNumber, t } from "../i18n.js";

function level({ rtt, loss, jitter }) {
  if (rtt === null && loss === null && jitter === null) return "unknown";
  if ((loss ?? 0) > 10 || (rtt ?? 0) > 600 || (jitter ?? 0) > 150) return "poor";
  if ((loss ?? 0) > 3 || (rtt ?? 0) > 300 || (jitter ?? 0) > 60) return "fair";
  return "good";
}

export class QualityMeter {
  constructor(pcs, onSample, every = 2000) {
    this.pcs = pcs; // () => [RTCPeerConnection | null]
    this.onSample = onSample;
    this.prev = { lost: 0, received: 0 };
    this.prevTracks = new Map(); // track id (the browser's) → {lost, received}
    this.timer = setInterval(() => this.sample().catch(() => {}), every);
    this.last = { rtt: null, loss: null, jitter: null, level: "unknown" };
  }

  async sample() {
    let rtt = null;
    let jitter = null;
    let lost = 0;
    let received = 0;
    let remoteLoss = null;
    const tracks = new Map();
    for (const pc of this.pcs()) {
      if (!pc || pc.connectionState === "closed") continue;
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && s.currentRoundTripTime !== undefined) {
          rtt = Math.max(rtt ?? 0, s.currentRoundTripTime * 1000);
        } else if (s.type === "inbound-rtp") {
          lost += Math.max(0, s.packetsLost || 0);
          received += s.packetsReceived || 0;
          if (s.jitter !== undefined) jitter = Math.max(jitter ?? 0, s.jitter * 1000);
          if (s.trackIdentifier) tracks.set(s.trackIdentifier, s);
        } else if (s.type === "remote-inbound-rtp" && s.fractionLost !== undefined) {
          remoteLoss = Math.max(remoteLoss ?? 0, s.fractionLost * 100);
        }
      });
    }
    // New peer connections (a media restart) start their counters again from zero.
    const reset = received < this.prev.received || lost < this.prev.lost;
    const dLost = reset ? lost : lost - this.prev.lost;
    const dReceived = reset ? received : received - this.prev.received;
    this.prev = { lost, received };
    let loss = dReceived + dLost > 0 ? (100 * Math.max(0, dLost)) / (dReceived + Math.max(0, dLost)) : null;
    if (remoteLoss !== null) loss = Math.max(loss ?? 0, remoteLoss);
    const sample = { rtt, loss, jitter };
    this.last = { ...sample, level: level(sample), tracks: this._perTrack(tracks, rtt) };
    this.onSample(this.last);
    return this.last;
  }

  /** Each received track's level from its own loss and jitter (and the shared round trip). */
  _perTrack(stats, rtt) {
    const levels = new Map();
    const seen = new Map();
    for (const [id, s] of stats) {
      const now = { lost: Math.max(0, s.packetsLost || 0), received: s.packetsReceived || 0 };
      const before = this.prevTracks.get(id) || { lost: 0, received: 0 };
      const fresh = now.received < before.received || now.lost < before.lost;
      const dLost = fresh ? now.lost : now.lost - before.lost;
      const dReceived = fresh ? now.received : now.received - before.received;
      seen.set(id, now);
      if (dReceived + dLost === 0) continue; // nothing arrived meanwhile (off the page, muted): no verdict
      const loss = (100 * dLost) / (dReceived + dLost);
      levels.set(id, level({ rtt, loss, jitter: s.jitter === undefined ? null : s.jitter * 1000 }));
    }
    this.prevTracks = seen;
    return levels;
  }

  stop() {
    clearInterval(this.timer);
  }
}

export function describe({ rtt, loss, jitter }) {
  const parts = [];
  if (rtt !== null) parts.push(t("quality.rtt", { ms: Math.round(rtt) }));
  if (loss !== null) parts.push(t("quality.loss", { percent: formatNumber(loss, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) }));
  if (jitter !== null) parts.push(t("quality.jitter", { ms: Math.round(jitter) }));
  return parts.join(", ") || t("quality.measuring");
}
