"""A participant's region: named in the request, else in the ``X-CC-Region`` header a regional proxy
sets, else looked up from the client address, else the default."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping


class RegionMap:
    """CIDR → region; the most specific network containing the address wins."""

    def __init__(self, cidrs: Mapping[str, str], default: str) -> None:
        self.default = default
        nets = [(ipaddress.ip_network(cidr, strict=False), region) for cidr, region in cidrs.items()]
        self._nets = sorted(nets, key=lambda nr: nr[0].prefixlen, reverse=True)

    def lookup(self, address: str | None) -> str | None:
        if not address:
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for net, region in self._nets:
            if ip.version == net.version and ip in net:
                return region
        return None

    def region_for(self, requested: str | None, address: str | None, header: str | None = None) -> str:
        return requested or header or self.lookup(address) or self.default
