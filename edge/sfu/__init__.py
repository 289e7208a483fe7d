"""The forwarding core: aiortc peer connections and media forwarding without decoding.

Imports nothing about web, WebSocket or NATS (``tests/test_import_direction.py`` enforces it).
The conference layer talks to it only through :mod:`edge.sfu.interfaces`.
"""
