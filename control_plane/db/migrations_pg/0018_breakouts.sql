-- Breakout rooms: a live meeting's moderator splits it into rooms, each a meeting of its own (a
-- child: parent_id), for a while, then brings everyone back. One open set of rooms per meeting.
ALTER TABLE meetings ADD COLUMN parent_id TEXT REFERENCES meetings (id) ON DELETE CASCADE;
CREATE INDEX meetings_parent ON meetings (parent_id);
CREATE TABLE breakouts (
    id           TEXT PRIMARY KEY,
    meeting_id   TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    state        TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    allow_choose INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   DOUBLE PRECISION NOT NULL,
    ends_at      DOUBLE PRECISION,
    closed_at    DOUBLE PRECISION,
    close_reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX breakouts_open ON breakouts (meeting_id) WHERE state = 'open';
CREATE INDEX breakouts_due ON breakouts (state, ends_at);
-- The rooms of a set, in order; each room is a meeting (meetings.parent_id = the main meeting).
CREATE TABLE breakout_rooms (
    breakout_id TEXT NOT NULL REFERENCES breakouts (id) ON DELETE CASCADE,
    room_id     TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (breakout_id, room_id)
);
-- Who was in the main meeting when the rooms opened, as the control plane knew them (the same
-- identity and name go into each of their tokens), the room they were put in or chose, and the
-- hash of the ticket that lets them (guests too) ask for their room's token.
CREATE TABLE breakout_seats (
    breakout_id    TEXT NOT NULL REFERENCES breakouts (id) ON DELETE CASCADE,
    participant_id TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL,
    region         TEXT NOT NULL DEFAULT '',
    room_id        TEXT,
    ticket_hash    TEXT NOT NULL,
    PRIMARY KEY (breakout_id, participant_id)
);
CREATE UNIQUE INDEX breakout_seats_ticket ON breakout_seats (ticket_hash);
