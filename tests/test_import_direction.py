"""Import direction: edge ↛ control_plane, control_plane ↛ edge, nodes ↛ either, edge.sfu ↛ web/NATS."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).parent / "lint-imports")


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_contracts_hold() -> None:
    run = lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout
    for name in ("edge and control_plane never import each other", "forwarding core imports nothing",
                 "the meeting rules import no socket code",
                 "the meeting rules and the mesh reach the forwarding core only through its",
                 "the recorder is a client"):
        assert name in run.stdout


def test_a_violation_is_caught(tmp_path: Path) -> None:
    """The check can fail: a copy of the tree where the SFU imports NATS and the edge the control plane."""
    for pkg in ("nodes", "edge", "control_plane"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "edge" / "sfu" / "leak.py").write_text("import nats\n")
    (tmp_path / "edge" / "leak2.py").write_text("from control_plane import settings\n")
    (tmp_path / "edge" / "conference" / "leak3.py").write_text("from edge.signaling import session\n")
    (tmp_path / "edge" / "mesh" / "leak4.py").write_text("from edge.sfu.room import Room\n")
    run = lint(tmp_path)
    assert run.returncode != 0
    assert "edge.sfu.leak -> nats" in run.stdout
    assert "edge.leak2 -> control_plane.settings" in run.stdout
    assert "edge.conference.leak3 -> edge.signaling.session" in run.stdout
    assert "edge.mesh.leak4 -> edge.sfu.room" in run.stdout
