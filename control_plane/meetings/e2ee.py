"""End-to-end encrypted meetings (``e2ee``): the rules the control plane keeps for them.

Browsers encrypt such a meeting's media with a key derived from a passphrase shared outside the
product; the server never sees the passphrase and cannot read the media (docs/security.md,
End-to-end encryption). So such a meeting is never recorded: ``auto_record`` cannot be combined
with it (422), and a recording is refused (409, :meth:`RecordingService.begin`). The setting does
not change while the meeting is live (409): its participants would no longer agree on it.
"""

from __future__ import annotations

from typing import Any

from ..errors import FieldError

#: Why a recording of an end-to-end encrypted meeting is refused (the API's 409, the room's notice).
NOT_RECORDABLE = ("the meeting is end-to-end encrypted: the server cannot read its media, "
                  "so it cannot be recorded")


def check_settings(*, e2ee: bool, auto_record: bool, changed: set[str]) -> None:
    """422 when *e2ee* and *auto_record* are both on, naming the field the request changed
    (``auto_record`` when it changed both or neither)."""
    if e2ee and auto_record:
        field = "e2ee" if changed == {"e2ee"} else "auto_record"
        raise FieldError(field, "auto_record cannot be combined with e2ee: an end-to-end encrypted meeting "
                         "cannot be recorded", status_code=422)


def check_change(row: Any, e2ee: bool) -> None:
    """409 when *e2ee* differs from the meeting's while it is live."""
    if bool(row["e2ee"]) != e2ee and row["state"] == "live":
        raise FieldError("e2ee", "cannot change while the meeting is live: end it first, or change it "
                         "before anyone joins", status_code=409)


def check_recordable(row: Any) -> None:
    """409 when the meeting (its row) is end-to-end encrypted."""
    if row["e2ee"]:
        raise FieldError("e2ee", NOT_RECORDABLE, status_code=409)
