"""Sign-in against LDAP / Active Directory.

The control plane binds with the service account, finds the user's entry with ``user_filter``
(the login name escaped, so ``*``, ``(``, ``)`` and ``\\`` are literal characters), then binds *as
that entry* with the password the user typed: the directory, not this server, checks it. The
user's groups (``group_filter`` with the escaped DN) map to a role through ``role_map``; the
account is created or refreshed from the entry. No directory password is ever stored.

ldap3 is blocking, so each sign-in runs in a worker thread, with connect and receive timeouts.

Over ``ldaps://`` or StartTLS the directory's certificate is verified (``CERT_REQUIRED``, chained
to ``ca_file`` or the system's CAs, its name matching the URL's host) before any bind: a directory
that cannot be verified gets no password, and sign-in answers 503 naming the reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import uuid
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException, LDAPSASLPrepError, LDAPStartTLSError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException

from ..accounts.schemas import AccountRead
from ..accounts.service import AccountService
from ..errors import FieldError
from ..settings import LdapSettings
from .principal import ROLE_RANK

log = logging.getLogger(__name__)

WRONG = "wrong user name or password"
#: Result codes meaning "the directory cannot serve now" rather than "no".
_UNAVAILABLE = {51, 52, 80}  # busy, unavailable, other


class DirectoryUnavailable(HTTPException):
    status_code = 503


class CertificateNotVerified(Exception):
    """The directory's TLS certificate did not verify; nothing was sent after the handshake."""


class VerifiedTls(ldap3.Tls):
    """ldap3's TLS with Python's own verification: the chain *and* the host name are checked.

    ldap3 does not validate by default, and even with ``CERT_REQUIRED`` it checks the name itself
    with its own rules; here the standard library does both during the handshake.
    """

    def __init__(self, host: str, ca_file: str) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED)
        self.host = host
        try:
            self.context = ssl.create_default_context(cafile=ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"ldap.ca_file: cannot load {ca_file}: {exc}") from None
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:  # noqa: FBT001
        try:
            connection.socket = self.context.wrap_socket(connection.socket, server_side=False,
                                                         do_handshake_on_connect=do_handshake,
                                                         server_hostname=self.host)
        except ssl.SSLCertVerificationError as exc:
            # ldap3 wraps what we raise into its own errors; the reason is kept on the connection.
            connection.cc_certificate_error = exc.verify_message or str(exc)
            raise


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    external_id: str
    username: str
    display_name: str
    email: str | None
    groups: tuple[str, ...]


def normalize_dn(dn: str) -> str:
    """A DN in a form two spellings of the same DN share (case and spacing do not matter)."""
    try:
        return ",".join(f"{attr.lower()}={value.lower()}" for attr, value, _ in parse_dn(dn, strip=True))
    except Exception:  # noqa: BLE001 - not a parseable DN: compare it as typed
        return dn.strip().lower()


def role_for_groups(groups: list[str] | tuple[str, ...], role_map: dict[str, str], default_role: str,
                    normalize=normalize_dn) -> str | None:  # noqa: ANN001
    """The highest-ranking role any of *groups* maps to, else *default_role* ("" / None: refuse)."""
    wanted = {normalize(k): v for k, v in role_map.items()}
    roles = [wanted[g] for g in map(normalize, groups) if g in wanted]
    if roles:
        return max(roles, key=ROLE_RANK.__getitem__)
    return default_role or None


def check_role_map(role_map: dict[str, str], default_role: str, where: str) -> None:
    """Refuse settings that name a role that does not exist (at start, not at the first sign-in)."""
    for group, role in role_map.items():
        if role not in ROLE_RANK:
            raise ValueError(f"{where}.role_map: group {group!r} maps to unknown role {role!r}"
                             f" (one of {', '.join(ROLE_RANK)})")
    if default_role and default_role not in ROLE_RANK:
        raise ValueError(f"{where}.default_role: unknown role {default_role!r}")


