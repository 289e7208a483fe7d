-- OpenID Connect sign-ins in progress: one row per authorization request, used once.
-- The state and the browser-binding cookie are stored only as SHA-256 hashes.
CREATE TABLE oidc_states (
    state_hash    TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    provider      TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    next_path     TEXT NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX oidc_states_expiry ON oidc_states (expires_at);
