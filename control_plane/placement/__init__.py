"""Placement: which edge is a meeting's home, recorded atomically in the ``cc_placement`` bucket."""
