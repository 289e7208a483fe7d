"""``curious accounts …``: list, show, create, disable, enable, role, reset-password."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from . import api
from .output import Column, emit, when

ROLES = ("admin", "host", "member", "guest")
COLUMNS: list[Column] = [("ID", "id"), ("USERNAME", "username"), ("NAME", "display_name"), ("ROLE", "role"),
                         ("SOURCE", "source"), ("DISABLED", "disabled"),
                         ("LAST SIGN-IN", lambda a: when(a.get("last_login_at")))]
_ID = re.compile(r"^[0-9a-f]{32}$")


def resolve(client: api.Client, who: str) -> dict[str, Any]:
    """The account named *who*: an account id, or a user name (matched exactly)."""
    if _ID.match(who):
        found: dict[str, Any] = client.get(f"/accounts/{who}")
        return found
    for account in client.get("/accounts", q=who, limit=500):
        if account["username"] == who:
            return dict(account)
    raise api.CliError(f"no account named {who!r}", api.EXIT_NOT_FOUND)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file:
        try:
            with open(args.password_file) as f:
                return f.read().strip() or None
        except OSError as e:
            raise api.CliError(f"cannot read password file {args.password_file}: {e.strerror or e}",
                               api.EXIT_USAGE) from None
    if args.password_stdin:
        return sys.stdin.readline().strip() or None
    return None


def _with_password(args: argparse.Namespace, body: dict[str, Any], done: str) -> int:
    account, generated = body["account"], body.get("password")
    message = f"{done} {account['username']} ({account['id']}, {account['role']})"
    if generated:
        message += f"\npassword (shown once): {generated}"
    return emit(args, body, message=message)


def list_(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        return emit(args, c.get("/accounts", q=args.query or None, limit=args.limit), COLUMNS)


def show(args: argparse.Namespace) -> int:
    with api.Client.from_args(args) as c:
        return emit(args, resolve(c, args.account))


def create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"username": args.username, "role": args.role}
    if (pw := _password(args)) is not None:
        body["password"] = pw
    if args.display_name:
        body["display_name"] = args.display_name
    if args.email:
        body["email"] = args.email
    with api.Client.from_args(args) as c:
        return _with_password(args, c.post("/accounts", body), "created")


def _update(args: argparse.Namespace, change: dict[str, Any], done: str) -> int:
    with api.Client.from_args(args) as c:
        account = c.patch(f"/accounts/{resolve(c, args.account)['id']}", change)
    return emit(args, account, message=f"{done} {account['username']} ({account['id']}): role {account['role']}, "
                                        f"{'disabled' if account['disabled'] else 'enabled'}")


def disable(args: argparse.Namespace) -> int:
    return _update(args, {"disabled": True}, "disabled")


def enable(args: argparse.Namespace) -> int:
    return _update(args, {"disabled": False}, "enabled")


def role(args: argparse.Namespace) -> int:
    return _update(args, {"role": args.role}, "changed")


def reset_password(args: argparse.Namespace) -> int:
    pw = _password(args)
    with api.Client.from_args(args) as c:
        account_id = resolve(c, args.account)["id"]
        body = c.post(f"/accounts/{account_id}/password", {"password": pw} if pw else {})
    return _with_password(args, body, "password reset for")


def _password_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password-file", metavar="FILE", help="the new password, from FILE")
    g.add_argument("--password-stdin", action="store_true", help="the new password, one line on stdin")


def register(subparsers: Any) -> None:
    top = api.command(subparsers, "accounts", "accounts: list, show, create, disable, enable, role, reset-password",
                      _usage)
    sub = top.add_subparsers(metavar="<action>")
    p = api.command(sub, "list", "list accounts", list_)
    p.add_argument("query", nargs="?", help="only names containing this")
    p.add_argument("--limit", type=int, default=500, help="at most this many (default 500)")
    p = api.command(sub, "show", "one account", show)
    p.add_argument("account", help="user name or account id")
    p = api.command(sub, "create", "create a local account (a password is generated unless given)", create)
    p.add_argument("username")
    p.add_argument("--role", choices=ROLES, default="member", help="default member")
    p.add_argument("--display-name")
    p.add_argument("--email")
    _password_options(p)
    for name, func, what in (("disable", disable, "disable an account (its sessions end)"),
                             ("enable", enable, "enable a disabled account")):
        p = api.command(sub, name, what, func)
        p.add_argument("account", help="user name or account id")
    p = api.command(sub, "role", "set an account's role", role)
    p.add_argument("account", help="user name or account id")
    p.add_argument("role", choices=ROLES)
    p = api.command(sub, "reset-password", "set a new password (generated unless given); its sessions end",
                    reset_password)
    p.add_argument("account", help="user name or account id")
    _password_options(p)


def _usage(args: argparse.Namespace) -> int:
    raise api.CliError(f"name an action after `curious {args.command}` (`curious {args.command} --help` lists them)",
                       api.EXIT_USAGE)
