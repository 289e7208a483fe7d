-- Recordings of meetings, one row each (the files and manifest live in recordings.dir/<id>/).
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    meeting_id  TEXT NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,
    state       TEXT NOT NULL CHECK (state IN ('recording', 'stopped', 'failed')),
    recorder_id TEXT NOT NULL DEFAULT '',
    started_by  TEXT NOT NULL DEFAULT '',
    started_at  DOUBLE PRECISION NOT NULL,
    stopped_at  DOUBLE PRECISION,
    reason      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recordings_by_meeting ON recordings (meeting_id, started_at);
-- At most one recording of a meeting is being written at a time.
CREATE UNIQUE INDEX recordings_one_active ON recordings (meeting_id) WHERE state = 'recording';
