"""Join tokens: signing keys, the JWKS (HTTP and NATS), permissions, and every way a token is refused."""

from __future__ import annotations

import base64
import json
import os
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from control_plane.tokens.keys import KeyStore, SigningKeyError, load_keys, rotate, thumbprint
from control_plane.tokens.permissions import PermissionCeilingError, derive, ensure_within
from control_plane.tokens.service import TokenService
from nodes import subjects, wire
from nodes.claims import JoinClaims, KeySet, Permissions, TokenError, verify_join_token
from tests.control_plane.meetings_support import nats_client, nats_overrides, wait_ready
from tests.support.util import eventually_sync


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_service(tmp_path, ttl_minutes: float = 10.0) -> TokenService:
    return TokenService(KeyStore(tmp_path / "keys"), issuer="https://meet.example.org", ttl_minutes=ttl_minutes)


def issue(service: TokenService, **over):  # noqa: ANN201
    fields = dict(account_role="member", sub="acc-1", name="Maria", meeting_id="m1", edge_id="edge-a",
                  role="member", perms=derive(account_role="member", meeting_role="member", publish_policy="everyone"))
    fields.update(over)
    return service.issue(**fields)


def keys_of(service: TokenService) -> KeySet:
    return KeySet.from_jwks(service.keys.jwks())


# -- keys --------------------------------------------------------------------------------------------

