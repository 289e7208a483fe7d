"""What a participant may do, derived from three things and never more than the account allows.

1. The **meeting role**: ``host`` (the meeting's owner, a co-host, or an admin), ``moderator``
   (promoted during the meeting), ``member`` (a signed-in participant), ``guest`` (no account).
2. The meeting's **publish policy**: ``everyone`` or ``hosts`` (only hosts and moderators send
   audio, video or screen).
3. The **account role**'s ceiling (admin > host > member > guest): the grants that role may ever
   carry. The result is the meeting role's grants, under the policy, cut down to the ceiling;
   :func:`ensure_within` checks it again right before a token is signed.
"""

from __future__ import annotations

from nodes.claims import Permissions

MEETING_ROLES = ("host", "moderator", "member", "guest")
PUBLISH = frozenset({"publish_audio", "publish_video", "publish_screen"})

#: The most each account role may be granted in any meeting.
CEILING: dict[str, frozenset[str]] = {
    "admin": frozenset({"publish_audio", "publish_video", "publish_screen", "subscribe", "chat", "moderate",
                        "record"}),
    "host": frozenset({"publish_audio", "publish_video", "publish_screen", "subscribe", "chat", "moderate",
                       "record"}),
    "member": frozenset({"publish_audio", "publish_video", "publish_screen", "subscribe", "chat", "moderate"}),
    "guest": frozenset({"publish_audio", "publish_video", "subscribe", "chat"}),
}

#: What each meeting role gets before the publish policy and the ceiling apply.
BY_MEETING_ROLE: dict[str, frozenset[str]] = {
    "host": CEILING["admin"],
    "moderator": frozenset({"publish_audio", "publish_video", "publish_screen", "subscribe", "chat", "moderate"}),
    "member": frozenset({"publish_audio", "publish_video", "publish_screen", "subscribe", "chat"}),
    "guest": frozenset({"publish_audio", "publish_video", "subscribe", "chat"}),
}


class PermissionCeilingError(Exception):
    """A token would carry a grant its account role does not allow; it is not signed."""


def to_permissions(grants: frozenset[str] | set[str]) -> Permissions:
    return Permissions(**{name: name in grants for name in Permissions.__struct_fields__})


def ceiling(account_role: str) -> Permissions:
    if account_role not in CEILING:
        raise PermissionCeilingError(f"unknown account role {account_role!r}")
    return to_permissions(CEILING[account_role])


def derive(*, account_role: str, meeting_role: str, publish_policy: str) -> Permissions:
    """The grants for a participant (see the module docstring)."""
    if meeting_role not in BY_MEETING_ROLE:
        raise ValueError(f"unknown meeting role {meeting_role!r}")
    if publish_policy not in ("everyone", "hosts"):
        raise ValueError(f"unknown publish policy {publish_policy!r}")
    grants = set(BY_MEETING_ROLE[meeting_role])
    if publish_policy == "hosts" and meeting_role not in ("host", "moderator"):
        grants -= PUBLISH
    return to_permissions(grants & CEILING.get(account_role, frozenset()))


def ensure_within(perms: Permissions, account_role: str) -> None:
    """Raise :class:`PermissionCeilingError` unless every grant in *perms* is allowed to the role."""
    allowed = ceiling(account_role)
    if not perms.within(allowed):
        extra = sorted(perms.granted() - allowed.granted())
        raise PermissionCeilingError(f"role '{account_role}' may not be granted {', '.join(extra)}")
