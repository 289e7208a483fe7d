"""The appliance install (``./dev install`` → scripts/install.py) into a temporary root: settings
from the examples that never overwrite an edited file, the systemd units pointing into the prefix,
nothing enabled unless asked; and (long) a real virtual environment that runs the product."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/srv/cc"


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "install.py"), "--root", str(root),
                           "--prefix", PREFIX, *args], capture_output=True, text=True, timeout=600)


def enabled(root: Path) -> list[Path]:
    return sorted((root / "etc" / "systemd" / "system").glob("*.wants/*"))


def test_settings_units_and_nothing_enabled(tmp_path: Path) -> None:
    run = install(tmp_path, "--skip-venv")
    assert run.returncode == 0, run.stderr + run.stdout
    etc = tmp_path / "etc" / "curious-connect"
    for name in ("control_plane.toml", "edge.toml", "edge-machine.toml", "recorder.toml", "nats.conf",
                 "nats-hub.conf", "nats-leaf-eu.conf", "turnserver.conf"):
        assert (etc / name).is_file(), name
    assert (etc / "nats.conf").read_text() == (ROOT / "configs" / "nats-hub.conf").read_text()
    units = tmp_path / "etc" / "systemd" / "system"
    assert {u.name for u in units.glob("*.service")} == {u.name for u in (ROOT / "systemd").glob("*.service")}
    cp_unit = (units / "control-plane.service").read_text()
    assert f"ExecStart={PREFIX}/venv/bin/python -m control_plane --config /etc/curious-connect/control_plane.toml" \
        in cp_unit
    assert all("/opt/curious-connect" not in u.read_text() for u in units.glob("*.service"))
    assert f"ExecStart={PREFIX}/venv/bin/nats-server" in (units / "nats-server.service").read_text()
    assert (tmp_path / PREFIX.lstrip("/") / "README.md").is_file()
    assert (tmp_path / PREFIX.lstrip("/") / "docs" / "recording.md").is_file()
    assert enabled(tmp_path) == [] and "nothing enabled" in run.stdout
    assert "not creating the system user 'curious-connect'" in run.stdout and "useradd --system" in run.stdout

    # An edited file is kept (the new example beside it); one left as installed is updated.
    edited = (etc / "control_plane.toml").read_text() + "\n# edited by the operator\n"
    (etc / "control_plane.toml").write_text(edited)
    shipped = tmp_path / PREFIX.lstrip("/") / "share" / "examples" / "edge.toml"
    old_example = "# the example of an earlier version\n"
    shipped.write_text(old_example)
    (etc / "edge.toml").write_text(old_example)
    again = install(tmp_path, "--skip-venv")
    assert again.returncode == 0, again.stderr + again.stdout
    assert (etc / "control_plane.toml").read_text() == edited
    assert (etc / "control_plane.toml.new").read_text() == (ROOT / "configs" / "control_plane.toml").read_text()
    assert "kept" in again.stdout and "control_plane.toml.new" in again.stdout
    assert (etc / "edge.toml").read_text() == (ROOT / "configs" / "edge.toml").read_text()
    assert not (etc / "edge.toml.new").exists() and not (etc / "recorder.toml.new").exists()
    assert enabled(tmp_path) == []


def test_enable_only_what_is_asked(tmp_path: Path) -> None:
    if shutil.which("systemctl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemctl missing (apt-get install systemd)")
        pytest.skip("systemctl missing (apt-get install systemd)")
    run = install(tmp_path, "--skip-venv", "--enable", "control-plane", "--enable", "edge@eu-1")
    assert run.returncode == 0, run.stderr + run.stdout
    assert [p.name for p in enabled(tmp_path)] == ["control-plane.service", "edge@eu-1.service"]
    bad = install(tmp_path, "--skip-venv", "--enable", "sshd")
    assert bad.returncode == 2 and "no unit 'sshd'" in bad.stderr
    assert install(tmp_path, "--prefix", "relative/path", "--skip-venv").returncode == 2


@pytest.mark.long
def test_the_prefix_venv_runs_the_product(tmp_path: Path) -> None:
    run = install(tmp_path)
    assert run.returncode == 0, run.stderr + run.stdout
    venv = tmp_path / PREFIX.lstrip("/") / "venv" / "bin"
    for module in ("control_plane", "edge", "recorder"):
        check = subprocess.run([str(venv / "python"), "-m", module, "--help"], capture_output=True, text=True,
                               timeout=60, cwd=tmp_path)
        assert check.returncode == 0, module + check.stderr
    # Its scripts name the venv's path on the target, not under the temporary root.
    assert (venv / "curious").read_text().splitlines()[0] == f"#!{PREFIX}/venv/bin/python"
    assert subprocess.run([str(venv / "python"), str(venv / "curious"), "--help"], capture_output=True,
                          timeout=60).returncode == 0
    assert subprocess.run([str(venv / "nats-server"), "--version"], capture_output=True, timeout=60).returncode == 0
    # The product's own dependencies only: no test tools.
    assert not (venv / "pytest").exists()
    assert not (ROOT / "build").exists()
