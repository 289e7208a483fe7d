"""One recorded track: encoded frames muxed into a WebM or Matroska file, never decoded or encoded.

VP8, VP9 and Opus go into WebM, H.264 into Matroska. The stream is described to the muxer only:
PyAV's ``add_mux_stream`` makes a stream with no codec context, and for Opus a codec context that
is never opened carries the OpusHead (RFC 7845 §5.1) the WebM muxer writes as CodecPrivate. The
H.264 CodecPrivate (avcC) is taken by the muxer from the SPS/PPS of the first access unit, which
is a key frame: a video file starts at its first key frame, whose header also gives the size
(VP8: RFC 6386 §9.1; H.264: the SPS, ITU-T H.264 §7.3.2.1.1).

Timestamps are milliseconds from the track's first frame on the shared meeting clock. Clusters
close at least once a second, so a file whose writer died without ``close()`` keeps all but the
last second (it then lacks only the index and duration, which players do without).
"""

from __future__ import annotations

import io
import os
import struct
from fractions import Fraction
from typing import Literal

import av
from av.container import OutputContainer
from av.stream import Stream

TIME_BASE = Fraction(1, 1000)
FORMATS = {"vp8": "webm", "vp9": "webm", "opus": "webm", "h264": "matroska"}
EXTENSIONS = {"webm": ".webm", "matroska": ".mkv"}
MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}


def file_extension(codec: str) -> str:
    """``.webm`` for VP8, VP9 and Opus, ``.mkv`` for H.264."""
    return EXTENSIONS[FORMATS[codec.lower()]]


