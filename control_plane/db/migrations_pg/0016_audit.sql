-- The audit log: one row per admin or moderator action (who, what, when, on whom), written where
-- the action is applied (control_plane/audit/). Rows are never changed; GET /api/v1/audit lists them.
CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY,
    at             DOUBLE PRECISION NOT NULL,
    -- Who acted: an account (its id and its name then), or '' for the system or an unknown actor.
    actor_id       TEXT NOT NULL DEFAULT '',
    actor_username TEXT NOT NULL DEFAULT '',
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('admin', 'moderator', 'system')),
    action         TEXT NOT NULL,
    -- On whom or what: 'account', 'meeting', 'participant', 'recording', 'key', 'edge'.
    target_kind    TEXT NOT NULL DEFAULT '',
    target_id      TEXT NOT NULL DEFAULT '',
    meeting_id     TEXT NOT NULL DEFAULT '',
    details        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
CREATE INDEX audit_log_action ON audit_log (action, at);
CREATE INDEX audit_log_meeting ON audit_log (meeting_id, at);
