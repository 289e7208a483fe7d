"""Control plane settings (TOML → msgspec). Annotated example: ``configs/control_plane.toml``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from nodes.metrics import MetricsSettings
from nodes.settings import Base, HttpSettings, LogSettings, NatsSettings, check_ca_file, is_loopback, resolve_secret

from .webhooks.settings import WebhookSettings


class DatabaseSettings(Base, kw_only=True):
    #: SQLite file; created with its directory if missing. WAL mode. Used when ``url`` is empty.
    path: str = "var/control_plane.sqlite3"
    #: PostgreSQL instead of SQLite: "postgresql://user:password@host:5432/dbname" (libpq URL;
    #: ``?sslmode=verify-full`` and the like as asyncpg reads them). Control planes side by side
    #: share one (docs/scaling.md). Inline, from a file (``url_file``) or a variable (``url_env``).
    url: str = ""
    url_file: str = ""
    url_env: str = ""
    #: Most PostgreSQL connections this control plane opens (plus one for the events consumer).
    pool_size: int = 10
    #: Seconds to keep trying to reach PostgreSQL at start before giving up.
    connect_wait: float = 60.0

    def __post_init__(self) -> None:
        resolve_secret(self, "url")
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("`url`: must be a postgresql:// URL (or empty for SQLite at `path`)")
        if self.pool_size < 2:
            raise ValueError("`pool_size`: must be at least 2")


class KeySettings(Base, kw_only=True):
    #: Directory of Ed25519 signing keys (PEM). The newest signs; all are published in the JWKS
    #: so tokens signed before a rotation stay valid. Generated on first start when empty.
    dir: str = "var/keys"


class BootstrapSettings(Base, kw_only=True):
    #: With an empty accounts table, create this admin and print its generated password once.
    admin_username: str = "admin"
    #: Write the generated password to this file (mode 0600) as well as printing it; "" = don't.
    admin_password_file: str = ""


class AccountSettings(Base, kw_only=True):
    #: May anyone create a local account from the sign-in page?
    allow_registration: bool = False
    #: Role of self-registered accounts.
    default_role: str = "member"
    #: Session lifetime and idle timeout, seconds.
    session_ttl: float = 12 * 3600
    session_idle: float = 2 * 3600
    #: Failed sign-ins allowed per account name, and per client address, in ``login_window`` s.
    login_attempts_per_account: int = 5
    login_attempts_per_address: int = 20
    login_window: float = 900.0
    #: OpenID Connect sign-ins in progress (started, not yet back from the provider): each is
    #: forgotten after ``oidc_pending_ttl`` s; one client address (IPv6: /64) may have at most
    #: ``oidc_pending_per_address`` at once (429 past it), all clients together ``oidc_pending_max``
    #: (503 past it).
    oidc_pending_ttl: float = 600.0
    oidc_pending_per_address: int = 30
    oidc_pending_max: int = 10_000
    #: Argon2id cost of hashing a password: memory in KiB and passes (RFC 9106's second
    #: recommended option by default). Lower only where sign-ins must be cheap, as in tests.
    password_hash_memory_kib: Annotated[int, msgspec.Meta(ge=1024)] = 64 * 1024
    password_hash_passes: Annotated[int, msgspec.Meta(ge=1)] = 3


class ClientSettings(Base, kw_only=True):
    """What the control plane accepts from HTTP clients, and how it tells who a client is."""

    #: Networks (CIDR) of the load balancers or reverse proxies in front of the control plane.
    #: Only from a peer in one of them is ``X-Forwarded-For`` believed: the client is its rightmost
    #: address that is not itself a trusted proxy. Empty: the peer's address is the client's.
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    #: Largest request body, bytes (413 past it). The largest legitimate body (a meeting with a
    #: 5,000-character description) is well under 64 KiB.
    max_body_bytes: int = 64 * 1024
    #: Deepest nesting of arrays and objects in a JSON body (400 past it); the API needs four.
    max_json_depth: int = 32

    def __post_init__(self) -> None:
        import ipaddress

        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"clients.trusted_proxies: {cidr!r} is not a network (CIDR)") from None
        if self.max_body_bytes < 1024:
            raise ValueError("clients.max_body_bytes: must be at least 1024")
        if self.max_json_depth < 4:
            raise ValueError("clients.max_json_depth: must be at least 4")


class LdapSettings(Base, kw_only=True):
    """LDAP / Active Directory sign-in. Absent section: LDAP sign-in is off."""

    #: e.g. "ldaps://dc1.example.org:636", or "ldap://dc1.example.org:389" with ``start_tls``.
    url: str
    #: Service account used to find the user's DN (never the user's own password).
    bind_dn: str = ""
    #: Its password: inline, from a file (``bind_password_file``) or a variable (``bind_password_env``).
    bind_password: str = ""
    bind_password_file: str = ""
    bind_password_env: str = ""
    #: Upgrade an ``ldap://`` connection with StartTLS before anything is sent.
    start_tls: bool = False
    #: PEM file of the CA(s) that issued the directory's certificate; empty: the system's CAs.
    #: The certificate is always verified, its name against the host in ``url``.
    ca_file: str = ""
    #: Allow an ``ldap://`` URL without StartTLS to a host other than this machine's loopback
    #: (users' passwords then cross the network in the clear). Off: such settings are refused.
    allow_plaintext: bool = False
    #: Where users live and how to find one; ``{username}`` is replaced by the escaped login name.
    user_base: str
    user_filter: str = "(uid={username})"
    #: Where groups live and how to find the user's groups; ``{dn}`` is the escaped user DN.
    group_base: str = ""
    group_filter: str = "(&(objectClass=groupOfNames)(member={dn}))"
    #: Attributes for the account.
    id_attribute: str = "entryUUID"
    username_attribute: str = "uid"
    display_name_attribute: str = "cn"
    email_attribute: str = "mail"
    #: Group DN (case-insensitive) → role; the highest-ranking match wins.
    role_map: dict[str, str] = msgspec.field(default_factory=dict)
    #: Role when no group matches; "" refuses users in none of the mapped groups.
    default_role: str = "member"
    timeout: float = 5.0

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        resolve_secret(self, "bind_password")
        parts = urlsplit(self.url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError(f"`url`: {self.url!r} is not an ldap:// or ldaps:// URL")
        if parts.scheme == "ldaps" and self.start_tls:
            raise ValueError("`start_tls`: an ldaps:// URL is encrypted from the start; StartTLS is for ldap://")
        if parts.scheme == "ldap" and not self.start_tls and not self.allow_plaintext \
                and not is_loopback(parts.hostname):
            raise ValueError(f"`url`: {self.url} would carry passwords unencrypted; use ldaps:// or"
                             " start_tls = true (or set allow_plaintext = true)")
        if self.ca_file:
            check_ca_file("ca_file", self.ca_file)


class OidcProviderSettings(Base, kw_only=True):
    """One OpenID Connect provider (Google, Keycloak, Azure AD, …): one ``[[oidc]]`` table each."""

    #: Short id used in URLs: /api/v1/auth/oidc/<id>/start.
    id: str
    #: Button label on the sign-in page.
    name: str
    #: Issuer URL; its /.well-known/openid-configuration is fetched at start.
    issuer: str
    client_id: str
    #: Inline, from a file (``client_secret_file``) or a variable (``client_secret_env``): one.
    client_secret: str = ""
    client_secret_file: str = ""
    client_secret_env: str = ""
    scopes: list[str] = msgspec.field(default_factory=lambda: ["openid", "email", "profile"])
    #: Claim holding the user's groups (Keycloak "groups", Azure AD "groups" or "roles").
    groups_claim: str = "groups"
    #: Group name → role; the highest-ranking match wins.
    role_map: dict[str, str] = msgspec.field(default_factory=dict)
    default_role: str = "member"
    #: Only accept e-mail addresses in these domains (empty: any).
    allowed_domains: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        resolve_secret(self, "client_secret")
        issuer = urlsplit(self.issuer)
        if issuer.scheme != "https" and not (issuer.scheme == "http" and is_loopback(issuer.hostname)):
            raise ValueError(f"`issuer`: {self.issuer!r} must be an https:// URL (http:// only on this machine's"
                             " loopback): the client secret and users' tokens travel to it")


class TokenSettings(Base, kw_only=True):
    """Join tokens (EdDSA JWTs) handed to participants."""

    #: Lifetime, minutes: a token only opens the door; the meeting outlives it.
    ttl_minutes: float = 10.0
    #: ``iss`` claim; empty: the public URL.
    issuer: str = ""


class MeetingSettings(Base, kw_only=True):
    #: A live meeting with nobody in it ends after this many seconds.
    empty_timeout: float = 300.0
    #: Seconds a command (kick, mute, …) may take to be acknowledged by the edge.
    command_timeout: float = 3.0
    #: How often live meetings are checked for being empty, seconds.
    sweep_interval: float = 5.0
    #: ``max_participants`` of a new meeting when the request gives none, and the most allowed.
    default_max_participants: int = 100
    max_participants_limit: int = 1000
    #: Seconds the rooms of closed breakout rooms stay open for everyone to come back; then they
    #: end (whoever is still in one is told the meeting ended).
    breakout_room_grace: float = 30.0


class PlacementSettings(Base, kw_only=True):
    """Which region a participant is in, for choosing its edge (``docs/regions.md``)."""

    #: Client network (CIDR) → region, e.g. {"10.1.0.0/16" = "eu-1"}; the most specific match
    #: wins. A region named in the join request, then the ``X-CC-Region`` header, take
    #: precedence; no match: ``default_region``.
    regions: dict[str, str] = msgspec.field(default_factory=dict)
    #: An edge is busy at or above this CPU use (percent of its core, from its heartbeats): a new
    #: participant of a meeting whose edge is busy goes to another edge of the region — another
    #: worker of the same machine first — which joins the meeting's cascade (docs/scaling.md).
    #: 0: CPU never makes an edge busy.
    busy_cpu_pct: float = 70.0
    #: An edge is busy, too, at or above this many forwarded subscriber streams (0: no limit). Set it
    #: from the streams per core ``bench/sfu.py`` measures on the machine, with some headroom.
    busy_streams: int = 0

    def __post_init__(self) -> None:
        import ipaddress

        if self.busy_cpu_pct < 0 or self.busy_streams < 0:
            raise ValueError("placement.busy_cpu_pct and placement.busy_streams must not be negative")

        for cidr in self.regions:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"placement.regions: {cidr!r} is not a network (CIDR)") from None


class EventSettings(Base, kw_only=True):
    """Where edges' events are stored before the control plane reads them."""

    #: JetStream domains of the regional leaf nodes (e.g. ["eu", "us", "ap"]). The control plane
    #: declares ``CC_EVENTS`` in each and makes its own ``CC_EVENTS`` source them. Empty: one
    #: NATS server (or edges all on the hub).
    region_domains: list[str] = msgspec.field(default_factory=list)
    #: An event from an edge the meeting's placement does not name (yet) is retried this long
    #: (seconds) — participants that failed over to another edge of the region are there before
    #: the control plane re-homes the meeting — then refused (docs/security.md).
    placement_wait: float = 30.0


