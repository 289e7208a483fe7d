"""``python -m recorder``: the recorder service, or one meeting recorded by hand.

The service (``systemd/curious-connect-recorder.service``) records what the control plane asks
it to over NATS (docs/recording.md)::

    python -m recorder --config /etc/curious-connect/recorder.toml

By hand, one meeting on one edge into a folder, until it ends::

    python -m recorder --edge ws://edge.example.org:8081/ws --meeting MEETING_ID \\
        --token-file /run/curious-connect/recorder.token --out /var/lib/curious-connect/recordings/REC_ID

The token is a join token with ``hidden`` and the ``record`` grant (docs/tokens.md). Run again
with the same ``--out`` and the recording goes on in a new segment. SIGTERM or SIGINT leave the
meeting and close every file; the manifest (``manifest.json``) then lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
import uuid
from pathlib import Path

from nodes.sdnotify import Notifier, watchdog_interval

from .recording import Recording
from .session import Session


async def tell_systemd(session: Session, meeting: str) -> None:
    """READY=1 once the edge has seated the recorder, then the watchdog's pings (under systemd)."""
    notifier = Notifier.from_env()
    if not notifier.enabled:
        return
    try:
        await session.joined.wait()
        notifier.ready(f"recording meeting {meeting}")
        interval = watchdog_interval()
        while interval is not None:
            notifier.watchdog()
            await asyncio.sleep(interval)
        await asyncio.Event().wait()
    finally:
        notifier.stopping("closing the recording")
        notifier.close()


async def record(edge: str, meeting: str, token: str, out: Path, recording_id: str) -> int:
    recording = Recording(out, recording_id, meeting)
    visit = recording.visit()
    session = Session(edge, token, meeting, visit.sink)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: loop.create_task(session.stop()))
    told = loop.create_task(tell_systemd(session, meeting))
    try:
        seen = await session.run()
    finally:
        told.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await told
    recording.add_speakers(seen.speakers, time.time())
    segment = recording.finish(visit)
    print(f"recording {recording_id}: {len(segment.files)} files in {out} ({seen.ended or 'ended'})")
    return 1 if seen.ended.startswith(("refused", "connection")) and not segment.files else 0


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if any(a in ("--config", "-c") or a.startswith("--config=") for a in args_given):
        from nodes import runner

        from .app import create_app
        from .settings import Settings
        return runner.main(args_given, prog="python -m recorder", description="The recorder service.",
                           schema=Settings, create_app=create_app, service=lambda s: f"recorder-{s.recorder_id}")
    parser = argparse.ArgumentParser(prog="python -m recorder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--edge", required=True, help="the edge's signaling URL (ws:// or wss://…/ws)")
    parser.add_argument("--meeting", required=True, help="the meeting id")
    parser.add_argument("--token-file", required=True, type=Path, help="a file holding the recorder's join token")
    parser.add_argument("--out", required=True, type=Path, help="the recording's folder")
    parser.add_argument("--recording-id", default="", help="the recording's id (default: a new one)")
    args = parser.parse_args(argv)
    try:
        token = args.token_file.read_text().strip()
    except OSError as exc:
        print(f"cannot read the token: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(record(args.edge, args.meeting, token, args.out, args.recording_id or uuid.uuid4().hex[:12]))


if __name__ == "__main__":
    sys.exit(main())
