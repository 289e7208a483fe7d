"""``curious load``: simulated participants against a running stack, through the real API, the
edges' signaling and aiortc media; a live progress line, then a JSON report and a PNG plot
(``docs/operations.md``, Load tester).

Exit status: 0 when every participant joined and stayed to the end, 1 when any failed; when the run
cannot start, ``curious.api``'s codes (2 bad arguments, 3 unreachable control plane, 4 a token
refused)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import api
from .options import Options


def register(sub: Any) -> None:
    p = api.command(sub, "load", "simulated participants against a running stack: join latency, first frame, "
                                 "frames per second, failures and the edges' CPU (JSON report and PNG plot)", main)
    p.add_argument("--meeting", default="", help="the meeting to join (default: create one allowing guests; "
                                                 "needs an admin or host token)")
    p.add_argument("-n", "--participants", type=int, default=4, help="how many participants (default 4)")
    p.add_argument("--publishers", type=int, default=1,
                   help="how many of them publish video (the first ones; default 1); all receive")
    p.add_argument("--ramp", type=float, default=None,
                   help="seconds over which participants are added, evenly (default 5, at most half the duration; "
                        "0: all at once)")
    p.add_argument("--duration", type=float, default=30.0,
                   help="seconds from the start until everyone leaves, ramp included (default 30)")
    p.add_argument("--grace", type=float, default=5.0,
                   help="seconds allowed for leaving after the duration (default 5); the process ends then")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                   help="an edge host the run may connect to besides the control plane's own (repeatable)")
    p.add_argument("--video", default="320x240", help="published video size WIDTHxHEIGHT (default 320x240, "
                                                      "at most 1920x1080)")
    p.add_argument("--fps", type=int, default=30, help="published frames per second (default 30)")
    p.add_argument("--audio", action="store_true", help="publishers send audio (Opus) too")
    p.add_argument("--signed-in", action="store_true",
                   help="join as the token's account instead of as guests")
    p.add_argument("--name", default="load", help="participants' display names: NAME-001, NAME-002, …")
    p.add_argument("--out", type=Path, default=Path("curious-load.json"), help="the JSON report (default "
                                                                                 "curious-load.json)")
    p.add_argument("--plot", type=Path, help="the PNG plot (default: the report's name with .png)")


def _token(args: argparse.Namespace) -> str:
    """The API token when one is given (creates the meeting, reads the edges' CPU); "" when none is."""
    try:
        return api.read_token(args)
    except api.CliError as e:
        if e.code == api.EXIT_AUTH:  # none anywhere: guests need none
            return ""
        raise


def options(args: argparse.Namespace) -> Options:
    """The run's options from the arguments; ValueError with one line for the operator."""
    url = api.base_url(args)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"--url must be the control plane's http(s)://host[:port] URL, not {url!r}")
    size = re.fullmatch(r"(\d{2,4})x(\d{2,4})", args.video)
    if not size or not (16 <= int(size[1]) <= 1920 and 16 <= int(size[2]) <= 1080) or int(size[1]) % 2 \
            or int(size[2]) % 2:
        raise ValueError(f"--video must be WIDTHxHEIGHT (even, 16x16 … 1920x1080), not {args.video!r}")
    if not 1 <= args.participants <= 1000:
        raise ValueError("--participants must be 1 … 1000")
    if not 0 <= args.publishers <= args.participants:
        raise ValueError("--publishers must be 0 … --participants")
    if not 1 <= args.fps <= 60:
        raise ValueError("--fps must be 1 … 60")
    if args.ramp is None:
        args.ramp = min(5.0, args.duration / 2)
    if not (0 <= args.ramp < args.duration and 0 < args.duration <= 86400 and 0 < args.grace <= 60):
        raise ValueError("--duration must be over 0 (at most a day), --ramp 0 or more and below it, --grace 0 … 60")
    if not re.fullmatch(r"[A-Za-z0-9 _.-]{1,80}", args.name):
        raise ValueError("--name: letters, digits, space, _ . - (at most 80)")
    token = _token(args)
    if args.signed_in and not token:
        raise ValueError("--signed-in needs a token (--token-file, $CURIOUS_TOKEN_FILE, $CURIOUS_TOKEN or "
                         "`curious login`)")
    hosts = {parts.hostname.lower()} | {h.strip().lower().strip("[]") for h in args.allow_host if h.strip()}
    return Options(control_plane=url, meeting=args.meeting, participants=args.participants,
                   publishers=args.publishers, ramp=args.ramp, duration=args.duration, grace=args.grace,
                   allow_hosts=frozenset(hosts), size=(int(size[1]), int(size[2])), fps=args.fps, audio=args.audio,
                   token=token, signed_in=args.signed_in, name_prefix=args.name)


def main(args: argparse.Namespace) -> int:
    try:
        opts = options(args)
    except ValueError as exc:
        raise api.CliError(f"load: {exc}", api.EXIT_USAGE) from None
    # The process ends at its duration whatever happens: a watchdog past the duration and grace.
    limit = opts.duration + opts.grace + 15
    watchdog = threading.Timer(limit, _overrun, (limit,))
    watchdog.daemon = True
    watchdog.start()
    from .runner import Progress, Unusable, run  # aiortc and the rest, only for a run

    try:
        result = asyncio.run(run(opts, Progress()))
    except Unusable as exc:
        raise api.CliError(f"load: {exc}", exc.code) from None
    finally:
        watchdog.cancel()
    plot_path = args.plot or args.out.with_suffix(".png")
    try:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        from . import report

        report.plot(result, plot_path)
    except OSError as exc:
        raise api.CliError(f"load: cannot write the report: {exc}", api.EXIT_OTHER) from None
    if api.wants_json(args):
        print(json.dumps(result, indent=2))
    line = [f"{result['joined']}/{result['participants']} joined, {result['failed']} failed"]
    if result["joined"]:
        line.append(f"join p50 {result['join_ms']['p50']} ms p99 {result['join_ms']['p99']} ms")
    if result["first_frame_ms"]["p50"] is not None:
        line.append(f"first frame p50 {result['first_frame_ms']['p50']} ms p99 {result['first_frame_ms']['p99']} ms")
    if result["fps_received"]["median"] is not None:
        line.append(f"received fps median {result['fps_received']['median']} min {result['fps_received']['min']}")
    cpu = ", ".join(f"{k} {v['mean_pct']}% (max {v['max_pct']}%)" for k, v in result["edges_cpu"].items()
                    if "mean_pct" in v)
    if cpu:
        line.append(f"edges' CPU {cpu}")
    line.append(f"report {args.out}, plot {plot_path}")
    print("curious load: " + "; ".join(line), file=sys.stderr)
    for failure in result["failures"][:5]:
        print(f"curious load: {failure['participant']}: {failure['reason']}", file=sys.stderr)
    return 1 if result["failed"] else 0


def _overrun(limit: float) -> None:
    print(f"curious load: still running {limit:g} s after the start: stopping now", file=sys.stderr, flush=True)
    os._exit(1)
