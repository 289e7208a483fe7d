// What every Node client of the interop tests shares: the npm packages of tests/js, the signaling
// lines on stdin/stdout (the edge's own JSON messages, docs/protocol.md; the test carries them over
// the WebSocket), RTP arriving on UDP from a GStreamer encoder, and counting what is received.
import dgram from "node:dgram";
import { createRequire } from "node:module";
import readline from "node:readline";

export const require = createRequire(new URL("../../js/package.json", import.meta.url));

export const options = JSON.parse(process.argv[2] || "{}");

export function send(msg) {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

export function log(text) {
  send({ type: "log", text: String(text) });
}

/** Call handler(msg) for each signaling message the test hands in. */
export function onMessage(handler) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    Promise.resolve(handler(JSON.parse(line))).catch((err) => {
      log(`handler failed: ${err && err.stack ? err.stack : err}`);
      process.exit(2);
    });
  });
  rl.on("close", () => process.exit(0));
}

/** RTP packets from the encoder on 127.0.0.1:port. */
export function rtpFrom(port, onPacket) {
  const socket = dgram.createSocket("udp4");
  socket.on("message", onPacket);
  socket.bind(port, "127.0.0.1");
  return socket;
}

/** Media counts, reported to the test twice a second. */
export const counts = {
  sent: { audio: 0, video: 0 },
  received: { audio: 0, video: 0 },
  frames: { video: 0 },
  states: {},
};

/** One RTP packet received; *marker* (the RTP marker bit) ends a video frame. */
export function countReceived(kind, marker) {
  counts.received[kind] += 1;
  if (kind === "video" && marker) counts.frames.video += 1;
}

setInterval(() => send({ type: "stats", ...counts }), 500).unref();

/** The m-section kinds of an SDP text, by mid. */
export function kindsByMid(sdp) {
  const kinds = {};
  let kind = null;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith("m=")) kind = line.slice(2).split(" ")[0];
    else if (line.startsWith("a=mid:")) kinds[line.slice(6).trim()] = kind;
  }
  return kinds;
}
