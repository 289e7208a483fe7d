"""Every refusal of ``nodes.claims.verify_join_token`` that docs/tokens.md lists, beyond those in
test_tokens.py: tokens not valid yet, for another audience, and each kind of malformed token."""

from __future__ import annotations

import time
from typing import Any

import jwt
import msgspec
import pytest

from control_plane.tokens.service import TokenService
from nodes.claims import TokenError, verify_join_token
from tests.control_plane.test_tokens import issue, keys_of, make_service


def refusal(token: str, service: TokenService, **kw: Any) -> TokenError:
    with pytest.raises(TokenError) as err:
        verify_join_token(token, keys_of(service), **kw)
    return err.value


def signed(service: TokenService, payload: dict[str, Any]) -> str:
    """*payload* signed with the service's own key: only the claims are wrong."""
    key = service.keys.current
    return jwt.encode(payload, key.private, algorithm="EdDSA", headers={"kid": key.kid, "typ": "JWT"})


def claims_of(service: TokenService) -> dict[str, Any]:
    return msgspec.to_builtins(issue(service).claims)


def test_a_token_not_valid_yet_is_refused(tmp_path) -> None:
    service = make_service(tmp_path)
    later = issue(service, now=time.time() + 3600).token  # nbf an hour from now
    err = refusal(later, service)
    assert (err.code, str(err)) == ("not_yet_valid", "token is not valid yet")
    # The same with the caller's clock, and the 5 s leeway for clocks slightly apart.
    now = time.time()
    assert refusal(issue(service, now=now + 60).token, service, now=now).code == "not_yet_valid"
    assert verify_join_token(issue(service, now=now + 3).token, keys_of(service), now=now).sub == "acc-1"
    assert verify_join_token(issue(service, now=time.time() + 3).token, keys_of(service)).sub == "acc-1"


def test_expiry_by_the_callers_clock(tmp_path) -> None:
    service = make_service(tmp_path, ttl_minutes=1)
    token = issue(service).token
    now = time.time()
    assert refusal(token, service, now=now + 60 + 6).code == "expired"
    assert verify_join_token(token, keys_of(service), now=now + 60 + 4).sub == "acc-1"  # within the leeway


def test_a_token_for_another_audience_is_refused(tmp_path) -> None:
    service = make_service(tmp_path)
    for aud in ("cc-control-plane", ["something-else"]):
        err = refusal(signed(service, {**claims_of(service), "aud": aud}), service)
        assert (err.code, str(err)) == ("wrong_audience", "token is not for edges")


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "sub", "aud", "iss"])
def test_a_token_missing_a_required_claim_is_malformed(tmp_path, claim: str) -> None:
    service = make_service(tmp_path)
    payload = claims_of(service)
    del payload[claim]
    err = refusal(signed(service, payload), service)
    assert err.code == "malformed" and claim in str(err)


def test_malformed_tokens_are_refused_saying_why(tmp_path) -> None:
    service = make_service(tmp_path)
    good = issue(service).token
    cases = {
        "not-a-jwt": "not a JWT",
        good + ".extra": "not a JWT",
        "a" * 9000 + ".b.c": "not a JWT",  # over 8 KiB
        "!!!.e30.sig": "unreadable token header",
        jwt.api_jws.encode(b"not json", service.keys.current.private, algorithm="EdDSA",
                           headers={"kid": service.keys.current.kid}): "unreadable token: Invalid payload string",
        signed(service, {**claims_of(service), "perms": "everything"}): "bad claims: Expected `object`, got `str`",
        signed(service, {**claims_of(service), "ep": "3"}): "bad claims: Expected `int`, got `str`",
        signed(service, {**claims_of(service), "role": "emperor"}): "unknown role 'emperor'",
    }
    for token, reason in cases.items():
        err = refusal(token, service)
        assert err.code == "malformed", (token[:40], err.code, str(err))
        assert str(err).startswith(reason), (token[:40], str(err))
