"""Signaling: the client ↔ edge protocol (:mod:`edge.protocol`, written down in ``docs/protocol.md``),
one transport-independent :class:`~.session.Session` per socket, and two transports — WebSocket
at ``/ws`` (:mod:`.websocket`) and Socket.IO at ``/socket.io`` (:mod:`.sio`).
"""
