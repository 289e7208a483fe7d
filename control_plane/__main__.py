"""``python -m control_plane --config FILE``: run the control plane."""

from __future__ import annotations

import argparse

from nodes import runner, settings as settings_mod

from .app import create_app
from .settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="control_plane", description=__doc__)
    parser.add_argument("--config", "-c", required=True, help="TOML settings file")
    args = parser.parse_args(argv)
    try:
        settings = settings_mod.load(args.config, Settings)
    except settings_mod.SettingsError as exc:
        runner.fail(str(exc))
    return runner.serve(create_app(settings), service="control-plane", http=settings.http, logging_=settings.log)


if __name__ == "__main__":
    raise SystemExit(main())
