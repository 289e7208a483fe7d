-- Who is in a meeting now (from the edges' events), their tracks, and attendance over time.
CREATE TABLE roster (
    meeting_id     TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    participant_id TEXT NOT NULL,
    account_id     TEXT NOT NULL DEFAULT '',
    display_name   TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL DEFAULT 'member',
    edge_id        TEXT NOT NULL,
    lobby          INTEGER NOT NULL DEFAULT 0,
    audio_muted    INTEGER NOT NULL DEFAULT 0,
    video_muted    INTEGER NOT NULL DEFAULT 0,
    screen_muted   INTEGER NOT NULL DEFAULT 0,
    waiting_since  REAL,
    joined_at      REAL,
    PRIMARY KEY (meeting_id, participant_id)
);
CREATE TABLE roster_tracks (
    meeting_id     TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    track_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    source         TEXT NOT NULL DEFAULT '',
    published_at   REAL NOT NULL,
    PRIMARY KEY (meeting_id, participant_id, track_id),
    FOREIGN KEY (meeting_id, participant_id) REFERENCES roster (meeting_id, participant_id) ON DELETE CASCADE
);
CREATE TABLE attendance (
    id             INTEGER PRIMARY KEY,
    meeting_id     TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    participant_id TEXT NOT NULL,
    account_id     TEXT NOT NULL DEFAULT '',
    display_name   TEXT NOT NULL DEFAULT '',
    role           TEXT NOT NULL DEFAULT 'member',
    edge_id        TEXT NOT NULL,
    joined_at      REAL NOT NULL,
    left_at        REAL,
    left_reason    TEXT
);
CREATE INDEX attendance_meeting ON attendance (meeting_id, joined_at);
CREATE UNIQUE INDEX attendance_open ON attendance (meeting_id, participant_id) WHERE left_at IS NULL;
-- Events already applied, by event id: a redelivered event changes nothing.
CREATE TABLE applied_events (
    event_id   TEXT PRIMARY KEY,
    meeting_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    applied_at REAL NOT NULL
);
CREATE INDEX applied_events_age ON applied_events (applied_at)
