"""The recorder service's Prometheus figures (``cc_recorder_*``), read from the service when
Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nodes.metrics import CONTENT_TYPE, Metrics, MetricsSettings

from .service import RecorderService


class RecorderMetrics:
    def __init__(self, settings: MetricsSettings, recorder_id: str) -> None:
        self.metrics = Metrics(settings, f"recorder-{recorder_id}")
        self.service: RecorderService | None = None
        self.metrics.add(self.gather)

    def gather(self) -> Iterator[Metric]:
        s = self.service
        if s is None:
            return
        jobs = list(s.jobs.values())
        yield GaugeMetricFamily("cc_recorder_recordings_active", "Recordings being written by this recorder",
                                value=len(jobs))
        yield GaugeMetricFamily("cc_recorder_tracks_active", "Tracks being written now",
                                value=sum(len(j.current.tracks) for j in jobs if j.current is not None))
        yield CounterMetricFamily("cc_recorder_recordings_finished", "Recordings that ended on this recorder",
                                  value=s.finished)
        yield CounterMetricFamily("cc_recorder_segments", "Segments begun (one per visit to the meeting)",
                                  value=s.finished_segments + sum(j.visits for j in jobs))
        yield CounterMetricFamily("cc_recorder_bytes_written", "Media bytes written to recordings",
                                  value=s.finished_bytes + sum(j.bytes_written() for j in jobs))


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus's scrape (no sign-in: keep it internal, see docs/operations.md)."""
    m: Metrics | None = getattr(request.app.state, "metrics", None)
    if m is None or not m.on_http_port:
        raise NotFoundException("metrics are not served on this port")
    return Response(m.render(), media_type=CONTENT_TYPE)