def check_login_name(username: str) -> None:
    if not username.strip():
        raise FieldError("username", "must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in username):
        raise FieldError("username", "must not contain control characters")


def _first(attributes: Any, name: str) -> Any:
    if not name:
        return None
    value = attributes.get(name) if attributes is not None else None
    if isinstance(value, list):
        value = value[0] if value else None
    return value if value not in ("", b"") else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text.strip() or None


def _close(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - the connection is being dropped anyway
        pass


def _external_id(value: Any, dn: str) -> str:
    if value is None:
        return dn
    if isinstance(value, bytes):  # Active Directory's objectGUID: 16 bytes, little-endian fields
        return str(uuid.UUID(bytes_le=value)) if len(value) == 16 else value.hex()
    return str(value)


class LdapAuthenticator:
    def __init__(self, settings: LdapSettings, accounts: AccountService) -> None:
        check_role_map(settings.role_map, settings.default_role, "ldap")
        self.settings = settings
        self.accounts = accounts
        server = ldap3.Server(settings.url, get_info=ldap3.NONE, connect_timeout=settings.timeout)
        if server.ssl or settings.start_tls:
            server.tls = VerifiedTls(server.host, settings.ca_file)
        self._server = server

    async def authenticate(self, username: str, password: str) -> AccountRead:
        """The account of the directory user *username* if *password* is theirs (401 otherwise)."""
        check_login_name(username)
        if not password:  # a simple bind with an empty password is an anonymous bind: it "succeeds"
            raise FieldError("password", "must not be empty")
        s = self.settings
        try:
            user = await asyncio.wait_for(asyncio.to_thread(self._check, username, password),
                                          timeout=s.timeout * 4 + 1)
        except TimeoutError:
            raise DirectoryUnavailable(f"the directory at {s.url} did not answer in time") from None
        role = role_for_groups(user.groups, s.role_map, s.default_role)
        if role is None:
            raise PermissionDeniedException("your directory account is in none of the groups allowed to sign in here")
        account = await self.accounts.upsert_external(
            source="ldap", external_id=user.external_id, username=user.username,
            display_name=user.display_name, email=user.email, role=role)
        log.info("ldap sign-in", extra={"account_id": account.id, "role": role})
        return account

    # -- in the worker thread ---------------------------------------------------------------------
    def _connection(self, user: str | None, password: str | None) -> ldap3.Connection:
        s = self.settings
        conn = ldap3.Connection(self._server, user=user or None, password=password or None, read_only=True,
                                receive_timeout=max(1, math.ceil(s.timeout)),  # whole seconds on Linux
                                raise_exceptions=False, auto_referrals=False)
        try:
            conn.open()
            if s.start_tls and not conn.start_tls():
                raise LDAPStartTLSError(f"StartTLS refused: {conn.result}")
        except LDAPException:
            reason = getattr(conn, "cc_certificate_error", None)
            _close(conn)
            if reason:
                raise CertificateNotVerified(reason) from None
            raise
        return conn

    def _check(self, username: str, password: str) -> DirectoryUser:
        s = self.settings
        try:
            service = self._connection(s.bind_dn, s.bind_password)
            try:
                if not service.bind():
                    log.error("ldap service bind refused", extra={"result": service.result.get("description")})
                    raise DirectoryUnavailable("LDAP sign-in is misconfigured here: the directory refused the"
                                               " service account")
                entry = self._find_user(service, username)
                user_conn = self._connection(entry["dn"], password)
                try:
                    try:
                        bound = user_conn.bind()
                    except LDAPSASLPrepError:  # e.g. a tab: a simple bind cannot carry it, no password has it
                        raise NotAuthorizedException(WRONG) from None
                    if not bound:
                        self._refused(user_conn.result)
                    groups = self._groups(service if s.bind_dn else user_conn, entry["dn"])
                finally:
                    _close(user_conn)
            finally:
                _close(service)
        except CertificateNotVerified as exc:
            log.warning("ldap certificate not verified", extra={"url": s.url, "error": str(exc)})
            raise DirectoryUnavailable(f"the directory at {s.url} could not be verified: its certificate"
                                       f" was refused ({exc}); no password was sent") from None
        except (LDAPCommunicationError, LDAPStartTLSError) as exc:
            log.warning("ldap unreachable", extra={"url": s.url, "error": repr(exc)})
            raise DirectoryUnavailable(f"the directory at {s.url} cannot be reached ({type(exc).__name__})") from None
        except LDAPException as exc:  # e.g. a user_filter that is not a valid filter
            log.error("ldap sign-in failed", extra={"url": s.url, "error": repr(exc)})
            raise DirectoryUnavailable(f"LDAP sign-in is misconfigured here ({type(exc).__name__})") from None
        attrs = entry["attributes"]
        name = _text(_first(attrs, s.username_attribute)) or username
        return DirectoryUser(
            dn=entry["dn"], external_id=_external_id(_first(attrs, s.id_attribute), entry["dn"]), username=name,
            display_name=_text(_first(attrs, s.display_name_attribute)) or name,
            email=_text(_first(attrs, s.email_attribute)), groups=tuple(groups))

    def _find_user(self, conn: ldap3.Connection, username: str) -> dict[str, Any]:
        s = self.settings
        query = s.user_filter.replace("{username}", escape_filter_chars(username))
        attributes = [a for a in {s.id_attribute, s.username_attribute, s.display_name_attribute,
                                  s.email_attribute} if a]
        conn.search(s.user_base, query, ldap3.SUBTREE, attributes=attributes, size_limit=2)
        self._search_ok(conn.result)
        entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
        if len(entries) > 1:
            log.warning("ldap sign-in name matches several entries", extra={"count": len(entries)})
        if len(entries) != 1:
            raise NotAuthorizedException(WRONG)
        return entries[0]

    def _groups(self, conn: ldap3.Connection, dn: str) -> list[str]:
        s = self.settings
        if not s.role_map:
            return []
        query = s.group_filter.replace("{dn}", escape_filter_chars(dn))
        conn.search(s.group_base or s.user_base, query, ldap3.SUBTREE, attributes=[ldap3.NO_ATTRIBUTES])
        self._search_ok(conn.result)
        return [e["dn"] for e in conn.response or [] if e.get("type") == "searchResEntry"]

    @staticmethod
    def _search_ok(result: dict[str, Any]) -> None:
        code = result.get("result", 0)
        if code in (0, 4):  # success, or size limit exceeded (we asked for at most 2 entries)
            return
        log.error("ldap search failed", extra={"result": result.get("description"), "message": result.get("message")})
        raise DirectoryUnavailable(f"the directory could not search: {result.get('description')}")

    @staticmethod
    def _refused(result: dict[str, Any]) -> None:
        if result.get("result") in _UNAVAILABLE:
            raise DirectoryUnavailable(f"the directory cannot check passwords now: {result.get('description')}")
        raise NotAuthorizedException(WRONG)
