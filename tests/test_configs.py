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


def test_edge_machine_example_loads_and_makes_valid_workers() -> None:
    import tomllib

    import msgspec

    from edge.workers import MachineSettings, worker_settings

    machine = msgspec.convert(tomllib.loads((CONFIGS / "edge-machine.toml").read_text()), MachineSettings)
    second = worker_settings(machine, 2)
    assert (second["edge_id"], second["machine"], second["http"]["port"]) == ("eu-1-w2", "eu-1", 8082)
    assert second["public_url"] == "wss://eu-1.meet.example.org:8082/ws"
    assert second["nats"]["user"] == "edge-eu-1-w2" and second["nats"]["inbox_prefix"] == "_INBOX.eu-1-w2"
    assert second["nats"]["password_file"] == "/etc/curious-connect/nats/edge-eu-1-w2.password"


def test_recorder_example_loads() -> None:
    from recorder.settings import Settings as RecorderSettings

    s = load(CONFIGS / "recorder.toml", RecorderSettings)
    cp = load(CONFIGS / "control_plane.toml", CPSettings)
    assert s.recorder_id == "rec-1" and s.dir == cp.recordings.dir  # the control plane serves what it writes


def test_nats_configs_are_valid(tmp_path: Path) -> None:
    """Each config parses, its TLS blocks included: the certificates they name are made by a test CA."""
    import re
    import subprocess

    from tests.support.nats import nats_server_path
    from tests.support.tls import Ca

    ca = Ca(tmp_path / "tls")
    for conf in sorted(CONFIGS.glob("nats-*.conf")):
        text = conf.read_text()
        names = set(re.findall(r'"/etc/curious-connect/tls/([^"/]+)\.(?:crt|key)"', text))
        assert names and "/etc/curious-connect/tls/ca.pem" in text, f"{conf.name}: no TLS blocks"
        for name in names:
            ca.issue(name, (f"{name}.example.org",))
        (tmp_path / "tls" / "ca.pem").write_bytes(ca.cert_file.read_bytes())
        copy = tmp_path / conf.name
        copy.write_text(text.replace("/etc/curious-connect/tls/", f"{tmp_path / 'tls'}/"))
        run = subprocess.run([nats_server_path(), "-c", str(copy), "-t"], capture_output=True, text=True)
        assert run.returncode == 0 and "is valid" in run.stderr + run.stdout, (conf, run.stderr)


def test_example_nats_permissions_match_the_tested_ones() -> None:
    """The permissions shipped in configs/ are the ones tests/system/test_nats_security.py proves."""
    import re

    from nodes.subjects import recorder_permissions as recorder_subjects
    from tests.support.topology import CONTROL_PLANE_PERMISSIONS, edge_permissions, recorder_permissions

    def lists(text: str) -> list[list[str]]:
        return [re.findall(r'"([^"]+)"', m) for m in re.findall(r"\[([^\]]*)\]", text)]

    leaf = (CONFIGS / "nats-leaf-eu.conf").read_text()
    block = leaf[leaf.index('user: "edge-eu-1"'):leaf.index('user: "edge-eu-2"')]
    assert lists(block) == lists(edge_permissions("eu-1"))
    hub = (CONFIGS / "nats-hub.conf").read_text()
    block = hub[hub.index('user: "control-plane"'):hub.index("leafnodes {")]
    assert lists(block)[:2] == lists(CONTROL_PLANE_PERMISSIONS)[:2]
    block = hub[hub.index('user: "recorder-rec-1"'):hub.index("leafnodes {")]
    assert lists(block)[:2] == lists(recorder_permissions("rec-1"))[:2]
    assert (["cc.cp.rec.rec-1.>"], ["cc.rec.start", "cc.rec.rec-1.>", "_INBOX.rec-1.>"]) == \
        recorder_subjects("rec-1")  # what nodes.subjects says a recorder may do
    for region in ("eu", "us", "ap"):
        text = (CONFIGS / f"nats-leaf-{region}.conf").read_text()
        assert f"domain: {region}" in text and 'deny_exports: ["cc.evt.>"]' in text


def test_edge_sfu_settings_reach_the_forwarding_core(tmp_path) -> None:
    from edge.app import sfu_config

    conf = tmp_path / "edge.toml"
    conf.write_text('edge_id = "e"\n[sfu]\nspeaker_threshold = 40\nspeaker_interval = 0.5\nsubscriber_queue = 64\n'
                    'adaptation = false\nice_servers = [{urls = "stun:stun.example.org:3478"}]\n')
    cfg = sfu_config(load(conf, EdgeSettings))
    assert (cfg.speaker_threshold, cfg.speaker_interval, cfg.subscriber_queue) == (40, 0.5, 64)
    assert cfg.adaptation is False
    assert cfg.ice_servers == ({"urls": "stun:stun.example.org:3478"},)
    conf.write_text('edge_id = "e"\n[sfu]\nspeaker_threshold = 200\n')
    import pytest

    from nodes.settings import SettingsError
    with pytest.raises(SettingsError, match=r"\$\.sfu\.speaker_threshold"):
        load(conf, EdgeSettings)


def test_edge_example_turn_section_loads_when_uncommented(tmp_path) -> None:
    """The commented [turn] lines of configs/edge.toml are valid settings once a secret file exists."""
    secret = tmp_path / "turn-secret"
    secret.write_text("s3cret\n")
    text = (CONFIGS / "edge.toml").read_text()
    block = text[text.index("\n[turn]\n"):text.index("\n[mesh]\n")]
    lines = [line[2:] if line.startswith(("# urls", "#     ", "# secret_file")) else line for line in block.splitlines()]
    conf = tmp_path / "edge.toml"
    conf.write_text('edge_id = "e"\n' + "\n".join(lines).replace("/run/credentials/edge@eu-1.service/turn-secret",
                                                                 str(secret)) + "\n")
    turn = load(conf, EdgeSettings).turn
    assert turn.secret == "s3cret" and turn.ttl == 21600
    assert [u.split(":")[0] for u in turn.urls] == ["turn", "turn", "turns"] and turn.urls[2].endswith(":443?transport=tcp")
