// A participant built on libdatachannel (npm node-datachannel): publishes VP8 + Opus RTP from a
// GStreamer encoder and counts what it receives. Its offers say a=rtcp-mux without a=rtcp:.
// options: {cert, key (PEM files), videoPort, audioPort, videoSsrc, audioSsrc}
import { counts, countReceived, kindsByMid, log, onMessage, options, require, rtpFrom, send } from "./common.mjs";

const ndc = require("node-datachannel");
const config = { iceServers: [], certificatePemFile: options.cert, keyPemFile: options.key };

function whenGathered(pc) {
  return new Promise((resolve) => {
    const check = () => (pc.gatheringState() === "complete" ? resolve() : setTimeout(check, 20));
    check();
  });
}

function watch(pc, role) {
  pc.onStateChange((state) => {
    counts.states[role] = state;
    if (state === "failed") {
      log(`${role} PC failed`);
      process.exit(3); // the test starts the client again (libdatachannel's DTLS start-up race)
    }
  });
}

// --- publish ---------------------------------------------------------------------------------
const publish = new ndc.PeerConnection("publish", { ...config, disableAutoNegotiation: true });
watch(publish, "publish");
const audio = new ndc.Audio("audio", "SendOnly");
audio.addOpusCodec(111);
audio.addSSRC(options.audioSsrc, "interop-ndc", "interop-ndc", "audio");
const video = new ndc.Video("video", "SendOnly");
video.addVP8Codec(96);
video.addSSRC(options.videoSsrc, "interop-ndc", "interop-ndc", "video");
const audioTrack = publish.addTrack(audio);
const videoTrack = publish.addTrack(video);
for (const [kind, track, port] of [["audio", audioTrack, options.audioPort], ["video", videoTrack, options.videoPort]]) {
  rtpFrom(port, (packet) => {
    if (track.isOpen() && track.sendMessageBinary(packet)) counts.sent[kind] += 1;
  });
}
publish.setLocalDescription("offer");
await whenGathered(publish);
send({ type: "offer", id: "p1", pc: "publish", sdp: publish.localDescription().sdp,
       sources: { audio: "microphone", video: "camera" } });

// --- subscribe -------------------------------------------------------------------------------
let subscribe = null;
let kinds = {};

function subscribePc() {
  const pc = new ndc.PeerConnection("subscribe", config);
  watch(pc, "subscribe");
  pc.onTrack((track) => {
    const mid = track.mid();
    track.setMediaHandler(new ndc.RtcpReceivingSession());
    track.onMessage((rtp) => countReceived(kinds[mid], (rtp[1] & 0x80) !== 0));
  });
  return pc;
}

onMessage(async (msg) => {
  if (msg.type === "answer" && msg.pc === "publish") {
    publish.setRemoteDescription(msg.sdp, "answer");
  } else if (msg.type === "offer" && msg.pc === "subscribe") {
    subscribe = subscribe || subscribePc();
    kinds = { ...kinds, ...kindsByMid(msg.sdp) };
    subscribe.setRemoteDescription(msg.sdp, "offer"); // answered by libdatachannel's auto-negotiation
    await whenGathered(subscribe);
    send({ type: "answer", pc: "subscribe", sdp: subscribe.localDescription().sdp });
  } else if (msg.type === "error") {
    log(`edge error: ${JSON.stringify(msg)}`);
  }
});
