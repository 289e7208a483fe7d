-- Accounts: local, LDAP and OIDC users. Directory and provider passwords are never stored.
-- (PostgreSQL: the same schema as migrations/0001_accounts.sql; names compare without case, as
-- SQLite's COLLATE NOCASE, through citext — a trusted extension the database's owner may create.)
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    username      CITEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    email         TEXT,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'host', 'member', 'guest')),
    source        TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'ldap', 'oidc', 'guest')),
    external_id   TEXT,
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    updated_at    TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    last_login_at TEXT
);
CREATE UNIQUE INDEX accounts_external ON accounts (source, external_id) WHERE external_id IS NOT NULL;
