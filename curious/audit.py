"""``curious audit``: the audit log (admin and moderator actions), newest first."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from . import api
from .output import Column, cell, emit, when


def _actor(e: Mapping[str, Any]) -> str:
    return str(e.get("actor_username") or e.get("actor_id") or "-")


def _target(e: Mapping[str, Any]) -> str:
    return f"{e['target_kind']}:{e['target_id']}" if e.get("target_kind") else "-"


def _details(e: Mapping[str, Any]) -> str:
    d = e.get("details") or {}
    return " ".join(f"{k}={cell(v)}" for k, v in sorted(d.items())) or "-"


COLUMNS: list[Column] = [("AT", lambda e: when(e.get("at"))), ("ACTOR", _actor), ("AS", "actor_kind"),
                         ("ACTION", "action"), ("TARGET", _target), ("MEETING", lambda e: e.get("meeting_id") or None),
                         ("DETAILS", _details), ("ID", "id")]


def run(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        entries = c.get("/audit", limit=args.limit, before=args.before, actor=args.actor, action=args.action,
                        meeting=args.meeting)
    return emit(args, entries, COLUMNS)


def register(subparsers: Any) -> None:
    p = api.command(subparsers, "audit", "the audit log: who did what, when, on whom (newest first)", run)
    p.add_argument("--limit", type=int, default=50, help="at most this many entries (default 50)")
    p.add_argument("--before", metavar="ID", help="entries older than this one (the next page)")
    p.add_argument("--actor", help="an account's user name or id")
    p.add_argument("--action", help="an action (account.role) or its noun (account)")
    p.add_argument("--meeting", help="a meeting id")
