"""The edge's Prometheus figures (``cc_edge_*``), read from the conference when Prometheus scrapes.

The forwarding core keeps plain counters (:class:`~edge.sfu.interfaces.RoomStats`); this module
turns them into metric families at scrape time, so forwarding a packet costs nothing more. A
meeting's counters are folded into the edge's totals when it closes, so the counters never go
back. The join → first-frame histogram is observed once per subscriber by the forwarding core
(``SfuConfig.on_first_frame``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Response
from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nodes.metrics import CONTENT_TYPE, Metrics, MetricsSettings

from .sfu.interfaces import RoomStats

if TYPE_CHECKING:
    from .conference.conference import Conference
    from .conference.meeting import Meeting
    from .events import EventOutbox

FIRST_FRAME_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
KINDS = ("audio", "video")
ROLES = ("publish", "subscribe")


class EdgeMetrics:
    def __init__(self, settings: MetricsSettings, edge_id: str) -> None:
        self.metrics = Metrics(settings, f"edge-{edge_id}")
        self.first_frame = Histogram(
            "cc_edge_join_first_frame_seconds",
            "Seconds from a subscriber joining (or the track being published, when later) to the first video"
            " packet sent to it", buckets=FIRST_FRAME_BUCKETS, registry=self.metrics.registry)
        self.conference: Conference | None = None
        self.outbox: EventOutbox | None = None
        self.draining = lambda: False
        #: The counters of the meetings that closed on this edge.
        self.closed = RoomStats()
        self.metrics.add(self.gather)

    def attach(self, conference: Conference, outbox: EventOutbox) -> None:
        self.conference, self.outbox = conference, outbox
        conference.on_meeting_closed(self._closed)

    def _closed(self, mt: Meeting) -> None:
        if mt.room is not None:
            _add(self.closed, mt.room.stats())

    def totals(self) -> tuple[int, int, int, RoomStats]:
        """(meetings, participants, tracks, counters of every meeting so far) now."""
        total = RoomStats()
        _add(total, self.closed)
        total.peers = total.tracks = total.forwarded_streams = 0
        total.peer_states = {}
        meetings = participants = tracks = 0
        if self.conference is not None:
            for mt in list(self.conference.meetings.values()):
                meetings += 1
                participants += len(mt.participants)
                tracks += mt.track_count()
                if mt.room is not None:
                    _add(total, mt.room.stats())
        return meetings, participants, tracks, total

    def gather(self) -> Iterator[Metric]:
        meetings, participants, tracks, t = self.totals()
        yield _gauge("cc_edge_meetings", "Meetings open on this edge", meetings)
        yield _gauge("cc_edge_participants", "Participants in meetings on this edge (lobby included)", participants)
        yield _gauge("cc_edge_tracks", "Tracks published on this edge's meetings", tracks)
        yield _gauge("cc_edge_subscriber_streams", "(track, subscriber) pairs being forwarded", t.forwarded_streams)
        packets = CounterMetricFamily("cc_edge_forwarded_packets", "RTP packets sent to subscribers", labels=["kind"])
        octets = CounterMetricFamily("cc_edge_forwarded_bytes", "RTP payload bytes sent to subscribers",
                                     labels=["kind"])
        for kind in KINDS:
            packets.add_metric([kind], t.packets_by_kind.get(kind, 0))
            octets.add_metric([kind], t.bytes_by_kind.get(kind, 0))
        yield packets
        yield octets
        yield _counter("cc_edge_received_packets", "RTP packets received from publishers",
                       t.extra.get("packets_received", 0))
        yield _counter("cc_edge_received_bytes", "RTP payload bytes received from publishers",
                       t.extra.get("bytes_received", 0))
        yield _counter("cc_edge_queue_drops", "Packets dropped because a subscriber's queue was full",
                       t.packets_dropped)
        keyframes = CounterMetricFamily("cc_edge_keyframe_requests",
                                        "Keyframe requests: sent to publishers, received from subscribers",
                                        labels=["direction"])
        keyframes.add_metric(["sent"], t.keyframe_requests)
        keyframes.add_metric(["received"], t.extra.get("keyframe_requests_received", 0))
        yield keyframes
        yield _counter("cc_edge_layer_switches", "Times a subscriber's video moved to another simulcast layer",
                       t.layer_switches)
        states = GaugeMetricFamily("cc_edge_peer_connections", "Participants' peer connections by role and state",
                                   labels=["role", "state"])
        seen = dict(t.peer_states)
        for role in ROLES:  # the usual ones always present, so a dashboard's series start at 0
            for state in ("connecting", "connected", "failed"):
                seen.setdefault(f"{role}:{state}", 0)
        for key, n in sorted(seen.items()):
            role, _, state = key.partition(":")
            states.add_metric([role, state], n)
        yield states
        yield _gauge("cc_edge_draining", "1 while the edge refuses new joins (stopping)", int(self.draining()))
        if self.outbox is not None:
            yield _counter("cc_edge_events_published", "Events published to the control plane",
                           self.outbox.published)
            yield _counter("cc_edge_events_dropped", "Events dropped because the outbox was full",
                           self.outbox.dropped)
            yield _gauge("cc_edge_events_pending", "Events waiting to be published", self.outbox.pending)


def _add(total: RoomStats, s: RoomStats) -> None:
    total.peers += s.peers
    total.tracks += s.tracks
    total.forwarded_streams += s.forwarded_streams
    total.packets_forwarded += s.packets_forwarded
    total.bytes_forwarded += s.bytes_forwarded
    total.packets_dropped += s.packets_dropped
    total.keyframe_requests += s.keyframe_requests
    total.layer_switches += s.layer_switches
    for key in ("packets_received", "bytes_received", "keyframe_requests_received"):
        total.extra[key] = total.extra.get(key, 0) + s.extra.get(key, 0)
    for mine, theirs in ((total.packets_by_kind, s.packets_by_kind), (total.bytes_by_kind, s.bytes_by_kind),
                         (total.peer_states, s.peer_states)):
        for key, n in theirs.items():
            mine[key] = mine.get(key, 0) + n


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request) -> Response[bytes]:
    """Prometheus's scrape (no sign-in: keep it internal, see docs/operations.md)."""
    m: Metrics | None = getattr(request.app.state, "metrics", None)
    if m is None or not m.on_http_port:
        raise NotFoundException("metrics are not served on this port")
    return Response(m.render(), media_type=CONTENT_TYPE)
