-- Record the meeting by itself: a recording starts when the first participant joins (docs/recording.md).
ALTER TABLE meetings ADD COLUMN auto_record INTEGER NOT NULL DEFAULT 0;
