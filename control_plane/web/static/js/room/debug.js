// `window.__cc`: the running room's peer connections and state, for diagnostics in the browser
// console and for the browser tests (decoded frames, the local tracks, the edge, a dropped socket).

export function exposeForDiagnostics(room) {
  window.__cc = {
    room,
    get participantId() {
      return room.state.me;
    },
    get publishPc() {
      return room.publisher?.pc || null;
    },
    get subscribePc() {
      return room.subscriber?.pc || null;
    },
    get marks() {
      return room.marks;
    },
    get connection() {
      const sig = room.sig;
      return { state: sig.state, reconnects: sig.reconnects, rejoins: sig.rejoins, rtt: sig.rtt, history: [...sig.history] };
    },
    /** The edge the room is in: `{edge_id, url, via}` — via `first`, `same`, `alternate` or `control_plane`. */
    get edge() {
      return room.sig.edge ? { ...room.sig.edge } : null;
    },
    /** Every arrival on an edge, in order: `{edge_id, via, how (joined, resumed, rejoined), at}`. */
    get edges() {
      return room.sig.edges.map((e) => ({ ...e }));
    },
    /** The view last sent to the edge (`{tracks, hidden}`) and the one the page shows now. */
    get view() {
      const r = room.view.reporter;
      return { sent: r.last ? JSON.parse(r.last) : null, now: r.current() };
    },
    /** The edges to try after this one, in order (the join answer's alternates, or the control plane's). */
    get alternates() {
      return room.sig.plan.alternates.map((a) => a.edge_id);
    },
    /** One entry per received stream: whose it is, which source, frames decoded, audio received. */
    async inbound() {
      const pc = room.subscriber?.pc;
      if (!pc) return [];
      const out = [];
      (await pc.getStats()).forEach((s) => {
        if (s.type !== "inbound-rtp") return;
        const entry = room.subscriber.byMid(s.mid);
        const found = entry ? room.state.track(entry.trackId) : null;
        out.push({
          mid: s.mid, kind: s.kind, framesDecoded: s.framesDecoded || 0, packetsReceived: s.packetsReceived || 0,
          frameHeight: s.frameHeight || 0,
          totalSamplesReceived: s.totalSamplesReceived || 0, audioEnergy: s.totalAudioEnergy || 0,
          participantId: entry?.participantId || "", trackId: entry?.trackId || "",
          source: found?.track.source || "", active: Boolean(entry?.active),
          e2ee: room.e2ee && entry ? room.e2ee.stateOf(entry.receiver) : "",
        });
      });
      return out;
    },
    /** End-to-end encryption: `{method, keyId, transforms: [{id, operation, kind, state, frames, failed}]}`, or null. */
    get e2ee() {
      return room.e2ee ? room.e2ee.snapshot() : null;
    },
    /** Each video encoding this browser sends: `{rid, framesEncoded, frameHeight}` (rid "" without simulcast). */
    async outbound() {
      const pc = room.publisher?.pc;
      if (!pc) return [];
      const out = [];
      (await pc.getStats()).forEach((s) => {
        if (s.type === "outbound-rtp" && s.kind === "video") {
          out.push({ rid: s.rid || "", framesEncoded: s.framesEncoded || 0, frameHeight: s.frameHeight || 0 });
        }
      });
      return out;
    },
    /** What this browser sends: each source's local track and the track its sender carries. */
    localTracks() {
      const out = {};
      for (const source of ["microphone", "camera", "screen"]) {
        const local = room.media.tracks[source];
        const sender = room.publisher?.sender(source);
        out[source] = {
          id: local?.id || "", label: local?.label || "", enabled: local ? local.enabled : false,
          readyState: local?.readyState || "", deviceId: local?.getSettings?.().deviceId || "",
          senderTrackId: sender?.track?.id || "",
        };
      }
      return out;
    },
    /** Restart ICE in place, as the room does when a path stays `disconnected`; how many so far. */
    restartIce() {
      room.restartIce();
    },
    get iceRestarts() {
      return room.publisher?.iceRestarts || 0;
    },
    /** Close the signaling socket as a network failure would; the room reconnects and resumes. */
    dropSocket() {
      room.sig.ws?.close();
    },
  };
}
