"""``create_app(settings)``: the edge as a Litestar application.

The lifespan opens, inside one ``AsyncExitStack``: the NATS bus, the join-token keys, the event
outbox, the conference (meetings and their forwarding rooms), the command endpoint, the mesh
(cascading with the meetings' other edges) and the heartbeat (whose load figures come from the
conference). Signaling is served at ``/ws``
(WebSocket) and ``/socket.io`` (Socket.IO).

On shutdown the edge first drains — refuses new joins, tells connected clients, and says so in a
last heartbeat — then closes its meetings (participants leave with reason ``edge_stopped``),
stops taking commands, says goodbye, publishes the events still queued, and drains NATS last.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from litestar import Litestar, asgi
from litestar.datastructures import State
from litestar.types import Receive, Scope, Send

from nodes import subjects
from nodes.bus import Bus
from nodes.memory import HeapTrimmer

from .commands import CommandEndpoint
from .conference.conference import Conference
from .conference.rooms import room_factory
from .drain import DrainEndpoint
from .events import EventOutbox
from .health import healthz, readyz
from .heartbeat import Heartbeat, LoadSnapshot
from .keys import Keys
from .mesh.node import Mesh
from .metrics import EdgeMetrics, metrics_endpoint
from .recording import RecordingRequests
from .settings import Settings
from .sfu import aiortc_hooks
from .sfu.interfaces import SfuConfig
from .signaling import sio
from .signaling.session import Signaling
from .signaling.websocket import signaling_socket
from .turn import IceServers

log = logging.getLogger(__name__)


@dataclass
class Node:
    settings: Settings
    bus: Bus
    heartbeat: Heartbeat
    keys: Keys
    outbox: EventOutbox
    conference: Conference
    commands: CommandEndpoint
    signaling: Signaling
    mesh: Mesh | None = None
    #: Why the forwarding core cannot run (its aiortc hooks do not fit), or None; checked at start.
    sfu_problem: str | None = None


def sfu_config(settings: Settings, on_first_frame: Callable[[float], None] | None = None) -> SfuConfig:
    s, t = settings.sfu, settings.turn
    turn_servers = None
    if t.for_edge and t.urls:
        mine = IceServers([], turn_urls=t.urls, secret=t.secret, ttl=t.ttl)
        name = f"edge-{settings.edge_id}"

        def turn_servers() -> tuple[dict, ...]:
            return tuple(mine(name))

    return SfuConfig(ice_servers=tuple(s.ice_servers), turn_servers=turn_servers,
                     ice_transport_policy=s.ice_transport_policy, keyframe_min_interval=s.keyframe_min_interval,
                     subscriber_queue=s.subscriber_queue, speaker_threshold=s.speaker_threshold,
                     speaker_interval=s.speaker_interval, adaptation=s.adaptation, on_first_frame=on_first_frame)


def ice_servers(settings: Settings) -> IceServers:
    """What each participant's ``joined.ice_servers`` holds: public STUN and its own TURN credentials."""
    t = settings.turn
    return IceServers(settings.sfu.ice_servers, turn_urls=t.urls, secret=t.secret, ttl=t.ttl)


