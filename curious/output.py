"""What the command line prints: aligned tables for people, the API's JSON for scripts (``--json``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from .api import wants_json

#: A column: its heading and either a key of the row or a function of the row.
Column = tuple[str, "str | Callable[[Mapping[str, Any]], Any]"]


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return " ".join(str(value).split())


def when(value: Any) -> str:
    """A Unix time or ISO-8601 string as ``YYYY-MM-DD HH:MM:SS`` UTC (``-`` when missing)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], out: TextIO | None = None) -> None:
    """Print *rows* as a table with a heading line; columns padded to their widest cell."""
    out = out or sys.stdout
    heads = [h for h, _ in columns]
    body = [[cell(get(row) if callable(get) else row.get(get)) for _, get in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(heads)]
    for line in [heads, *body]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), file=out)


def fields(row: Mapping[str, Any], names: Sequence[Column] | None = None, out: TextIO | None = None) -> None:
    """Print one object as ``name: value`` lines (every key, or the *names* given)."""
    out = out or sys.stdout
    pairs = ([(h, get(row) if callable(get) else row.get(get)) for h, get in names] if names is not None
             else list(row.items()))
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        print(f"{(k + ':').ljust(width + 1)} {cell(v)}", file=out)


def dump(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, sort_keys=False), file=out or sys.stdout)


def emit(args: argparse.Namespace, data: Any, columns: Sequence[Column] | None = None, *,
         message: str | None = None) -> int:
    """Print *data*: JSON with ``--json``; else a table (a list and *columns*), ``name: value`` lines
    (an object), or *message*. Returns 0, the exit code."""
    if wants_json(args):
        dump(data)
    elif message is not None:
        print(message)
    elif isinstance(data, list):
        if columns is None:
            raise TypeError("a list needs columns")
        if data:
            table(data, columns)
        else:
            print("(none)")
    elif isinstance(data, dict):
        fields(data, columns)
    elif data is not None:
        print(cell(data))
    return 0
