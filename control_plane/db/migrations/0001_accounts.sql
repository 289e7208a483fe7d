-- Accounts: local, LDAP and OIDC users. Directory and provider passwords are never stored.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    email         TEXT,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'host', 'member', 'guest')),
    source        TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap', 'oidc', 'guest')),
    external_id   TEXT,
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    last_login_at TEXT
);
CREATE UNIQUE INDEX accounts_external ON accounts (source, external_id) WHERE external_id IS NOT NULL;
