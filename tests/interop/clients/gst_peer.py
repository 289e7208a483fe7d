"""A participant built on GStreamer's webrtcbin (Debian's GStreamer 1.22, run by the system
``/usr/bin/python3`` with ``gi``): publishes a VP8 test pattern and Opus tone from one webrtcbin,
receives on another and decodes what arrives (frames counted after the decoders). Its DTLS
certificate is webrtcbin's own (RSA), its offers say ``a=rtcp-mux`` without ``a=rtcp:``.

Signaling is the edge's JSON messages, one a line on stdin/stdout (see tests/interop/harness.py).
"""

import json
import os
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

Gst.init(None)
loop = GLib.MainLoop()
counts = {"sent": {"audio": 0, "video": 0}, "received": {"audio": 0, "video": 0}, "frames": {"video": 0},
          "states": {}}
lock = threading.Lock()

SOURCES = ("videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! "
           "vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=300000 ! rtpvp8pay pt=96 mtu=1200 ! "
           "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! pub. "
           "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 ! "
           "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! pub. ")


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def log(text):
    send({"type": "log", "text": str(text)})


def die(code):
    """Exit from inside a GLib callback (the test starts the client again after a failure)."""
    sys.stdout.flush()
    os._exit(code)


def kinds_by_mid(sdp):
    kinds, kind = {}, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ")[0]
        elif line.startswith("a=mid:"):
            kinds[line[6:].strip()] = kind
    return kinds


class Side:
    """One webrtcbin and its signaling: it sends what it has only when ICE gathering is complete,
    with its candidates in the SDP (no trickling)."""

    def __init__(self, role, webrtc):
        self.role, self.webrtc = role, webrtc
        self.candidates = {}  # m-line index → candidate lines
        webrtc.connect("on-ice-candidate", self.on_candidate)
        webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        webrtc.connect("notify::connection-state", self.on_state)
        self.pending = None  # what to send when gathering completes: "offer" | "answer"

    def on_candidate(self, _webrtc, index, candidate):
        self.candidates.setdefault(index, []).append(candidate)

    def on_state(self, webrtc, _spec):
        state = webrtc.get_property("connection-state").value_nick
        counts["states"][self.role] = state
        if state == "failed":
            log(f"{self.role} PC failed")
            die(3)

    def on_gathering(self, webrtc, _spec):
        if webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.flush)

    def flush(self):
        if self.pending is None:
            return False
        desc = self.webrtc.get_property("local-description")
        sdp = with_candidates(desc.sdp.as_text(), self.candidates)
        kind, self.pending = self.pending, None
        if kind == "offer":
            sources = {mid: "camera" if k == "video" else "microphone" for mid, k in kinds_by_mid(sdp).items()}
            send({"type": "offer", "id": "p1", "pc": "publish", "sdp": sdp, "sources": sources})
        else:
            send({"type": "answer", "pc": "subscribe", "sdp": sdp})
        return False

    def local(self, kind, desc):
        self.webrtc.emit("set-local-description", desc, None)
        self.pending = kind
        if self.webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            GLib.idle_add(self.flush)


def with_candidates(sdp, candidates):
    """*sdp* with the gathered candidates in their m-sections, unless it has them already."""
    if "a=candidate:" in sdp:
        return sdp
    out, index = [], -1
    lines = sdp.strip().split("\r\n")
    for i, line in enumerate(lines):
        out.append(line)
        last_of_section = i + 1 == len(lines) or lines[i + 1].startswith("m=")
        if line.startswith("m="):
            index += 1
        if last_of_section and index >= 0:
            out += [c if c.startswith("a=") else "a=" + c for c in candidates.get(index, [])]
            out.append("a=end-of-candidates")
    return "\r\n".join(out) + "\r\n"


def description(kind, text):
    _, message = GstSdp.SDPMessage.new_from_text(text)
    sdp_type = GstWebRTC.WebRTCSDPType.OFFER if kind == "offer" else GstWebRTC.WebRTCSDPType.ANSWER
    return GstWebRTC.WebRTCSessionDescription.new(sdp_type, message)


# --- publish ---------------------------------------------------------------------------------
pipeline = Gst.parse_launch("webrtcbin name=pub bundle-policy=max-bundle " + SOURCES)
pub = Side("publish", pipeline.get_by_name("pub"))


