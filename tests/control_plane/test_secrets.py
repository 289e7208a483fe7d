"""The LDAP service password and an OIDC client secret from a file or the environment, used for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.control_plane.conftest import ldap_settings, login, oidc_settings
from tests.control_plane.test_oidc import sign_in
from tests.support.ldap import ROOT_PW


async def test_ldap_service_password_from_a_file_or_a_variable(control_plane, slapd, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ldap-pw").write_text(ROOT_PW + "\n")
    monkeypatch.setenv("CC_LDAP_PW", ROOT_PW)
    for source in ({"bind_password_file": str(tmp_path / "ldap-pw")}, {"bind_password_env": "CC_LDAP_PW"}):
        async with control_plane(ldap=ldap_settings(slapd, bind_password="", **source)) as cp:
            r = await login(cp.browser(), "alice", "alice-pw-1")
            assert r.status_code == 200, r.text
        assert cp.services.extra["ldap"].settings.bind_password == ROOT_PW  # read from there, not inline


async def test_oidc_client_secret_from_a_variable_or_a_file(control_plane, oidc_provider, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_OIDC_SECRET", oidc_provider.client_secret)
    (tmp_path / "oidc-secret").write_text(oidc_provider.client_secret + "\n")
    for source in ({"client_secret_env": "CC_OIDC_SECRET"}, {"client_secret_file": str(tmp_path / "oidc-secret")}):
        async with control_plane(oidc=[oidc_settings(oidc_provider, client_secret="", **source)]) as cp:
            back = await sign_in(cp.browser(), "alice")
            assert back.status_code == 302 and back.headers["location"] == "/", back.text
    monkeypatch.setenv("CC_OIDC_SECRET", "wrong-secret")  # the provider refuses the code exchange
    async with control_plane(oidc=[oidc_settings(oidc_provider, client_secret="",
                                                 client_secret_env="CC_OIDC_SECRET")]) as cp:
        back = await sign_in(cp.browser(), "alice")
        assert back.status_code == 401 and back.json()["detail"] == "Test IdP refused the sign-in code (invalid_client)"


def test_an_oidc_issuer_is_reached_over_https_only() -> None:
    from control_plane.settings import Settings
    from nodes.settings import SettingsError, convert

    def provider(issuer: str) -> Settings:
        return convert({"oidc": [{"id": "a", "name": "A", "issuer": issuer, "client_id": "c"}]}, Settings,
                       source="cp.toml")

    with pytest.raises(SettingsError) as caught:
        provider("http://sso.example.org/realms/x")
    assert str(caught.value) == ("cp.toml: 'http://sso.example.org/realms/x' must be an https:// URL (http:// only"
                                 " on this machine's loopback): the client secret and users' tokens travel to it"
                                 " - at `$.oidc[0].issuer`")
    assert provider("https://sso.example.org/realms/x").oidc[0].issuer.startswith("https://")
    assert provider("http://127.0.0.1:9000").oidc
