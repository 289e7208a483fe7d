-- Sign-in sessions: only a hash of the session token is stored.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'cookie' CHECK (kind IN ('cookie', 'bearer')),
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL,
    last_seen_at DOUBLE PRECISION NOT NULL,
    client_addr TEXT,
    user_agent  TEXT
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
