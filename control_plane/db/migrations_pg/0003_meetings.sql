-- Meetings: schedule (wall-clock times in an IANA time zone, with the first occurrence and the
-- end of the series in UTC for sorting), recurrence rule (JSON), settings and lifecycle state.
CREATE TABLE meetings (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    time_zone        TEXT,
    start_local      TEXT,
    end_local        TEXT,
    start_utc        TEXT,
    end_utc          TEXT,
    recurrence       TEXT,
    series_end_utc   TEXT,
    password_hash    TEXT,
    lobby            INTEGER NOT NULL DEFAULT 0,
    allow_guests     INTEGER NOT NULL DEFAULT 0,
    max_participants INTEGER NOT NULL DEFAULT 100,
    publish_policy   TEXT NOT NULL DEFAULT 'everyone' CHECK (publish_policy IN ('everyone', 'hosts')),
    locked           INTEGER NOT NULL DEFAULT 0,
    state            TEXT NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'live', 'ended')),
    started_at       DOUBLE PRECISION,
    ended_at         DOUBLE PRECISION,
    empty_since      DOUBLE PRECISION,
    sequence         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    updated_at       TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
);
CREATE INDEX meetings_owner ON meetings (owner_id);
CREATE INDEX meetings_state ON meetings (state);
CREATE INDEX meetings_start ON meetings (start_utc);
-- Co-hosts manage the meeting like its owner.
CREATE TABLE meeting_cohosts (
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (meeting_id, account_id)
);
CREATE INDEX meeting_cohosts_account ON meeting_cohosts (account_id);
-- Accounts promoted to moderator during a meeting keep the role when they join again.
CREATE TABLE meeting_moderators (
    meeting_id  TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    promoted_by TEXT NOT NULL DEFAULT '',
    promoted_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (meeting_id, account_id)
);
