"""The Argon2id cost of password hashes is a setting; hashes made at another cost still verify."""

from __future__ import annotations

import msgspec
import pytest

from control_plane.accounts import passwords
from control_plane.settings import AccountSettings
from tests.support.util import CHEAP_HASHING


def test_the_configured_cost_is_used_and_older_hashes_still_verify() -> None:
    try:
        passwords.configure(64 * 1024, 3)
        strong = passwords.hash_password("correct horse")
        assert strong.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        passwords.configure(2048, 2)
        light = passwords.hash_password("correct horse")
        assert light.startswith("$argon2id$v=19$m=2048,t=2,p=4$")
        assert passwords.verify_password(strong, "correct horse")
        assert passwords.verify_password(light, "correct horse")
        assert not passwords.verify_password(strong, "wrong horse")
        assert not passwords.verify_password(None, "correct horse")
    finally:
        passwords.configure(CHEAP_HASHING["password_hash_memory_kib"], CHEAP_HASHING["password_hash_passes"])


def test_the_defaults_are_rfc_9106s_and_a_cost_too_low_is_refused() -> None:
    defaults = AccountSettings()
    assert (defaults.password_hash_memory_kib, defaults.password_hash_passes) == (64 * 1024, 3)
    with pytest.raises(msgspec.ValidationError, match="password_hash_memory_kib"):
        msgspec.convert({"password_hash_memory_kib": 512}, AccountSettings)
    with pytest.raises(msgspec.ValidationError, match="password_hash_passes"):
        msgspec.convert({"password_hash_passes": 0}, AccountSettings)
