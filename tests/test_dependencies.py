"""pyproject.toml caps every dependency, and requirements.lock (what ./dev and CI install) satisfies it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def locked() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = Version(version.strip())
    return out


def test_every_dependency_has_an_upper_bound() -> None:
    uncapped = [str(r) for r in requirements()
                if not any(s.operator in ("<", "==", "~=") for s in r.specifier)]
    assert uncapped == []


def test_the_aiortc_hooks_dependencies_are_pinned() -> None:
    pins = {canonicalize_name(r.name): r for r in requirements()}
    for name in ("aioice", "pylibsrtp"):
        assert [s.operator for s in pins[name].specifier] == ["=="], f"{name} must be pinned exactly"


def test_the_lock_satisfies_pyproject() -> None:
    lock = locked()
    problems = []
    for r in requirements():
        version = lock.get(canonicalize_name(r.name))
        if version is None:
            problems.append(f"{r.name} is not in requirements.lock")
        elif not r.specifier.contains(version, prereleases=True):
            problems.append(f"{r.name}=={version} in requirements.lock does not satisfy {r}")
    assert problems == [], "run ./dev lock: " + "; ".join(problems)
