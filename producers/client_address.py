"""Who is asking: the client's address, for the per-address limit of public-key traffic.

``X-Forwarded-For`` is anyone's to write, so it is believed only from the proxies named in
``FEEDBACK_TRUSTED_PROXIES``: reading it right to left, the first address that is not one of
them is the client. Without trusted proxies the TCP peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from runtime.networks import Network


def client_address(peer: str | None, forwarded_for: str | None, trusted: Iterable[Network]) -> str | None:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest address
    in ``X-Forwarded-For`` that is not a trusted proxy itself."""
    trusted = tuple(trusted)
    if peer is None or not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer  # garbage from the client: fall back to the proxy
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
