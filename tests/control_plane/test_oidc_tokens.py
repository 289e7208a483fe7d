"""id_token verification: every forged or misdirected token is refused with its reason.

The tokens here are signed with keys made in the test — one published in the JWKS, one not — so
each check (signature, alg, iss, aud, azp, exp, iat, nonce) is exercised on its own.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from control_plane.auth.oidc import IdTokenError, UnknownKey, account_from_claims, verify_id_token
from control_plane.settings import OidcProviderSettings

ISSUER = "https://idp.example.org"
CLIENT = "curious-connect"
NONCE = "nonce-123"


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    published = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(published.public_key())), "kid": "k1", "alg": "RS256",
           "use": "sig"}
    ec_jwk = {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "e1", "use": "sig"}
    return {"published": published, "stranger": stranger, "ec": ec_key, "jwks": [jwk, ec_jwk]}


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "user-1", "iat": now, "exp": now + 300, "nonce": NONCE}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any, payload: dict[str, Any], kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def verify(token: str, keys: dict[str, Any], **over: Any) -> dict[str, Any]:
    args = {"keys": keys["jwks"], "issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE, **over}
    return verify_id_token(token, **args)


def test_a_valid_token_is_accepted(keys) -> None:
    assert verify(sign(keys["published"], claims()), keys)["sub"] == "user-1"
    assert verify(sign(keys["ec"], claims(), kid="e1", alg="ES256"), keys)["sub"] == "user-1"


def test_a_key_not_in_the_jwks_is_refused(keys) -> None:
    forged = sign(keys["stranger"], claims())  # claims to be "k1", signed with another key
    with pytest.raises(IdTokenError, match="Signature verification failed"):
        verify(forged, keys)
    with pytest.raises(UnknownKey, match="kid 'k9'"):
        verify(sign(keys["stranger"], claims(), kid="k9"), keys)


def test_alg_none_is_refused(keys) -> None:
    def b64(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    unsigned = f"{b64({'alg': 'none', 'kid': 'k1'})}.{b64(claims())}."
    with pytest.raises(IdTokenError, match="alg 'none', which is not accepted"):
        verify(unsigned, keys)


def test_hmac_with_the_public_key_as_secret_is_refused(keys) -> None:
    pem = keys["published"].public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    token = _hs256(pem, claims())  # the classic confusion: the RSA public key used as an HMAC secret
    with pytest.raises(IdTokenError, match="alg 'HS256', which is not accepted"):
        verify(token, keys)


def _hs256(secret: bytes, payload: dict[str, Any]) -> str:
    import hashlib
    import hmac

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def test_an_alg_the_provider_does_not_use_is_refused(keys) -> None:
    token = sign(keys["ec"], claims(), kid="e1", alg="ES256")
    with pytest.raises(IdTokenError, match="alg 'ES256', which is not accepted"):
        verify(token, keys, algorithms=["RS256"])
    # A key published for RS256 does not verify a PS256 token made with it.
    with pytest.raises(UnknownKey):
        verify(sign(keys["published"], claims(), alg="PS256"), keys)


@pytest.mark.parametrize(("over", "reason"), [
    ({"aud": "another-client"}, "Audience doesn't match"),
    ({"iss": "https://evil.example"}, "Invalid issuer"),
    ({"exp": int(time.time()) - 3600}, "Signature has expired"),
    ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}, "not yet valid"),
    ({"nonce": "another-nonce"}, "the nonce does not match"),
    ({"nonce": None}, "the nonce does not match"),
    ({"exp": None}, 'missing the "exp" claim'),
    ({"sub": None}, 'missing the "sub" claim'),
    ({"aud": [CLIENT, "another-client"]}, "issued to another client"),
    ({"aud": [CLIENT, "another-client"], "azp": "another-client"}, "issued to another client"),
    ({"sub": ""}, "sub must be a non-empty string"),
])
def test_claims_are_checked(keys, over: dict[str, Any], reason: str) -> None:
    with pytest.raises(IdTokenError, match=reason):
        verify(sign(keys["published"], claims(**over)), keys)


def test_several_audiences_with_our_azp_are_accepted(keys) -> None:
    token = sign(keys["published"], claims(aud=[CLIENT, "api"], azp=CLIENT))
    assert verify(token, keys)["azp"] == CLIENT


def test_garbage_is_refused(keys) -> None:
    for junk in ("", "not.a.jwt", "a.b", "eyJhbGciOiJSUzI1NiJ9.e30"):
        with pytest.raises(IdTokenError):
            verify(junk, keys)


def provider(**over: Any) -> OidcProviderSettings:
    return OidcProviderSettings(**{"id": "kc", "name": "Keycloak", "issuer": ISSUER, "client_id": CLIENT,
                                   "role_map": {"/Admins": "admin", "hosts": "host"}, **over})


def test_claims_map_to_an_account() -> None:
    acc = account_from_claims(provider(), {"sub": "s1", "email": "ann@example.org", "name": "Ann Example",
                                           "preferred_username": "ann", "groups": ["/admins", "hosts"]})
    assert (acc.external_id, acc.username, acc.display_name, acc.email, acc.role) == \
        ("kc:s1", "ann", "Ann Example", "ann@example.org", "admin")
    # No preferred_username: the e-mail; neither: provider and subject. Odd characters are replaced.
    assert account_from_claims(provider(), {"sub": "s2", "email": "bo@example.org"}).username == "bo@example.org"
    assert account_from_claims(provider(), {"sub": "s 3"}).username == "kc-s-3"
    assert account_from_claims(provider(), {"sub": "s4", "preferred_username": "eve\n<script>"}).username == "eve-script"
    # A single group as a string, a groups claim named differently (Azure AD app roles).
    assert account_from_claims(provider(), {"sub": "s5", "groups": "hosts"}).role == "host"
    azure = provider(groups_claim="roles", role_map={"Meeting.Admin": "admin"})
    assert account_from_claims(azure, {"sub": "s6", "roles": ["Meeting.Admin"]}).role == "admin"


def test_domain_rules_need_a_verified_address() -> None:
    from litestar.exceptions import PermissionDeniedException

    limited = provider(allowed_domains=["example.org"])
    assert account_from_claims(limited, {"sub": "s", "email": "a@EXAMPLE.org"}).email == "a@EXAMPLE.org"
    for refused in ({"sub": "s", "email": "a@example.org.evil"}, {"sub": "s"},
                    {"sub": "s", "email": "a@example.org", "email_verified": False}):
        with pytest.raises(PermissionDeniedException):
            account_from_claims(limited, refused)


def test_sign_in_examples_in_the_config_load_when_uncommented(tmp_path) -> None:
    """configs/control_plane.toml's commented LDAP and OIDC examples are valid settings."""
    from pathlib import Path

    from control_plane.auth.ldap import LdapAuthenticator
    from control_plane.auth.oidc import OidcClient
    from control_plane.settings import Settings
    from nodes.settings import load

    text = (Path(__file__).resolve().parents[2] / "configs" / "control_plane.toml").read_text()
    block = text.split("# >>> sign-in examples", 1)[1].split("# <<< sign-in examples", 1)[0]
    lines = [line[2:] for line in block.splitlines()[1:] if line.startswith("# ")]
    path = tmp_path / "cp.toml"
    path.write_text(text + "\n" + "\n".join(lines) + "\n")
    s = load(path, Settings)
    assert s.ldap is not None and s.ldap.role_map["cn=teachers,ou=groups,dc=example,dc=org"] == "host"
    assert [p.id for p in s.oidc] == ["keycloak", "google", "azure"]
    LdapAuthenticator(s.ldap, None)  # type: ignore[arg-type] - roles are checked at construction
    for p in s.oidc:
        OidcClient(p, None)  # type: ignore[arg-type]
