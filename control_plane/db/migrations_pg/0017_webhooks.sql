-- Webhook deliveries: one row per event and endpoint, the endpoint's persisted queue and the
-- admins' delivery log. ``webhook_id`` is the Standard Webhooks message id (the same on every
-- attempt); ``body`` is the JSON sent, fixed when the event was taken in.
CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    meeting_id      TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_attempt_at DOUBLE PRECISION,
    delivered_at    DOUBLE PRECISION,
    last_status     INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (endpoint, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint, status, next_attempt_at);
CREATE INDEX webhook_deliveries_age ON webhook_deliveries (created_at);