def create_app(settings: Settings) -> Litestar:
    subjects.token(settings.edge_id)
    sig = settings.signaling
    holder: dict[str, Signaling] = {}
    sio_server = sio.create_server(lambda: holder.get("signaling"), allowed_origins=sig.allowed_origins)
    sio_asgi = sio.asgi_app(sio_server)
    metrics = EdgeMetrics(settings.metrics, settings.edge_id)

    @asgi("/socket.io", is_mount=True, copy_scope=True)
    async def socketio_mount(scope: Scope, receive: Receive, send: Send) -> None:
        await sio_asgi(scope, receive, send)  # type: ignore[arg-type]

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            bus = Bus(settings.nats, name=f"edge-{settings.edge_id}")
            stack.push_async_callback(bus.close)                        # last: drain NATS
            outbox = EventOutbox(bus, settings.events)
            stack.push_async_callback(outbox.close)                     # publish what is queued
            keys = Keys(settings.auth, edge_id=settings.edge_id, bus=bus)
            await keys.start()
            stack.push_async_callback(keys.stop)
            conference = Conference(
                edge_id=settings.edge_id, make_room=room_factory(sfu_config(settings, metrics.first_frame.observe)),
                emit=outbox.put,
                resume_grace=sig.resume_grace, replay=sig.replay_messages, chat_max_chars=sig.chat_max_chars,
                ice_servers=ice_servers(settings))
            trimmer = HeapTrimmer(lambda: conference.departures, interval=settings.memory.trim_interval)
            trimmer.start()
            stack.push_async_callback(trimmer.stop)
            hb = Heartbeat(bus, edge_id=settings.edge_id, region=settings.region, machine=settings.machine,
                           public_url=settings.public_url, interval=settings.heartbeat.interval,
                           load=lambda: LoadSnapshot(*conference.counts()))
            stack.push_async_callback(hb.stop)                          # goodbye
            metrics.attach(conference, outbox)
            metrics.draining = lambda: hb.draining
            await metrics.metrics.start()
            stack.push_async_callback(metrics.metrics.stop)
            conference.recording_control = RecordingRequests(bus, edge_id=settings.edge_id,
                                                             timeout=settings.commands.record_timeout)
            commands = CommandEndpoint(bus, conference, edge_id=settings.edge_id, settings=settings.commands)
            stack.push_async_callback(commands.close)
            mesh = Mesh(bus, conference, edge_id=settings.edge_id, region=settings.region, settings=settings.mesh)
            stack.push_async_callback(mesh.close)                       # after the meetings closed: say so
            stack.push_async_callback(conference.close)                 # everyone leaves
            signaling = Signaling(entry=conference, verifier=keys, max_message_bytes=sig.max_message_bytes,
                                  join_timeout=sig.join_timeout, idle_timeout=sig.idle_timeout,
                                  send_queue=sig.send_queue, allowed_origins=sig.allowed_origins)
            sfu_problem = await aiortc_hooks.problem()
            if sfu_problem is not None:
                log.error("not ready: the forwarding core does not fit the installed aiortc",
                          extra={"problem": sfu_problem})
            node = Node(settings=settings, bus=bus, heartbeat=hb, keys=keys, outbox=outbox, conference=conference,
                        commands=commands, signaling=signaling, mesh=mesh, sfu_problem=sfu_problem)
            app.state.node = node
            app.state.signaling = signaling
            holder["signaling"] = signaling
            stack.push_async_callback(_drain, node)                     # first: stop taking joins
            # For a process runner that can call it before the HTTP server closes the sockets, so
            # the clients hear ``draining`` rather than only the server's close (1012).
            app.state.before_stop = lambda: _drain(node)
            drain = DrainEndpoint(bus, edge_id=settings.edge_id, drain=lambda: _drain(node))  # the admin's drain
            drain.start()
            stack.push_async_callback(drain.close)
            bus.on_connect(lambda _bus: hb.beat())  # announce at once, not one interval later
            outbox.start()
            commands.start()
            mesh.start()
            await bus.start()
            hb.start()
            yield

    return Litestar(route_handlers=[healthz, readyz, metrics_endpoint, signaling_socket, socketio_mount],
                    lifespan=[lifespan], state=State({"metrics": metrics.metrics}), openapi_config=None)


async def _drain(node: Node) -> None:
    """Stop taking joins, tell the clients, and tell the control plane (a draining heartbeat)."""
    if node.heartbeat.draining:
        return
    node.heartbeat.draining = True
    node.conference.drain()
    with contextlib.suppress(Exception):
        await node.heartbeat.beat()
    log.info("draining", extra={"meetings": len(node.conference.meetings)})


__all__ = ["Node", "create_app"]
