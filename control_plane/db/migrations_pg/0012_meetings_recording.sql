-- Since when a recorder is in the meeting (an edge's recording_started event), NULL when none is.
ALTER TABLE meetings ADD COLUMN recording_since DOUBLE PRECISION;
