"""``curious <command> …``: one sub-command module per noun (``curious/<noun>.py`` or a package),
each with ``register(subparsers)`` adding its parser and setting ``func`` — a function of the
parsed arguments returning the process's exit code."""

from __future__ import annotations

import argparse
import importlib
import sys

from curious import api

#: The sub-command modules, in the order ``curious --help`` lists them.
COMMANDS: tuple[str, ...] = ("login", "accounts", "meetings", "edges", "keys", "recordings", "audit", "load")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="curious", description="Curious Connect's operator command line.",
                                parents=[api.connection_options()])
    sub = p.add_subparsers(dest="command", metavar="<command>")
    for name in COMMANDS:
        importlib.import_module(f"curious.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        p.print_help(sys.stderr)
        return 2
    try:
        code: int = func(args)
    except api.CliError as e:  # one clear line on stderr and the error's exit code
        return api.report(e)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
