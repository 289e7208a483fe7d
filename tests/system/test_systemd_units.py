"""Every systemd unit passes ``systemd-analyze verify`` and scores an exposure of at most 3.0."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.util import require

UNITS = sorted((Path(__file__).resolve().parents[2] / "systemd").glob("*.service"))
INSTALL_BIN = "/opt/curious-connect/venv/bin/"


def test_units_exist() -> None:
    assert {u.name for u in UNITS} >= {"control-plane.service", "edge@.service", "nats-server.service"}


@pytest.fixture
def analyze() -> str:
    path = shutil.which("systemd-analyze")
    require(path is not None, "systemd-analyze (apt-get install systemd)")
    return path


def installed_copy(unit: Path, tmp_path: Path) -> Path:
    """The unit as installed: its ExecStart points into this venv instead of /opt."""
    text = unit.read_text().replace(INSTALL_BIN, str(Path(sys.executable).parent) + "/")
    name = unit.name.replace("@.service", "@test.service")
    out = tmp_path / name
    out.write_text(text)
    return out


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_verify(unit: Path, tmp_path: Path, analyze: str) -> None:
    run = subprocess.run([analyze, "verify", "--man=no", str(installed_copy(unit, tmp_path))],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stderr.strip() == "", run.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_security_exposure_at_most_3(unit: Path, tmp_path: Path, analyze: str) -> None:
    run = subprocess.run([analyze, "security", "--offline=true", "--threshold=30",
                          str(installed_copy(unit, tmp_path))], capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, run.stdout + run.stderr
    exposure = float(match.group(1))
    assert exposure <= 3.0, f"{unit.name}: exposure {exposure}\n{run.stdout}"
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_our_processes_are_notify_with_watchdog(unit: Path) -> None:
    text = unit.read_text()
    assert "DynamicUser=yes" in text and "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text
    if "python -m" in text:
        assert "Type=notify" in text and re.search(r"^WatchdogSec=\d+", text, re.M)