def opus_head(channels: int, input_sample_rate: int = 48000, pre_skip: int = 0) -> bytes:
    """The Opus identification header (RFC 7845 §5.1), channel mapping family 0."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, input_sample_rate, 0, 0)


def vp8_frame_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame header (RFC 6386 §9.1), None for an inter frame."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack_from("<HH", frame, 6)
    return width & 0x3FFF, height & 0x3FFF


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.value, self.left = int.from_bytes(data, "big"), len(data) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise ValueError("SPS ends early")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def h264_frame_size(access_unit: bytes) -> tuple[int, int] | None:
    """Width and height from the first SPS (ITU-T H.264 §7.3.2.1.1) of an Annex B access unit."""
    for nal in access_unit.split(b"\x00\x00\x01"):
        if nal and nal[0] & 0x1F == 7:
            try:
                return _sps_size(_Bits(nal[1:].rstrip(b"\x00").replace(b"\x00\x00\x03", b"\x00\x00")))
            except ValueError:
                return None
    return None


def _sps_size(b: _Bits) -> tuple[int, int]:
    profile = b.u(8)
    b.u(16)                                            # constraint flags, level_idc
    b.ue()                                             # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = b.ue()
        if chroma == 3 and b.u(1):                     # separate_colour_plane_flag
            chroma = 0
        b.ue(), b.ue(), b.u(1)                         # bit depths, qpprime_y_zero_transform_bypass
        if b.u(1):                                     # seq_scaling_matrix_present_flag
            for i in range(12 if chroma == 3 else 8):
                if b.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + b.se()) % 256
                        last = nxt or last
    b.ue()                                             # log2_max_frame_num_minus4
    poc_type = b.ue()
    if poc_type == 0:
        b.ue()
    elif poc_type == 1:
        b.u(1), b.se(), b.se()
        for _ in range(b.ue()):
            b.se()
    b.ue(), b.u(1)                                     # max_num_ref_frames, gaps_in_frame_num
    width, map_height = (b.ue() + 1) * 16, (b.ue() + 1) * 16
    frame_mbs_only = b.u(1)
    if not frame_mbs_only:
        b.u(1)                                         # mb_adaptive_frame_field_flag
    b.u(1)                                             # direct_8x8_inference_flag
    height = map_height * (2 - frame_mbs_only)
    if b.u(1):                                         # frame_cropping_flag
        left, right, top, bottom = b.ue(), b.ue(), b.ue(), b.ue()
        unit_x = 2 if chroma in (1, 2) else 1
        unit_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
        width -= (left + right) * unit_x
        height -= (top + bottom) * unit_y
    return width, height


class TrackFile:
    """Muxes one track's encoded frames into *path*; the file is created at the first frame kept."""

    def __init__(self, path: str | os.PathLike[str], kind: Literal["audio", "video"], codec: str, clock_rate: int,
                 width: int | None = None, height: int | None = None, channels: int = 2) -> None:
        self.path = os.fspath(path)
        self.codec = codec.lower()
        if self.codec not in FORMATS or (self.codec == "opus") != (kind == "audio"):
            raise ValueError(f"cannot record {kind} in {codec!r}")
        self.kind = kind
        self.clock_rate = clock_rate
        self.width, self.height, self.channels = width, height, channels
        self.frames = 0
        self.bytes = 0
        self.skipped = 0                    # video frames before the first key frame
        self.first_ts: float | None = None  # meeting clock (s) of the first frame written
        self.last_ts: float | None = None   # meeting clock (s) of the last frame written
        self.closed = False
        self._container: OutputContainer | None = None
        self._stream: Stream | None = None
        self._pending: av.Packet[Stream] | None = None  # held until the next frame gives its duration
        self._last_duration = 0
        self._end_pts = 0
        #: The file's size after the last frame that was muxed without an error: clusters are
        #: written whole, so this is the end of the last complete one.
        self._good_size = 0

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        return self._end_pts / 1000

    def write(self, frame_ts_seconds: float, data: bytes, keyframe: bool) -> bool:
        """Mux one encoded frame stamped *frame_ts_seconds* on the meeting clock; False if not kept."""
        if self.closed:
            raise ValueError("track file is closed")
        if self._container is None:
            if self.kind == "video" and not (keyframe and self._open_video(data)):
                self.skipped += 1
                return False
            if self.kind == "audio":
                self._open_audio()
            self.first_ts = frame_ts_seconds
        assert self.first_ts is not None
        pts = round((frame_ts_seconds - self.first_ts) * 1000)
        if self._pending is not None and self._pending.pts is not None:
            pts = max(pts, self._pending.pts + 1)   # the muxer needs increasing timestamps
            self._mux_pending(pts)
        packet = av.Packet(data)
        packet.stream = self._stream  # type: ignore[assignment]
        packet.time_base = TIME_BASE
        packet.pts = packet.dts = pts
        packet.is_keyframe = keyframe
        self._pending = packet
        self._end_pts = pts + min(self._last_duration, 1000)   # until the next frame says how long this one is
        self.frames += 1
        self.bytes += len(data)
        self.last_ts = self.first_ts + pts / 1000
        return True

    def close(self) -> None:
        """Write the last frame and the index; the file is then complete. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._container is None:
            return
        if self._pending is not None:
            self._mux_pending(self._end_pts)
        self._container.close()

    def abandon(self) -> None:
        """A write failed (a full disk): close what can be closed, then cut the file back to the
        end of its last complete cluster, so it still plays without an error. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._container is None:
            return
        try:
            self._container.close()
        except (OSError, ValueError, av.FFmpegError):
            pass
        try:
            os.truncate(self.path, self._good_size)
        except OSError:
            pass

    def _mux_pending(self, end_pts: int) -> None:
        packet, self._pending = self._pending, None
        assert packet is not None and packet.pts is not None and self._container is not None
        self._last_duration = packet.duration = end_pts - packet.pts
        self._container.mux(packet)
        self._good_size = os.stat(self.path).st_size

    def _open(self) -> OutputContainer:
        container = av.open(self.path, "w", format=FORMATS[self.codec], options=dict(MUXER_OPTIONS))
        self._container = container
        return container

    def _open_video(self, keyframe: bytes) -> bool:
        size = vp8_frame_size(keyframe) if self.codec == "vp8" else None
        size = h264_frame_size(keyframe) if self.codec == "h264" else size
        if size is None and (self.width is None or self.height is None):
            if self.codec in ("vp8", "h264"):
                return False                # no size in this key frame: wait for the next one
            size = (0, 0)
        self.width, self.height = size or (self.width or 0, self.height or 0)
        self._stream = self._open().add_mux_stream(self.codec, width=self.width, height=self.height,
                                                   time_base=TIME_BASE)
        return True

    def _open_audio(self) -> None:
        # A stream made from a template keeps a codec context that is never opened; only through
        # it can the OpusHead reach the stream's codec parameters.
        with av.open(io.BytesIO(), "w", format="webm") as scratch:
            template = scratch.add_stream("libopus" if "libopus" in av.codecs_available else "opus", rate=48000)
            stream = self._open().add_stream_from_template(template)
        context = stream.codec_context
        context.extradata = opus_head(self.channels, self.clock_rate)
        context.sample_rate = 48000
        context.layout = "stereo" if self.channels == 2 else "mono"
        stream.time_base = TIME_BASE
        self._stream = stream
