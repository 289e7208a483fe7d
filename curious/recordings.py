"""``curious recordings …``: list, show, fetch (the manifest and every file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import api
from .output import Column, emit, table, when

COLUMNS: list[Column] = [("ID", "id"), ("MEETING", "meeting_id"), ("STATE", "state"),
                         ("STARTED", lambda r: when(r.get("started_at"))),
                         ("STOPPED", lambda r: when(r.get("stopped_at"))),
                         ("SECONDS", "duration_s"), ("BYTES", "bytes"), ("FILES", lambda r: len(r.get("tracks") or []))]
TRACKS: list[Column] = [("SEGMENT", "segment"), ("PARTICIPANT", "participant_name"), ("SOURCE", "source"),
                        ("CODEC", "codec"), ("SECONDS", "duration_s"), ("BYTES", "bytes"), ("FILE", "file")]


def list_(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        return emit(args, c.get("/recordings", meeting=args.meeting, limit=args.limit), COLUMNS)


def show(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        rec = c.get(f"/recordings/{args.recording}")
    if api.wants_json(args):
        return emit(args, rec)
    table([rec], COLUMNS)
    if rec.get("tracks"):
        print()
        table(rec["tracks"], TRACKS)
    return 0


def _safe_name(name: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise api.CliError(f"the recording lists a file with an unsafe name: {name!r}", api.EXIT_OTHER)
    return name


def fetch(args: argparse.Namespace) -> int:
    folder = Path(args.out).expanduser() / args.recording
    with api.Client.from_args(args) as c:
        rec = c.get(f"/recordings/{args.recording}")
        if rec.get("state") == "recording" and not args.partial:
            raise api.CliError(f"recording {args.recording} is still being written (stop it, or --partial)",
                               api.EXIT_REFUSED)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise api.CliError(f"cannot create {folder}: {e.strerror or e}", api.EXIT_USAGE) from None
        names = ["manifest.json"] + sorted({_safe_name(t["file"]) for t in rec.get("tracks") or []})
        got: list[dict[str, Any]] = []
        for name in names:
            n = c.download(f"/recordings/{args.recording}/files/{name}", folder / name)
            got.append({"file": name, "bytes": n, "path": str(folder / name)})
            if not api.wants_json(args):
                print(f"{name}  {n} bytes", file=sys.stderr)
    return emit(args, {"recording": rec["id"], "folder": str(folder), "files": got},
                message=f"fetched {len(got)} file(s), {sum(f['bytes'] for f in got)} bytes, into {folder}")


def register(subparsers: Any) -> None:
    top = api.command(subparsers, "recordings", "recordings: list, show, fetch", _usage)
    sub = top.add_subparsers(metavar="<action>")
    p = api.command(sub, "list", "recordings of every meeting, newest first", list_)
    p.add_argument("--meeting", help="only this meeting's")
    p.add_argument("--limit", type=int, default=100)
    p = api.command(sub, "show", "one recording and its files", show)
    p.add_argument("recording", help="recording id")
    p = api.command(sub, "fetch", "download a recording's manifest and files into DIR/<id>/", fetch)
    p.add_argument("recording", help="recording id")
    p.add_argument("--out", default=".", metavar="DIR", help="where to put the recording's folder (default .)")
    p.add_argument("--partial", action="store_true", help="fetch a recording still being written")


def _usage(args: argparse.Namespace) -> int:
    raise api.CliError(f"name an action after `curious {args.command}` (`curious {args.command} --help` lists them)",
                       api.EXIT_USAGE)
