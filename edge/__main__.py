"""``python -m edge --config FILE``: run an edge."""

from __future__ import annotations

from nodes import runner

from .app import create_app
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    return runner.main(argv, prog="edge", description=__doc__, schema=Settings, create_app=create_app,
                       service=lambda s: f"edge-{s.edge_id}")


if __name__ == "__main__":
    raise SystemExit(main())
