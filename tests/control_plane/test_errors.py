"""Every error answer names the offending field, nested fields included."""

from __future__ import annotations

from control_plane.errors import _fields


def test_unknown_missing_and_wrong_type_fields_are_named() -> None:
    assert _fields([{"key": "data", "message": "Object contains unknown field `role`"}], "")[0]["field"] == "role"
    assert _fields([{"key": "data", "message": "Object contains unknown field `role` - at `$.settings`"}],
                   "")[0]["field"] == "settings.role"
    assert _fields([{"key": "data", "message": "Object missing required field `title`"}], "")[0]["field"] == "title"
    assert _fields([{"key": "data", "message": "Expected `int`, got `str` - at `$.settings.max`"}],
                   "")[0]["field"] == "settings.max"
    assert _fields([{"key": "password", "message": "Expected `str`, got `int`"}], "")[0]["field"] == "password"
    assert _fields(None, "Expected `int`, got `str` - at `$.limit`")[0]["field"] == "limit"