class EdgeRegistrySettings(Base, kw_only=True):
    #: An edge is dropped when no heartbeat came for this many seconds (three heartbeats).
    ttl: float = 6.0
    #: How often the registry sweeps expired edges.
    sweep_interval: float = 0.25


class RecordingSettings(Base, kw_only=True):
    """Recordings (docs/recording.md): written by recorder services, served from here."""

    #: Folder of recordings, one sub-folder per recording, as the recorder services write them:
    #: the same folder on one machine, or a shared mount.
    dir: str = "var/recordings"
    #: Days a finished recording is kept; 0 keeps recordings until someone deletes them.
    retention_days: float = 0.0
    #: How often expired recordings are looked for, seconds.
    sweep_interval: float = 3600.0
    #: Seconds a start waits for a recorder to be seated in the meeting.
    start_timeout: float = 15.0
    #: Seconds a stop waits for the recorder to close its files.
    stop_timeout: float = 15.0


class Settings(Base, kw_only=True):
    #: Public base URL of the web app and API (used in links, OIDC redirects, .ics files).
    public_url: str = "http://127.0.0.1:8080"
    #: Region assumed for a client when none can be told from the request.
    default_region: str = "local"
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    keys: KeySettings = msgspec.field(default_factory=KeySettings)
    bootstrap: BootstrapSettings = msgspec.field(default_factory=BootstrapSettings)
    accounts: AccountSettings = msgspec.field(default_factory=AccountSettings)
    clients: ClientSettings = msgspec.field(default_factory=ClientSettings)
    ldap: LdapSettings | None = None
    oidc: list[OidcProviderSettings] = msgspec.field(default_factory=list)
    tokens: TokenSettings = msgspec.field(default_factory=TokenSettings)
    meetings: MeetingSettings = msgspec.field(default_factory=MeetingSettings)
    placement: PlacementSettings = msgspec.field(default_factory=PlacementSettings)
    events: EventSettings = msgspec.field(default_factory=EventSettings)
    edges: EdgeRegistrySettings = msgspec.field(default_factory=EdgeRegistrySettings)
    recordings: RecordingSettings = msgspec.field(default_factory=RecordingSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    webhooks: WebhookSettings = msgspec.field(default_factory=WebhookSettings)
