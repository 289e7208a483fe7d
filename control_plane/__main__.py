"""``python -m control_plane --config FILE``: run the control plane."""

from __future__ import annotations

from nodes import runner

from .app import create_app
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    return runner.main(argv, prog="control_plane", description=__doc__, schema=Settings, create_app=create_app,
                       service=lambda _s: "control-plane")


if __name__ == "__main__":
    raise SystemExit(main())
