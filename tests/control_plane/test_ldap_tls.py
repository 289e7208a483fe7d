"""LDAP sign-in over TLS against a real slapd serving a certificate from a CA the test makes.

The directory's certificate is verified (chain and name) before any bind: with the wrong CA or a
certificate for another host, sign-in answers 503 naming the reason and slapd never sees a BIND.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from control_plane.settings import Settings
from nodes.settings import SettingsError, convert
from tests.control_plane.conftest import ldap_settings, login, seed_directory
from tests.support.ldap import PEOPLE, Slapd, slapd_available
from tests.support.records import Records
from tests.support.tls import Ca
from tests.support.util import require


@pytest.fixture
def ca(tmp_path: Path) -> Ca:
    return Ca(tmp_path / "ca")


@pytest.fixture
def tls_slapd(tmp_path: Path, ca: Ca) -> Iterator[Callable[..., Slapd]]:
    """``tls_slapd(hosts=...)``: a slapd offering StartTLS and ldaps:// with a certificate for *hosts*."""
    require(slapd_available(), "slapd and ldap-utils (apt-get install slapd ldap-utils)")
    started: list[Slapd] = []

    def start(hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Slapd:
        workdir = tmp_path / f"ldap-{len(started)}"
        workdir.mkdir()
        server = Slapd(workdir, seed_directory(), tls=ca.issue(f"slapd-{len(started)}", hosts)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _over(server: Slapd, how: str, ca_file: Path, **extra: object) -> dict[str, object]:
    if how == "ldaps":
        return ldap_settings(server, url=server.ldaps_url, ca_file=str(ca_file), **extra)
    return ldap_settings(server, start_tls=True, ca_file=str(ca_file), **extra)


@pytest.mark.parametrize("how", ["ldaps", "start_tls"])
async def test_sign_in_over_tls_with_the_directorys_ca(control_plane, tls_slapd, ca: Ca, how: str) -> None:
    server = tls_slapd()
    async with control_plane(ldap=_over(server, how, ca.cert_file)) as cp:
        r = await login(cp.browser(), "alice", "alice-pw-1")
        assert r.status_code == 200, r.text
        assert r.json()["account"]["role"] == "admin"
    log = server.log_text()
    assert "TLS established" in log
    binds = [line for line in log.splitlines() if " BIND dn=" in line and "mech=SIMPLE" in line]
    assert binds and all("ssf=0" not in line.split("bind_ssf=0")[-1] for line in binds), binds
    assert ("STARTTLS" in log) == (how == "start_tls")


@pytest.mark.parametrize("how", ["ldaps", "start_tls"])
async def test_a_directory_signed_by_another_ca_gets_no_password(control_plane, tls_slapd, tmp_path: Path,
                                                                 how: str) -> None:
    server = tls_slapd()
    stranger = Ca(tmp_path / "other-ca", name="Some Other CA")
    with Records("control_plane.auth.ldap") as records:
        async with control_plane(ldap=_over(server, how, stranger.cert_file)) as cp:
            r = await login(cp.browser(), "alice", "alice-pw-1")
    assert r.status_code == 503
    url = server.ldaps_url if how == "ldaps" else server.url
    assert r.json()["detail"].startswith(f"the directory at {url} could not be verified: its certificate was"
                                         " refused (unable to get local issuer certificate)"), r.json()
    assert r.json()["detail"].endswith("no password was sent")
    refusals = [rec for rec in records if rec.getMessage() == "ldap certificate not verified"]
    assert refusals and refusals[0].levelno == logging.WARNING and refusals[0].url == url
    assert "unable to get local issuer certificate" in refusals[0].error
    assert not [rec for rec in records if rec.levelno >= logging.ERROR]
    log = server.log_text()
    assert "ACCEPT from IP=127.0.0.1" in log  # the client did reach the directory …
    assert ("STARTTLS" in log) == (how == "start_tls")
    assert " BIND " not in log  # … and sent no bind, so neither password travelled


@pytest.mark.parametrize("how", ["ldaps", "start_tls"])
async def test_a_certificate_for_another_host_is_refused(control_plane, tls_slapd, ca: Ca, how: str) -> None:
    server = tls_slapd(hosts=("directory.example.org",))
    async with control_plane(ldap=_over(server, how, ca.cert_file)) as cp:
        r = await login(cp.browser(), "alice", "alice-pw-1")
    assert r.status_code == 503
    assert "could not be verified" in r.json()["detail"]
    assert "IP address mismatch, certificate is not valid for '127.0.0.1'" in r.json()["detail"]
    assert " BIND " not in server.log_text()


def _ldap(**fields: object) -> Settings:
    base = {"url": "ldap://127.0.0.1:389", "user_base": PEOPLE}
    return convert({"ldap": {**base, **fields}}, Settings, source="cp.toml")


def test_passwords_are_not_sent_in_the_clear_to_another_host() -> None:
    with pytest.raises(SettingsError) as caught:
        _ldap(url="ldap://dc1.example.org:389")
    assert str(caught.value) == ("cp.toml: ldap://dc1.example.org:389 would carry passwords unencrypted;"
                                 " use ldaps:// or start_tls = true (or set allow_plaintext = true)"
                                 " - at `$.ldap.url`")
    # Encrypted, explicitly allowed, or on this machine: accepted.
    assert _ldap(url="ldap://dc1.example.org:389", start_tls=True).ldap.start_tls
    assert _ldap(url="ldaps://dc1.example.org").ldap is not None
    assert _ldap(url="ldap://dc1.example.org", allow_plaintext=True).ldap.allow_plaintext
    for local in ("ldap://127.0.0.1:1389", "ldap://localhost", "ldap://[::1]:389"):
        assert _ldap(url=local).ldap.url == local


def test_tls_settings_that_cannot_work_are_refused_at_load(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"an ldaps:// URL is encrypted from the start; StartTLS is for"
                                            r" ldap:// - at `\$.ldap.start_tls`"):
        _ldap(url="ldaps://dc1.example.org", start_tls=True)
    with pytest.raises(SettingsError, match=r"'http://dc1' is not an ldap:// or ldaps:// URL - at `\$.ldap.url`"):
        _ldap(url="http://dc1")
    missing = tmp_path / "nope.pem"
    with pytest.raises(SettingsError,
                       match=f"cannot read {missing}: No such file or directory - at `\\$.ldap.ca_file`"):
        _ldap(url="ldaps://dc1.example.org", ca_file=str(missing))
    with pytest.raises(SettingsError, match=r"holds no usable CA certificate .* - at `\$.ldap.ca_file`"):
        _ldap(url="ldaps://dc1.example.org", ca_file=__file__)
