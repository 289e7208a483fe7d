"""The node kit: what every Curious Connect process shares.

Wire schemas (:mod:`nodes.wire`), subject names (:mod:`nodes.subjects`), settings loading
(:mod:`nodes.settings`), join-token claims (:mod:`nodes.claims`), the NATS connection
(:mod:`nodes.bus`) and the process runner (:mod:`nodes.runner`). Nothing here reads a file, the
environment or the network at import time.
"""

__version__ = "0.1.0"
