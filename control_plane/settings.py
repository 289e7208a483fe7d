"""Control plane settings (TOML → msgspec). Annotated example: ``configs/control_plane.toml``."""

from __future__ import annotations

import msgspec

from nodes.settings import Base, HttpSettings, LogSettings, NatsSettings


class DatabaseSettings(Base):
    #: SQLite file; created with its directory if missing. WAL mode.
    path: str = "var/control_plane.sqlite3"


class KeySettings(Base):
    #: Directory of Ed25519 signing keys (PEM). The newest signs; all are published in the JWKS
    #: so tokens signed before a rotation stay valid. Generated on first start when empty.
    dir: str = "var/keys"


class BootstrapSettings(Base):
    #: With an empty accounts table, create this admin and print its generated password once.
    admin_username: str = "admin"
    #: Write the generated password to this file (mode 0600) as well as printing it; "" = don't.
    admin_password_file: str = ""


class AccountSettings(Base):
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


class EdgeRegistrySettings(Base):
    #: An edge is dropped when no heartbeat came for this many seconds (three heartbeats).
    ttl: float = 6.0
    #: How often the registry sweeps expired edges.
    sweep_interval: float = 0.25


class Settings(Base):
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
    edges: EdgeRegistrySettings = msgspec.field(default_factory=EdgeRegistrySettings)
