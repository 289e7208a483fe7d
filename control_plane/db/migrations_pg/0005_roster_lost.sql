-- A participant whose edge left the edge registry is "lost" (lost_at) rather than gone: restored
-- when the same edge instance (lost_edge_started = its start time) heartbeats again, removed for
-- good when the edge restarted or stayed away longer than meetings.empty_timeout.
ALTER TABLE roster ADD COLUMN lost_at DOUBLE PRECISION;
ALTER TABLE roster ADD COLUMN lost_edge_started DOUBLE PRECISION;
