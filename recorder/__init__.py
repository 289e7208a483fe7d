"""The meeting recorder's media core: RTP in, files out, with no decoder and no encoder.

:mod:`recorder.depacketize` turns one stream's RTP packets into encoded frames,
:mod:`recorder.clock` puts every stream's timestamps on one meeting clock,
:mod:`recorder.track_file` muxes a track's frames into a WebM or Matroska file, and
:mod:`recorder.manifest` describes a recording's files on that clock.
"""
