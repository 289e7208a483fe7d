"""Settings files: a bad file stops the process with a message naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from control_plane.settings import Settings as CPSettings
from edge.settings import Settings as EdgeSettings
from nodes.settings import SettingsError, load

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "conf.toml"
    p.write_text(text)
    return p


def test_good_file_loads_with_defaults(tmp_path: Path) -> None:
    s = load(write(tmp_path, 'edge_id = "e1"\nregion = "eu"\n[http]\nport = 9001\n'), EdgeSettings)
    assert (s.edge_id, s.region, s.http.port, s.http.host) == ("e1", "eu", 9001, "127.0.0.1")
    assert s.heartbeat.interval == 2.0


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'edge_id = "e1"\n[http]\nprot = 9001\n')
    with pytest.raises(SettingsError) as err:
        load(path, EdgeSettings)
    assert str(path) in str(err.value)
    assert "prot" in str(err.value) and "$.http" in str(err.value)


def test_wrong_type_names_field(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nport = "eighty"\n')
    with pytest.raises(SettingsError) as err:
        load(path, CPSettings)
    assert str(path) in str(err.value) and "$.http.port" in str(err.value)
    assert "int" in str(err.value)


def test_missing_required_field_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, 'region = "eu"\n')
    with pytest.raises(SettingsError) as err:
        load(path, EdgeSettings)
    assert str(path) in str(err.value) and "edge_id" in str(err.value)


def test_unsafe_edge_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as err:
        load(write(tmp_path, 'edge_id = "a.>"\n'), EdgeSettings)
    assert "$.edge_id" in str(err.value)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load(write(tmp_path, "edge_id = \n"), EdgeSettings)
    with pytest.raises(SettingsError, match="cannot read"):
        load(tmp_path / "absent.toml", EdgeSettings)


def test_overrides_are_validated_too(tmp_path: Path) -> None:
    path = write(tmp_path, 'edge_id = "e1"\n')
    assert load(path, EdgeSettings, overrides={"http.port": 7000}).http.port == 7000
    with pytest.raises(SettingsError, match=r"\$\.http\.port"):
        load(path, EdgeSettings, overrides={"http.port": "x"})


@pytest.mark.parametrize("module,text,field", [
    ("edge", 'edge_id = "e1"\ncolour = "blue"\n', "colour"),
    ("edge", 'edge_id = "e1"\n[heartbeat]\ninterval = "fast"\n', "$.heartbeat.interval"),
    ("edge", 'region = "eu"\n', "edge_id"),
    ("control_plane", '[database]\npath = 5\n', "$.database.path"),
])
def test_process_refuses_bad_config(tmp_path: Path, module: str, text: str, field: str) -> None:
    path = write(tmp_path, text)
    run = subprocess.run([sys.executable, "-m", module, "--config", str(path)], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 2
    assert str(path) in run.stderr and field in run.stderr
