"""The example settings in configs/ load into the real settings schemas."""

from __future__ import annotations

from pathlib import Path

from control_plane.settings import Settings as CPSettings
from edge.settings import Settings as EdgeSettings
from nodes.settings import load

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_control_plane_example_loads() -> None:
    s = load(CONFIGS / "control_plane.toml", CPSettings)
    assert s.public_url.startswith("https://") and s.edges.ttl == 6.0


def test_edge_example_loads() -> None:
    s = load(CONFIGS / "edge.toml", EdgeSettings)
    assert (s.edge_id, s.region) == ("eu-1", "eu")


def test_nats_configs_are_valid() -> None:
    import subprocess

    from tests.support.nats import nats_server_path

    for conf in sorted(CONFIGS.glob("nats-*.conf")):
        run = subprocess.run([nats_server_path(), "-c", str(conf), "-t"], capture_output=True, text=True)
        assert run.returncode == 0 and "is valid" in run.stderr + run.stdout, (conf, run.stderr)
