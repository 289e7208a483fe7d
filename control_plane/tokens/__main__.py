"""``python -m control_plane.tokens rotate --config FILE``: add a new join-token signing key.

The new key signs from then on (running control planes notice the directory changed); older keys
stay in the JWKS until their files are removed, so tokens already handed out keep verifying.
"""

from __future__ import annotations

import argparse
import sys

from nodes import settings as settings_mod

from ..settings import Settings
from .keys import KeyStore, rotate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="control_plane.tokens", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["rotate", "list"])
    parser.add_argument("--config", "-c", required=True, help="control plane TOML settings file")
    args = parser.parse_args(argv)
    try:
        settings = settings_mod.load(args.config, Settings)
    except settings_mod.SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.action == "rotate":
        print(rotate(settings.keys.dir))
    else:
        for key in reversed(KeyStore(settings.keys.dir).keys()):
            print(key.kid, key.path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
