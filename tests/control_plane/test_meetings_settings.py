"""Settings for meetings, join tokens and placement: the commented example loads; bad values are refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from control_plane.placement.regions import RegionMap
from control_plane.settings import Settings
from nodes.settings import SettingsError, convert

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "control_plane.toml"


def test_the_commented_example_loads_when_uncommented() -> None:
    text = EXAMPLE.read_text()
    block = text[text.index("# >>> meetings, join tokens and placement"):text.index("# <<< meetings")]
    lines = [line[2:] for line in block.splitlines()[2:] if line.startswith("# ")]
    s = convert(tomllib.loads("\n".join(lines)), Settings, source=EXAMPLE)
    assert s.tokens.ttl_minutes == 10.0 and s.meetings.empty_timeout == 300.0
    assert s.placement.regions == {"10.1.0.0/16": "eu", "10.2.0.0/16": "us"}
    assert s.events.region_domains == ["eu", "us", "ap"]


def test_a_region_map_entry_that_is_not_a_network_is_refused() -> None:
    with pytest.raises(SettingsError) as err:
        convert({"placement": {"regions": {"10.0.0.0/8": "eu", "ten-dot-one": "us"}}}, Settings, source="cp.toml")
    assert "cp.toml: placement.regions: 'ten-dot-one' is not a network (CIDR)" in str(err.value)
    with pytest.raises(SettingsError) as err:
        convert({"meetings": {"empty_timeoutt": 1}}, Settings, source="cp.toml")
    assert "empty_timeoutt" in str(err.value)


def test_region_lookup_prefers_the_most_specific_network() -> None:
    regions = RegionMap({"10.0.0.0/8": "us", "10.1.0.0/16": "eu", "2001:db8::/32": "ap"}, default="local")
    assert regions.region_for(None, "10.1.2.3") == "eu"
    assert regions.region_for(None, "10.200.0.1") == "us"
    assert regions.region_for(None, "2001:db8::1") == "ap"
    assert regions.region_for(None, "192.0.2.1") == "local"
    assert regions.region_for(None, "testclient") == "local"  # not an address
    assert regions.region_for("eu-2", "10.200.0.1") == "eu-2"  # named in the request
