"""``curious keys …``: list, rotate (join-token signing keys)."""

from __future__ import annotations

import argparse
from typing import Any

from . import api
from .output import Column, emit, when

COLUMNS: list[Column] = [("KID", "kid"), ("ALG", "alg"), ("CREATED", lambda k: when(k.get("created_at"))),
                         ("CURRENT", "current"), ("FILE", "file")]


def list_(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        return emit(args, c.get("/keys"), COLUMNS)


def rotate(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        keys = c.post("/keys/rotate")
    if api.wants_json(args):
        return emit(args, keys)
    print(f"new signing key {keys[0]['kid']}; {len(keys) - 1} older key(s) stay published")
    return emit(args, keys, COLUMNS)


def register(subparsers: Any) -> None:
    top = api.command(subparsers, "keys", "join-token signing keys: list, rotate", _usage)
    sub = top.add_subparsers(metavar="<action>")
    api.command(sub, "list", "the signing keys, newest (signing) first", list_)
    api.command(sub, "rotate", "add a new signing key; older keys keep verifying the tokens they signed", rotate)


def _usage(args: argparse.Namespace) -> int:
    raise api.CliError(f"name an action after `curious {args.command}` (`curious {args.command} --help` lists them)",
                       api.EXIT_USAGE)
