"""IP networks given in settings (``FEEDBACK_TRUSTED_PROXIES``)."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``10.0.0.0/8, 127.0.0.1`` into networks; ValueError names the entry that is not one."""
    networks = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    return tuple(networks)
