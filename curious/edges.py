"""``curious edges …``: list, drain."""

from __future__ import annotations

import argparse
from typing import Any

from . import api
from .output import Column, emit

COLUMNS: list[Column] = [("EDGE", "edge_id"), ("REGION", "region"), ("URL", "public_url"), ("MEETINGS", "meetings"),
                         ("PARTICIPANTS", "participants"), ("STREAMS", "streams"),
                         ("CPU%", lambda e: round(float(e.get("cpu_pct") or 0), 1)), ("DRAINING", "draining"),
                         ("VERSION", "version"), ("SEEN", lambda e: f"{float(e.get('age') or 0):.1f}s ago")]


def list_(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        return emit(args, c.get("/edges"), COLUMNS)


def drain(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        result = c.post(f"/edges/{args.edge}/drain", {"reason": args.reason} if args.reason else None)
    return emit(args, result, message=f"edge {args.edge} is draining: it takes no new joins or meetings")


def register(subparsers: Any) -> None:
    top = api.command(subparsers, "edges", "edges: list, drain", _usage)
    sub = top.add_subparsers(metavar="<action>")
    api.command(sub, "list", "the live edges and their load", list_)
    p = api.command(sub, "drain", "drain an edge: it keeps its meetings but takes no new joins", drain)
    p.add_argument("edge", help="edge id")
    p.add_argument("--reason", default="", help="kept in the audit log")


def _usage(args: argparse.Namespace) -> int:
    raise api.CliError(f"name an action after `curious {args.command}` (`curious {args.command} --help` lists them)",
                       api.EXIT_USAGE)
