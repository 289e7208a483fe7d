"""The meeting recorder: a hidden client of the edge, RTP in, files out, no decoder, no encoder.

:mod:`recorder.depacketize` turns one stream's RTP packets into encoded frames,
:mod:`recorder.clock` puts every stream's timestamps on one meeting clock,
:mod:`recorder.track_file` muxes a track's frames into a WebM or Matroska file, and
:mod:`nodes.manifest` (shared with the control plane, which lists and serves recordings)
describes a recording's files on that clock. :mod:`recorder.session` is one visit to a meeting,
:mod:`recorder.job` one recording across visits, :mod:`recorder.service` the NATS service that
runs recordings for the control plane.
"""
