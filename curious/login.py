"""``curious login``: sign in with a name and password and keep the bearer token in a file (mode 0600)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from . import api
from .output import emit


def run(args: argparse.Namespace) -> int:
    username: str = args.username
    if args.password_file:
        try:
            password = open(args.password_file).read().strip()  # noqa: SIM115 - read once
        except OSError as e:
            raise api.CliError(f"cannot read password file {args.password_file}: {e.strerror or e}",
                               api.EXIT_USAGE) from None
    elif os.environ.get("CURIOUS_PASSWORD"):
        password = os.environ["CURIOUS_PASSWORD"]
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {username}: ")
    else:
        password = sys.stdin.readline().strip()
    if not password:
        raise api.CliError("no password given", api.EXIT_USAGE)
    with api.Client.from_args(args, token=False) as client:
        body = client.post("/auth/token", {"username": username, "password": password})
    path = api.token_file(args)
    api.write_token(path, str(body["token"]))
    account = body.get("account") or {}
    return emit(args, {"token_file": str(path), "account": account, "expires_at": body.get("expires_at")},
                message=f"signed in as {account.get('username', username)} ({account.get('role', '?')}); "
                        f"token written to {path}")


def register(subparsers: Any) -> None:
    p = api.command(subparsers, "login", "sign in and keep a bearer token in the token file (mode 0600)", run)
    p.add_argument("--username", "-u", default=os.environ.get("CURIOUS_USERNAME", "admin"),
                   help="the account's name (default: $CURIOUS_USERNAME or admin)")
    p.add_argument("--password-file", metavar="FILE",
                   help="read the password from FILE (else $CURIOUS_PASSWORD, a prompt, or one line on stdin)")
