// A minimal signaling client for a Chromium page, written from docs/protocol.md, whose peer
// connections may use only relayed candidates over TURN/TCP or TURN/TLS: it keeps the
// turn:…?transport=tcp (keep = "tcp") or the turns: URLs (keep = "tls") of joined.ice_servers
// and sets iceTransportPolicy "relay". Candidates go in the SDP (it
// waits for gathering to complete), so no trickle is needed.
window.turnClient = async (wsUrl, token, meetingId, keep = "tcp") => {
  const state = (window.turnState = { messages: [], errors: [], joined: null });
  const ws = new WebSocket(wsUrl);
  const waiters = [];
  const send = (msg) => ws.send(JSON.stringify(msg));
  let chain = Promise.resolve();
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    state.messages.push(msg);
    if (msg.type === "error") state.errors.push(msg);
    if (msg.type === "offer" && msg.pc === "subscribe") chain = chain.then(() => answer(msg.sdp)).catch((e) => state.errors.push(String(e)));
    for (const w of waiters.splice(0)) if (!w(msg)) waiters.push(w);
  };
  const next = (ok) => new Promise((resolve) => waiters.push((m) => (ok(m) ? (resolve(m), true) : false)));
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });

  const joinedP = next((m) => m.type === "joined");
  send({ type: "join", id: 1, token, meeting_id: meetingId });
  const joined = (state.joined = await joinedP);
  const iceServers = joined.ice_servers
    .map((s) => ({ ...s, urls: [].concat(s.urls).filter((u) => keep === "tls" ? u.startsWith("turns:") :
      u.startsWith("turn:") && u.endsWith("?transport=tcp")) }))
    .filter((s) => s.urls.length);
  state.iceServers = iceServers;
  const config = { iceServers, iceTransportPolicy: "relay", bundlePolicy: "max-bundle" };
  const gathered = (pc) => pc.iceGatheringState === "complete" ? Promise.resolve() :
    new Promise((resolve) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve()));

  // subscribe: answer every offer of the edge, in order
  let sub = null;
  async function answer(sdp) {
    sub ??= (state.sub = new RTCPeerConnection(config));
    await sub.setRemoteDescription({ type: "offer", sdp });
    await sub.setLocalDescription(await sub.createAnswer());
    await gathered(sub);
    send({ type: "answer", pc: "subscribe", sdp: sub.localDescription.sdp });
  }

  // publish the fake camera and microphone
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const pub = (state.pub = new RTCPeerConnection(config));
  for (const track of media.getTracks()) pub.addTransceiver(track, { direction: "sendonly" });
  await pub.setLocalDescription(await pub.createOffer());
  await gathered(pub);
  const sources = {};
  for (const t of pub.getTransceivers()) sources[t.mid] = t.sender.track.kind === "audio" ? "microphone" : "camera";
  const answerP = next((m) => m.type === "answer" && m.re === "pub");
  send({ type: "offer", id: "pub", pc: "publish", sdp: pub.localDescription.sdp, sources });
  await pub.setRemoteDescription({ type: "answer", sdp: (await answerP).sdp });
  return { participant_id: joined.participant_id, iceServers };
};

// What each peer connection's selected candidate pair is, and the media counted both ways.
window.turnStats = async () => {
  const out = {};
  for (const name of ["pub", "sub"]) {
    const pc = window.turnState[name];
    if (!pc) continue;
    const report = await pc.getStats();
    const s = { state: pc.connectionState, framesDecoded: 0, audioReceived: 0, framesSent: 0, audioSent: 0 };
    for (const r of report.values()) {
      if (r.type === "transport" && r.selectedCandidatePairId) {
        const pair = report.get(r.selectedCandidatePairId);
        const local = report.get(pair.localCandidateId);
        const remote = report.get(pair.remoteCandidateId);
        s.local = { type: local.candidateType, relayProtocol: local.relayProtocol, protocol: local.protocol, url: local.url };
        s.remote = { type: remote.candidateType, address: remote.address };
        s.bytesSent = pair.bytesSent;
        s.bytesReceived = pair.bytesReceived;
      }
      if (r.type === "inbound-rtp" && r.kind === "video") s.framesDecoded += r.framesDecoded || 0;
      if (r.type === "inbound-rtp" && r.kind === "audio") s.audioReceived += r.packetsReceived || 0;
      if (r.type === "outbound-rtp" && r.kind === "video") s.framesSent += r.framesSent || 0;
      if (r.type === "outbound-rtp" && r.kind === "audio") s.audioSent += r.packetsSent || 0;
    }
    out[name] = s;
  }
  return out;
};
