// A participant built on werift (npm, pure TypeScript): publishes VP8 + Opus RTP from a GStreamer
// encoder and counts what it receives.
// options: {cert, key (PEM files), certKind ("rsa" | "ecdsa"), videoPort, audioPort}
import fs from "node:fs";
import { counts, countReceived, log, onMessage, options, require, rtpFrom, send } from "./common.mjs";

const werift = require("werift");
const { RTCPeerConnection, MediaStreamTrack, RTCRtpCodecParameters } = werift;

const keys = {
  certPem: fs.readFileSync(options.cert, "utf8"),
  keyPem: fs.readFileSync(options.key, "utf8"),
  signatureHash: { hash: 4, signature: options.certKind === "rsa" ? 1 : 3 }, // sha256 with rsa / ecdsa
};
const config = {
  iceServers: [],
  bundlePolicy: "max-bundle",
  dtls: { keys },
  codecs: {
    audio: [new RTCRtpCodecParameters({ mimeType: "audio/opus", clockRate: 48000, channels: 2, payloadType: 111 })],
    video: [new RTCRtpCodecParameters({ mimeType: "video/VP8", clockRate: 90000, payloadType: 96,
                                        rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }] })],
  },
};

function whenGathered(pc) {
  return new Promise((resolve) => {
    const check = () => (pc.iceGatheringState === "complete" ? resolve() : setTimeout(check, 20));
    check();
  });
}

function watch(pc, role) {
  pc.connectionStateChange.subscribe((state) => {
    counts.states[role] = state;
    if (state === "failed") {
      log(`${role} PC failed`);
      process.exit(3);
    }
  });
}

// --- publish ---------------------------------------------------------------------------------
const publish = new RTCPeerConnection(config);
watch(publish, "publish");
const sources = {};
for (const [kind, port, source] of [["audio", options.audioPort, "microphone"], ["video", options.videoPort, "camera"]]) {
  const track = new MediaStreamTrack({ kind });
  const transceiver = publish.addTransceiver(track, { direction: "sendonly" });
  transceiver.source = source;
  rtpFrom(port, (packet) => {
    if (publish.connectionState === "connected") {
      track.writeRtp(packet);
      counts.sent[kind] += 1;
    }
  });
}
await publish.setLocalDescription(await publish.createOffer());
await whenGathered(publish);
for (const t of publish.getTransceivers()) sources[t.mid] = t.source;
send({ type: "offer", id: "p1", pc: "publish", sdp: publish.localDescription.sdp, sources });

// --- subscribe -------------------------------------------------------------------------------
let subscribe = null;

function subscribePc() {
  const pc = new RTCPeerConnection(config);
  watch(pc, "subscribe");
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => countReceived(track.kind, rtp.header.marker));
  });
  // werift drops what arrives before its DTLS handshake is done: ask for a keyframe once connected
  pc.connectionStateChange.subscribe((state) => {
    if (state !== "connected") return;
    for (const t of pc.getTransceivers()) {
      if (t.kind === "video" && t.receiver.tracks[0]?.ssrc) t.receiver.sendRtcpPLI(t.receiver.tracks[0].ssrc);
    }
  });
  return pc;
}

onMessage(async (msg) => {
  if (msg.type === "answer" && msg.pc === "publish") {
    await publish.setRemoteDescription({ type: "answer", sdp: msg.sdp });
  } else if (msg.type === "offer" && msg.pc === "subscribe") {
    subscribe = subscribe || subscribePc();
    await subscribe.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    await subscribe.setLocalDescription(await subscribe.createAnswer());
    await whenGathered(subscribe);
    send({ type: "answer", pc: "subscribe", sdp: subscribe.localDescription.sdp });
  } else if (msg.type === "error") {
    log(`edge error: ${JSON.stringify(msg)}`);
  }
});
