"""``curious meetings …``: list, show, end."""

from __future__ import annotations

import argparse
from typing import Any

from . import api
from .output import Column, emit, fields, table, when

COLUMNS: list[Column] = [("ID", "id"), ("TITLE", "title"), ("STATE", "state"),
                         ("STARTED", lambda m: when(m.get("started_at"))),
                         ("OWNER", lambda m: (m.get("owner") or {}).get("username")),
                         ("RECORDING", lambda m: m.get("recording_since") is not None),
                         ("LOCKED", "locked")]
PARTICIPANTS: list[Column] = [("PARTICIPANT", "participant_id"), ("NAME", "display_name"), ("ROLE", "role"),
                              ("EDGE", "edge_id"), ("LOBBY", "lobby"), ("JOINED", lambda p: when(p.get("joined_at")))]


def list_(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        return emit(args, c.get("/meetings", scope=args.scope), COLUMNS)


def show(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        meeting = c.get(f"/meetings/{args.meeting}")
        roster: Any = c.get(f"/meetings/{args.meeting}/participants") if meeting.get("can_manage") else None
    if api.wants_json(args):
        return emit(args, {**meeting, "roster": roster})
    fields(meeting, [("id", "id"), ("title", "title"), ("state", "state"),
                     ("started", lambda m: when(m.get("started_at"))), ("ended", lambda m: when(m.get("ended_at"))),
                     ("owner", lambda m: (m.get("owner") or {}).get("username")),
                     ("co-hosts", lambda m: [h["username"] for h in m.get("cohosts") or []]),
                     ("lobby", "lobby"), ("guests", "allow_guests"), ("locked", "locked"),
                     ("max participants", "max_participants"), ("end-to-end encrypted", "e2ee"),
                     ("recording since", lambda m: when(m.get("recording_since"))), ("url", "url")])
    people = _people(roster)
    if people:
        print()
        table(people, PARTICIPANTS)
    return 0


def _people(roster: Any) -> list[dict[str, Any]]:
    if isinstance(roster, list):
        return roster
    if isinstance(roster, dict) and isinstance(roster.get("participants"), list):
        return list(roster["participants"])
    return []


def end(args: argparse.Namespace) -> int:
    body = {"reason": args.reason} if args.reason else None
    with api.Client.from_args(args) as c:
        result = c.post(f"/meetings/{args.meeting}/end", body)
    edge = f" on {result['edge_id']}" if result.get("edge_id") else " (nobody was connected)"
    return emit(args, result, message=f"ended meeting {args.meeting}{edge}")


def register(subparsers: Any) -> None:
    top = api.command(subparsers, "meetings", "meetings: list, show, end", _usage)
    sub = top.add_subparsers(metavar="<action>")
    p = api.command(sub, "list", "list meetings (default: every live meeting)", list_)
    p.add_argument("--scope", choices=("live", "mine", "upcoming"), default="live",
                   help="live (every live meeting, for an admin), or the ones you own or co-host")
    p = api.command(sub, "show", "one meeting and who is in it", show)
    p.add_argument("meeting", help="meeting id")
    p = api.command(sub, "end", "end a meeting for everyone", end)
    p.add_argument("meeting", help="meeting id")
    p.add_argument("--reason", default="", help="told to the participants")


def _usage(args: argparse.Namespace) -> int:
    raise api.CliError(f"name an action after `curious {args.command}` (`curious {args.command} --help` lists them)",
                       api.EXIT_USAGE)
