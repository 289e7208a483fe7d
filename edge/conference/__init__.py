"""The conference layer: meetings on this edge, their participants, lobby, chat, mutes and
moderation, on top of one forwarding room per meeting (:mod:`edge.sfu`).

Signaling sessions reach it only through :mod:`.interfaces` (``Entry`` → ``Seat``, and ``Link``
back), so signaling and media could live on different nodes.
"""