def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 8037 appendix A.1–A.3: this Ed25519 key's JWK thumbprint.
    raw = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    assert thumbprint(Ed25519PublicKey.from_public_bytes(raw)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_first_key_is_generated_private_and_listed(tmp_path) -> None:
    store = KeyStore(tmp_path / "keys")
    files = list((tmp_path / "keys").glob("*.pem"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    jwks = store.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [store.current.kid]
    entry = jwks["keys"][0]
    assert entry["kty"] == "OKP" and entry["crv"] == "Ed25519" and entry["alg"] == "EdDSA" and "d" not in entry
    assert KeyStore(tmp_path / "keys").current.kid == store.current.kid  # loaded again, not regenerated


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    (tmp_path / "keys").mkdir()
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "keys" / "key-1.pem").write_bytes(pem)
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        load_keys(tmp_path / "keys")
    (tmp_path / "keys" / "key-1.pem").write_text("garbage")
    with pytest.raises(SigningKeyError, match="key-1.pem: not an unencrypted PEM private key"):
        load_keys(tmp_path / "keys")


def test_rotation_signs_with_the_new_key_and_old_tokens_still_verify(tmp_path) -> None:
    service = make_service(tmp_path)
    old = issue(service)
    old_kid = service.keys.current.kid
    new_kid = rotate(tmp_path / "keys")  # as the CLI does it, beside the running store
    assert new_kid != old_kid
    # Picked up without a restart, within a second (the directory is not read at every signature).
    eventually_sync(lambda: service.keys.current.kid == new_kid, timeout=3, what="new key signs")
    new = issue(service)
    assert jwt.get_unverified_header(new.token)["kid"] == new_kid
    assert jwt.get_unverified_header(old.token)["kid"] == old_kid
    keys = keys_of(service)
    assert keys.kids() == sorted([old_kid, new_kid])
    assert verify_join_token(old.token, keys).jti == old.claims.jti
    assert verify_join_token(new.token, keys).jti == new.claims.jti
    # Retiring the old key (removing its file) ends its tokens.
    next(p for p in (tmp_path / "keys").glob("*.pem") if _kid_of(p) == old_kid).unlink()
    with pytest.raises(TokenError) as err:
        verify_join_token(old.token, keys_of(service))
    assert err.value.code == "unknown_key"


def _kid_of(path) -> str:  # noqa: ANN001
    return thumbprint(serialization.load_pem_private_key(path.read_bytes(), None).public_key())


# -- claims and permissions ------------------------------------------------------------------------

def test_token_carries_every_claim(tmp_path) -> None:
    service = make_service(tmp_path, ttl_minutes=2)
    issued = issue(service, alt=["edge-b"], epoch=3, lobby=True)
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "EdDSA" and header["kid"] == service.keys.current.kid
    claims = verify_join_token(issued.token, keys_of(service), edge_id="edge-b")  # alt edges accept it
    assert claims.iss == "https://meet.example.org" and claims.aud == "cc-edge"
    assert claims.sub == "acc-1" and claims.name == "Maria" and claims.mid == "m1" and claims.eid == "edge-a"
    assert claims.alt == ["edge-b"] and claims.ep == 3 and claims.lobby is True and claims.role == "member"
    assert claims.exp - claims.iat == 120 and claims.nbf == claims.iat
    assert claims.perms.granted() == {"publish_audio", "publish_video", "publish_screen", "subscribe", "chat"}
    assert issue(service).claims.jti != issued.claims.jti


def test_permissions_follow_meeting_role_policy_and_account_role() -> None:
    def grants(account_role: str, meeting_role: str, policy: str = "everyone") -> set[str]:
        return derive(account_role=account_role, meeting_role=meeting_role, publish_policy=policy).granted()

    everything = {"publish_audio", "publish_video", "publish_screen", "subscribe", "chat", "moderate", "record"}
    assert grants("host", "host") == everything
    assert grants("member", "host") == everything - {"record"}  # a member co-host: no recording
    assert grants("member", "moderator") == everything - {"record"}
    assert grants("member", "member") == {"publish_audio", "publish_video", "publish_screen", "subscribe", "chat"}
    assert grants("member", "member", "hosts") == {"subscribe", "chat"}
    assert grants("host", "moderator", "hosts") == everything - {"record"}
    assert grants("guest", "guest") == {"publish_audio", "publish_video", "subscribe", "chat"}
    assert grants("guest", "guest", "hosts") == {"subscribe", "chat"}
    assert grants("guest", "host") == {"publish_audio", "publish_video", "subscribe", "chat"}  # never moderate


def test_a_grant_beyond_the_account_role_is_never_signed(tmp_path) -> None:
    service = make_service(tmp_path)
    too_much = Permissions(subscribe=True, moderate=True, publish_screen=True)
    with pytest.raises(PermissionCeilingError, match="role 'guest' may not be granted moderate, publish_screen"):
        issue(service, account_role="guest", sub="guest:x", role="guest", perms=too_much)
    with pytest.raises(PermissionCeilingError, match="may not be granted record"):
        ensure_within(Permissions(record=True), "member")
    with pytest.raises(PermissionCeilingError, match="unknown account role"):
        ensure_within(Permissions(), "superuser")


# -- refusals (what an edge does with nodes.claims.verify_join_token) -------------------------------

def test_token_for_another_meeting_names_that_meeting(tmp_path) -> None:
    service = make_service(tmp_path)
    token_b = issue(service, meeting_id="meeting-b").token
    claims = verify_join_token(token_b, keys_of(service), edge_id="edge-a")
    assert claims.mid == "meeting-b"  # the edge admits it to meeting-b only, never to meeting-a
    assert claims.mid != "meeting-a"


def test_token_for_another_edge_is_refused(tmp_path) -> None:
    service = make_service(tmp_path)
    with pytest.raises(TokenError) as err:
        verify_join_token(issue(service, alt=["edge-b"]).token, keys_of(service), edge_id="edge-c")
    assert err.value.code == "wrong_edge" and "another edge" in str(err.value)


def test_expired_token_is_refused(tmp_path) -> None:
    service = make_service(tmp_path, ttl_minutes=1)
    old = issue(service, now=time.time() - 3600).token
    with pytest.raises(TokenError) as err:
        verify_join_token(old, keys_of(service))
    assert err.value.code == "expired" and str(err.value) == "token has expired"


def test_token_signed_with_another_key_is_refused(tmp_path) -> None:
    ours, theirs = make_service(tmp_path / "a"), make_service(tmp_path / "b")
    forged = issue(theirs).token
    with pytest.raises(TokenError) as err:
        verify_join_token(forged, keys_of(ours))
    assert err.value.code == "unknown_key"
    # Same kid as ours, but signed by the other key: the signature does not verify.
    claims = verify_join_token(issue(ours).token, keys_of(ours))
    theirs_key = theirs.keys.current.private
    same_kid = jwt.encode(json.loads(json.dumps(_builtins(claims))), theirs_key, algorithm="EdDSA",
                          headers={"kid": ours.keys.current.kid})
    with pytest.raises(TokenError) as err:
        verify_join_token(same_kid, keys_of(ours))
    assert err.value.code == "bad_signature"


def _builtins(claims: JoinClaims) -> dict:
    import msgspec

    return msgspec.to_builtins(claims)


def test_alg_none_is_refused(tmp_path) -> None:
    service = make_service(tmp_path)
    claims = _builtins(issue(service).claims)
    header = {"alg": "none", "typ": "JWT", "kid": service.keys.current.kid}
    unsigned = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."
    with pytest.raises(TokenError) as err:
        verify_join_token(unsigned, keys_of(service))
    assert err.value.code == "bad_algorithm" and "'none'" in str(err.value)


def test_hs256_signed_with_the_public_key_is_refused(tmp_path) -> None:
    import hashlib
    import hmac

    service = make_service(tmp_path)
    claims = _builtins(issue(service).claims)
    public_pem = service.keys.current.public.public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": service.keys.current.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(TokenError) as err:
        verify_join_token(f"{signing_input}.{b64(sig)}", keys_of(service))
    assert err.value.code == "bad_algorithm" and "'HS256'" in str(err.value)


def test_tampered_payload_is_refused(tmp_path) -> None:
    service = make_service(tmp_path)
    token = issue(service).token
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["perms"]["moderate"] = True
    claims["role"] = "host"
    tampered = f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
    with pytest.raises(TokenError) as err:
        verify_join_token(tampered, keys_of(service))
    assert err.value.code == "bad_signature"


# -- JWKS over HTTP and NATS -----------------------------------------------------------------------

async def test_jwks_over_http_and_nats(control_plane, nats_server) -> None:
    async with control_plane(**nats_overrides(nats_server.url)) as cp:
        await wait_ready(cp)
        kid = cp.services.tokens.keys.current.kid
        for path in ("/api/v1/jwks", "/.well-known/jwks.json"):
            r = await cp.client.get(path)
            assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
            assert [k["kid"] for k in r.json()["keys"]] == [kid]
        async with nats_client(nats_server.url) as nc:
            reply = wire.jwks_decoder.decode((await nc.request(subjects.JWKS, b"", timeout=2)).data)
            assert isinstance(reply, wire.JwksReply)
            keys = KeySet.from_jwks({"keys": reply.keys})
            assert keys.kids() == [kid]
            # A token the control plane issues verifies with the keys fetched over NATS.
            token = cp.services.tokens.issue(account_role="host", sub="a", name="A", meeting_id="m", edge_id="e",
                                             role="host", perms=Permissions(subscribe=True)).token
            assert verify_join_token(token, keys).sub == "a"
            # Rotation is visible to the next request.
            new_kid = rotate(cp.services.settings.keys.dir)
            reply = wire.jwks_decoder.decode((await nc.request(subjects.JWKS, b"", timeout=2)).data)
            assert [k["kid"] for k in reply.keys] == [new_kid, kid]
            # The service answers $SRV.PING as a nats.micro service.
            ping = json.loads((await nc.request("$SRV.PING.cc-control-plane-jwks", b"", timeout=2)).data)
            assert ping["name"] == "cc-control-plane-jwks"


def test_rotate_command_line(tmp_path) -> None:
    import subprocess
    import sys

    conf = tmp_path / "cp.toml"
    conf.write_text(f'[keys]\ndir = "{tmp_path / "keys"}"\n')
    first = KeyStore(tmp_path / "keys").current.kid
    out = subprocess.run([sys.executable, "-m", "control_plane.tokens", "rotate", "--config", str(conf)],
                         capture_output=True, text=True, check=True, env={**os.environ})
    new = out.stdout.strip()
    assert new and new != first
    listed = subprocess.run([sys.executable, "-m", "control_plane.tokens", "list", "--config", str(conf)],
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed[0] == new and first in listed
    bad = subprocess.run([sys.executable, "-m", "control_plane.tokens", "rotate", "--config", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "cannot read" in bad.stderr


def test_private_key_never_leaves_in_the_jwks(tmp_path) -> None:
    store = KeyStore(tmp_path / "keys")
    raw = store.current.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())
    assert b64(raw) not in json.dumps(store.jwks())
    assert isinstance(store.current.private, Ed25519PrivateKey)
