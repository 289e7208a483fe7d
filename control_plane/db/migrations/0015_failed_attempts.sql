-- Failed sign-ins and wrong meeting passwords, one row each, counted per key ("user:<name>",
-- "addr:<address>", "meeting:<id>:addr:<address>") in a sliding window, so every control plane on
-- this database applies the same limits (auth/ratelimit.py).
CREATE TABLE failed_attempts (
    key TEXT NOT NULL,
    at  REAL NOT NULL
);
CREATE INDEX failed_attempts_key ON failed_attempts (key, at);
CREATE INDEX failed_attempts_age ON failed_attempts (at)
