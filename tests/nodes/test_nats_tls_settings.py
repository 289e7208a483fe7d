"""NATS connection settings that would send credentials in the clear, or cannot work, stop at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.settings import Settings as EdgeSettings
from nodes.settings import NatsSettings, SettingsError, convert
from tests.support.tls import Ca


def _nats(**fields: object) -> NatsSettings:
    return convert({"edge_id": "e1", "nats": fields}, EdgeSettings, source="edge.toml").nats


def test_a_password_is_not_sent_unencrypted_to_another_host() -> None:
    with pytest.raises(SettingsError) as caught:
        _nats(servers=["nats://hub.example.org:4222"], user="edge-eu-1", password="pw")
    assert str(caught.value) == ("edge.toml: nats://hub.example.org:4222 would carry the password unencrypted;"
                                 " use tls:// (or set allow_plaintext = true) - at `$.nats.servers`")
    # TLS, an explicit choice, loopback, or no password at all: accepted.
    assert _nats(servers=["tls://hub.example.org:4222"], user="u", password="pw").uses_tls
    assert _nats(servers=["nats://hub.example.org:4222"], user="u", password="pw", allow_plaintext=True)
    assert not _nats(servers=["nats://127.0.0.1:4222", "nats://localhost:4223"], user="u", password="pw").uses_tls
    assert _nats(servers=["nats://hub.example.org:4222"], nkey_seed="SUxxxx")  # an nkey seed never travels


def test_tls_settings_that_cannot_work_are_refused(tmp_path: Path) -> None:
    ca = Ca(tmp_path / "ca")
    with pytest.raises(SettingsError, match=r"either all tls:// or all nats:// .* - at `\$.nats.servers`"):
        _nats(servers=["tls://a.example.org:4222", "nats://b.example.org:4222"])
    with pytest.raises(SettingsError, match=r"TLS settings need tls:// server URLs - at `\$.nats.tls`"):
        _nats(servers=["nats://127.0.0.1:4222"], tls={"ca_file": str(ca.cert_file)})
    with pytest.raises(SettingsError, match=r"'http://hub:80' is not a nats:// or tls:// URL - at `\$.nats.servers`"):
        _nats(servers=["http://hub:80"])
    with pytest.raises(SettingsError, match=r"cert_file and key_file go together - at `\$.nats.tls.key_file`"):
        _nats(servers=["tls://hub:4222"], tls={"cert_file": __file__})
    with pytest.raises(SettingsError, match=r"holds no usable CA certificate .* - at `\$.nats.tls.ca_file`"):
        _nats(servers=["tls://hub:4222"], tls={"ca_file": __file__})
    one, other = ca.issue("one"), ca.issue("other")
    assert _nats(servers=["tls://hub:4222"], tls={"cert_file": str(one.cert), "key_file": str(one.key)}).uses_tls
    with pytest.raises(SettingsError, match=r"are not a certificate and its key .* - at `\$.nats.tls.cert_file`"):
        _nats(servers=["tls://hub:4222"], tls={"cert_file": str(one.cert), "key_file": str(other.key)})
    missing = tmp_path / "ca.pem"
    with pytest.raises(SettingsError) as caught:
        _nats(servers=["tls://hub:4222"], tls={"ca_file": str(missing)})
    assert str(caught.value) == f"edge.toml: cannot read {missing}: No such file or directory - at `$.nats.tls.ca_file`"
