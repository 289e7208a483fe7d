"""Cascading: the edges of one meeting over NATS — mesh state (rosters and tracks), chat and
moderation across edges, and the signaling of relay peer connections (``cc.relay.>``).

The media side of a relay lives in :mod:`edge.sfu.relay` (no NATS there); the roster merge in
:mod:`edge.conference.remote`. ``docs/regions.md`` describes the whole.
"""
