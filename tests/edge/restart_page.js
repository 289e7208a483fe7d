// A signaling client for a Chromium page, written from docs/protocol.md: it publishes the fake
// camera and microphone, answers every subscribe offer, and restarts ICE on the publish PC with
// restartIce() — the edge then restarts the subscribe PC with its next offer. Candidates go in the
// SDP (it waits for gathering to complete), so no trickle is needed.
window.restartClient = async (wsUrl, token, meetingId) => {
  const state = (window.cc = { messages: [], errors: [], subOffers: 0 });
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
  state.next = next;
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });

  const joinedP = next((m) => m.type === "joined");
  send({ type: "join", id: 1, token, meeting_id: meetingId });
  const joined = (state.joined = await joinedP);
  const config = { iceServers: joined.ice_servers, bundlePolicy: "max-bundle" };
  const gathered = (pc) => pc.iceGatheringState === "complete" ? Promise.resolve() :
    new Promise((resolve) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve()));

  let sub = null;
  async function answer(sdp) {
    sub ??= (state.sub = new RTCPeerConnection(config));
    await sub.setRemoteDescription({ type: "offer", sdp });
    await sub.setLocalDescription(await sub.createAnswer());
    await gathered(sub);
    send({ type: "answer", pc: "subscribe", sdp: sub.localDescription.sdp });
    state.subOffers += 1;
  }

  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const pub = (state.pub = new RTCPeerConnection(config));
  for (const track of media.getTracks()) pub.addTransceiver(track, { direction: "sendonly" });
  let n = 0;
  state.publish = async () => {
    await pub.setLocalDescription(await pub.createOffer());
    await gathered(pub);
    const sources = {};
    for (const t of pub.getTransceivers()) sources[t.mid] = t.sender.track.kind === "audio" ? "microphone" : "camera";
    const id = `pub${++n}`;
    const answerP = next((m) => m.re === id);
    send({ type: "offer", id, pc: "publish", sdp: pub.localDescription.sdp, sources });
    const reply = await answerP;
    if (reply.type !== "answer") throw new Error(JSON.stringify(reply));
    await pub.setRemoteDescription({ type: "answer", sdp: reply.sdp });
    return reply.sdp;
  };
  await state.publish();
  return { participant_id: joined.participant_id };
};

// restartIce() on the publish PC, and the renegotiation it asks for.
window.restartIce = async () => {
  window.cc.pub.restartIce();
  return await window.cc.publish();
};

const ufrag = (sdp) => /a=ice-ufrag:(\S+)/.exec(sdp || "")[1];

// Each PC: its state, its ICE credentials (local and remote) and media counted both ways.
window.ccStats = async () => {
  const out = {};
  for (const name of ["pub", "sub"]) {
    const pc = window.cc[name];
    if (!pc) continue;
    const report = await pc.getStats();
    const s = { state: pc.connectionState, ice: pc.iceConnectionState, framesDecoded: 0, framesSent: 0,
                localUfrag: ufrag(pc.localDescription?.sdp), remoteUfrag: ufrag(pc.remoteDescription?.sdp) };
    for (const r of report.values()) {
      if (r.type === "inbound-rtp" && r.kind === "video") s.framesDecoded += r.framesDecoded || 0;
      if (r.type === "outbound-rtp" && r.kind === "video") s.framesSent += r.framesSent || 0;
      if (r.type === "transport") s.dtlsState = r.dtlsState;
    }
    out[name] = s;
  }
  return out;
};
