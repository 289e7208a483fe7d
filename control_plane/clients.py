"""Who the client is: the one address every limit, every session record and placement use.

Behind a load balancer every connection comes from the balancer, so the client's own address is
in ``X-Forwarded-For``, which anyone can also send. The header is believed only when the
connecting peer is in ``clients.trusted_proxies``; then the client is the rightmost address in it
that is not itself a trusted proxy (each proxy appends the peer it saw, so everything to the left
of the last untrusted hop was written by whoever sent the request and proves nothing). From any
other peer the header is ignored and the peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection

FORWARDED_FOR = "x-forwarded-for"
UNKNOWN = "unknown"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> IPAddress | None:
    """An IP address from *text*: ``1.2.3.4``, ``::1``, ``1.2.3.4:5678`` or ``[::1]:5678``."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class TrustedProxies:
    def __init__(self, cidrs: Iterable[str] = ()) -> None:
        self._nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def trusts(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._nets)

    def client(self, peer: str | None, forwarded_for: Iterable[str] = ()) -> str:
        """The client's address, given the connecting *peer* and the ``X-Forwarded-For`` values."""
        peer_ip = parse_address(peer) if peer else None
        if peer_ip is None:
            return peer or UNKNOWN
        candidate = peer_ip
        if self.trusts(peer_ip):
            hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
            for hop in reversed(hops):
                ip = parse_address(hop)
                if ip is None:  # not an address: stop at the last hop a trusted proxy vouched for
                    break
                candidate = ip
                if not self.trusts(ip):
                    break
        return str(candidate)


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address for *connection*, by the app's ``clients.trusted_proxies``."""
    proxies: TrustedProxies = connection.app.state.proxies
    peer = connection.client.host if connection.client else None
    return proxies.client(peer, connection.headers.getall(FORWARDED_FOR, []))
