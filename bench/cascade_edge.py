"""One edge of ``bench/cascade.py``: the real edge app (``edge.app.create_app``) under uvicorn, in
its own process, with a side channel on stdin/stdout (JSON lines) for the benchmark's counters.

``{"op": "stats", "meeting": "<id>"}`` → the meeting's forwarding counters on this edge:
``relay_bytes_sent`` / ``relay_packets_sent`` (RTP sent over relay PCs to other edges, before SRTP),
``relay_bytes_received``, ``bytes_forwarded`` / ``packets_forwarded`` (RTP sent to this edge's own
subscribers), relay and stream counts. ``{"op": "quit"}`` stops the edge. Nothing here is part
of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402

from edge.app import create_app  # noqa: E402
from edge.settings import Settings  # noqa: E402
from nodes.settings import convert  # noqa: E402


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # noqa: ANN201 - stdin drives this process
        yield


def stats(app: Any, meeting_id: str) -> dict[str, Any]:
    node = app.state.node
    mt = node.conference.meetings.get(meeting_id)
    out: dict[str, Any] = {"t": time.monotonic(), "meeting": mt is not None}
    if mt is None or mt.room is None:
        return out
    s = mt.room.stats()
    x = s.extra
    out.update(peers=s.peers, tracks=s.tracks, forwarded_streams=s.forwarded_streams,
               bytes_forwarded=s.bytes_forwarded, packets_forwarded=s.packets_forwarded,
               relay_bytes_sent=x.get("relay_bytes_sent", 0), relay_packets_sent=x.get("relay_packets_sent", 0),
               relay_bytes_received=x.get("relay_bytes_received", 0), relays_out=x.get("relays_out", 0),
               relays_in=x.get("relays_in", 0), relayed_streams_out=x.get("relayed_streams_out", 0),
               remote_participants=len(mt.remote))
    return out


async def run(args: argparse.Namespace) -> None:
    settings = convert({"edge_id": args.edge_id, "region": args.region, "nats": {"servers": [args.nats]},
                        "auth": {"jwks_file": args.jwks}, "http": {"port": args.port},
                        "log": {"level": "WARNING", "format": "json"}}, Settings)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = create_app(settings)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, lifespan="on", log_config=None,
                                    log_level="warning", access_log=False))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the edge did not start")
        await asyncio.sleep(0.05)
    await app.state.node.bus.wait_connected(10)
    print(json.dumps({"ready": True}), flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        cmd = json.loads(line)
        if cmd["op"] == "stats":
            print(json.dumps(stats(app, cmd["meeting"])), flush=True)
        elif cmd["op"] == "quit":
            break
    server.should_exit = True
    await asyncio.wait_for(task, 30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edge-id", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--port", type=int, required=True)
    import uvloop

    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
