-- Failed sign-ins, one row each, counted per key ("user:<name>", "addr:<address>") in a sliding
-- window, so every control plane on this database applies the same limits (auth/ratelimit.py).
CREATE TABLE sign_in_failures (
    key TEXT NOT NULL,
    at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);
CREATE INDEX sign_in_failures_age ON sign_in_failures (at);