def on_offer_created(promise, _data):
    promise.wait()
    reply = promise.get_reply()
    if reply is None or not reply.has_field("offer"):
        log(f"create-offer failed: {reply.to_string() if reply else None}")
        die(5)
    pub.local("offer", reply.get_value("offer"))


offering = []


def on_negotiation_needed(webrtc):
    # Fired once per linked source as the pipeline starts: offer once, when both are in.
    if not offering:
        offering.append(True)
        GLib.timeout_add(100, lambda: webrtc.emit("create-offer", None,
                                                  Gst.Promise.new_with_change_func(on_offer_created, None)) and False)


pub.webrtc.connect("on-negotiation-needed", on_negotiation_needed)


def count_sent(kind):
    def probe(_pad, _info):
        counts["sent"][kind] += 1
        return Gst.PadProbeReturn.OK
    return probe


# --- subscribe -------------------------------------------------------------------------------
sub = None
sub_kinds = {}


def on_decoded_pad(_decodebin, pad):
    caps = pad.get_current_caps() or pad.query_caps(None)
    kind = "video" if caps.to_string().startswith("video/") else "audio"
    sink = Gst.ElementFactory.make("fakesink")
    sink.set_property("sync", False)
    queue = Gst.ElementFactory.make("queue")
    pipeline.add(queue)
    pipeline.add(sink)
    queue.link(sink)
    queue.sync_state_with_parent()
    sink.sync_state_with_parent()
    pad.link(queue.get_static_pad("sink"))

    def probe(_pad, _info):
        with lock:
            counts["received"][kind] += 1
            if kind == "video":
                counts["frames"]["video"] += 1
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)


def on_incoming_stream(_webrtc, pad):
    if pad.direction != Gst.PadDirection.SRC:
        return
    decodebin = Gst.ElementFactory.make("decodebin")
    decodebin.connect("pad-added", on_decoded_pad)
    pipeline.add(decodebin)
    decodebin.sync_state_with_parent()
    pad.link(decodebin.get_static_pad("sink"))


def subscribe_side():
    global sub
    if sub is None:
        webrtc = Gst.ElementFactory.make("webrtcbin", "sub")
        webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        webrtc.connect("pad-added", on_incoming_stream)
        pipeline.add(webrtc)
        webrtc.sync_state_with_parent()
        sub = Side("subscribe", webrtc)
    return sub


def on_answer_created(promise, side):
    promise.wait()
    reply = promise.get_reply()
    if reply is None or not reply.has_field("answer"):
        log(f"create-answer failed: {reply.to_string() if reply else None}")
        die(5)
    side.local("answer", reply.get_value("answer"))


def on_remote_offer_set(promise, side):
    promise.wait()
    side.webrtc.emit("create-answer", None, Gst.Promise.new_with_change_func(on_answer_created, side))


def handle(msg):
    if msg["type"] == "answer" and msg["pc"] == "publish":
        pub.webrtc.emit("set-remote-description", description("answer", msg["sdp"]), None)
    elif msg["type"] == "offer" and msg["pc"] == "subscribe":
        side = subscribe_side()
        sub_kinds.update(kinds_by_mid(msg["sdp"]))
        side.webrtc.emit("set-remote-description", description("offer", msg["sdp"]),
                         Gst.Promise.new_with_change_func(on_remote_offer_set, side))
    elif msg["type"] == "error":
        log(f"edge error: {msg}")
    return False


def read_stdin():
    for line in sys.stdin:
        msg = json.loads(line)
        GLib.idle_add(handle, msg)
    GLib.idle_add(loop.quit)


def report():
    with lock:
        send({"type": "stats", **counts})
    return True


def on_bus(_bus, message):
    if message.type == Gst.MessageType.ERROR:
        error, debug = message.parse_error()
        log(f"GStreamer error: {error.message} {debug}")
        die(4)


for element in pipeline.iterate_elements():
    name = element.get_factory().get_name()
    if name in ("rtpvp8pay", "rtpopuspay"):
        element.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER,
                                                count_sent("video" if "vp8" in name else "audio"))
bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_bus)
threading.Thread(target=read_stdin, daemon=True).start()
GLib.timeout_add(500, report)
pipeline.set_state(Gst.State.PLAYING)
try:
    loop.run()
finally:
    pipeline.set_state(Gst.State.NULL)
