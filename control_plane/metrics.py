"""The control plane's Prometheus figures (``cc_cp_*``).

Requests are counted by a ``before_send`` hook (every response, the 404s of unknown paths
included) by method, route template (``/api/v1/meetings/{meeting_id}/join``, never the path
itself: the label set stays small) and status. Sign-ins are counted where they are decided
(:class:`SignIn`); NATS requests are timed by the bus (``Bus.on_request``); tokens issued and
events consumed are the services' own counters, read at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from litestar import Request, get
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, TooManyRequestsException
from litestar.response import Response
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from nodes.metrics import CONTENT_TYPE, Metrics, MetricsSettings

if TYPE_CHECKING:
    from litestar.types import Message, Scope

    from .services import Services

NATS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIGN_IN_RESULTS = ("success", "failure", "limited", "refused", "error")


class ControlPlaneMetrics:
    def __init__(self, settings: MetricsSettings) -> None:
        self.metrics = m = Metrics(settings, "control-plane")
        self.requests = Counter("cc_cp_http_requests", "HTTP responses by method, route template and status",
                                ["method", "route", "status"], registry=m.registry)
        self.sign_ins = Counter("cc_cp_sign_ins", "Sign-in attempts by method (local, ldap, oidc) and result",
                                ["method", "result"], registry=m.registry)
        for method in ("local", "ldap", "oidc"):
            for result in ("success", "failure"):
                self.sign_ins.labels(method, result)  # present from the start, at 0
        self.nats_requests = Histogram("cc_cp_nats_request_seconds",
                                       "NATS requests to edges and recorders: seconds until the answer",
                                       ["what", "outcome"], buckets=NATS_BUCKETS, registry=m.registry)
        self.services: Services | None = None
        m.add(self.gather)

    def nats_request(self, what: str, seconds: float, outcome: str) -> None:
        self.nats_requests.labels(what, outcome).observe(seconds)

    def before_send(self, message: Message, scope: Scope) -> None:
        """Litestar ``before_send`` hook: count each HTTP response as it starts."""
        if message["type"] == "http.response.start" and scope["type"] == "http":
            route = scope.get("path_template") or "unmatched"
            self.requests.labels(scope.get("method", ""), route, str(message["status"])).inc()

    def gather(self) -> Iterator[Metric]:
        s = self.services
        if s is None:
            return
        tokens = CounterMetricFamily("cc_cp_tokens_issued", "Join tokens signed, by meeting role", labels=["role"])
        for role, n in sorted((s.tokens.issued if s.tokens is not None else {}).items()):
            tokens.add_metric([role], n)
        yield tokens
        events = CounterMetricFamily("cc_cp_events_consumed",
                                     "Events read from the stream, by kind and outcome (applied, duplicate, "
                                     "refused, held, retried, unreadable)", labels=["kind", "outcome"])
        for (kind, outcome), n in sorted((s.events.consumed if s.events is not None else {}).items()):
            events.add_metric([kind, outcome], n)
        yield events
        yield GaugeMetricFamily("cc_cp_edges_live", "Edges whose heartbeats are current",
                                value=len(s.edges.live()))
        yield GaugeMetricFamily("cc_cp_nats_connected", "1 while connected to NATS", value=int(s.bus.connected))


def metrics_of(request: Request[Any, Any, Any]) -> ControlPlaneMetrics | None:
    found = getattr(request.app.state, "cp_metrics", None)
    return found if isinstance(found, ControlPlaneMetrics) else None


def sign_in_result(exc: BaseException | None) -> str:
    if exc is None:
        return "success"
    if isinstance(exc, NotAuthorizedException):
        return "failure"
    if isinstance(exc, TooManyRequestsException):
        return "limited"
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return "refused"
    return "error"


class SignIn:
    """``with SignIn(request, "local") as attempt:`` counts one sign-in by its outcome; the block
    may change ``attempt.method`` once it knows (``auto`` → local or LDAP)."""

    def __init__(self, request: Request[Any, Any, Any], method: str) -> None:
        self.metrics = metrics_of(request)
        self.method = method
        self.started = time.monotonic()

    def __enter__(self) -> SignIn:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.metrics is not None:
            self.metrics.sign_ins.labels(self.method, sign_in_result(exc)).inc()


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus's scrape (no sign-in: keep it internal, see docs/operations.md)."""
    found = metrics_of(request)
    if found is None or not found.metrics.on_http_port:
        raise NotFoundException("metrics are not served on this port")
    return Response(found.metrics.render(), media_type=CONTENT_TYPE)
