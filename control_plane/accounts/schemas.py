"""Request and response bodies for accounts (separate Create / Update / Read Structs)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Role = Literal["admin", "host", "member", "guest"]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@+-]+$")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
NewPassword = Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class AccountRead(msgspec.Struct, kw_only=True):
    id: str
    username: str
    display_name: str
    email: str | None
    role: Role
    source: str
    disabled: bool
    created_at: str
    last_login_at: str | None


class AccountCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Self-service registration (when ``accounts.allow_registration`` is on)."""

    username: Username
    password: NewPassword
    display_name: DisplayName | None = None
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


class AccountAdminCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An admin creates a local account; without a password one is generated and answered once."""

    username: Username
    password: NewPassword | None = None
    display_name: DisplayName | None = None
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    role: Role = "member"


class PasswordReset(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An admin sets a local account's password (generated when omitted); its sessions end."""

    password: NewPassword | None = None


class AccountWithPassword(msgspec.Struct, kw_only=True):
    account: AccountRead
    #: The generated password, shown this once (null when the admin chose it).
    password: str | None = None


class AccountUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Admin changes to an account; omitted fields stay as they are."""

    role: Role | None = None
    disabled: bool | None = None
    display_name: DisplayName | None = None


class LoginRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    password: Password
    #: "local" (this server's accounts) or "ldap" (the directory). "auto" tries LDAP when it is
    #: configured and the name is not a local account.
    method: Literal["auto", "local", "ldap"] = "auto"


class PasswordChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: NewPassword


class SessionRead(msgspec.Struct, kw_only=True):
    account: AccountRead
    csrf_token: str
    expires_at: float


class BearerRead(msgspec.Struct, kw_only=True):
    account: AccountRead
    token: str
    token_type: str = "Bearer"
    expires_at: float
