"""``curious``: the operator's command line — administration through the control plane's API
(accounts, meetings, edges, signing keys, recordings, the audit log) and the load tester.

It is a client: it talks HTTP (and, for the load tester, signaling and media) to a running stack
and imports nothing of the control plane or the edges (an import contract checks it).
"""
