"""Which client a request comes from, for the per-address rate limit: the connection's peer, or, when that peer is
a trusted proxy (ENGAGEMENT_TRUSTED_PROXIES), the address the proxies say they received it from.

`X-Forwarded-For` is believed only from a trusted peer, and read from the right: each trusted proxy appends the
address it saw, so the first entry from the right that is not itself a trusted proxy is the client. Anything
left of it was written by the client and could be anything; an entry that is not an address ends the walk.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from engagement_svc.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_FORWARDED_ENTRIES = 64  # a longer chain is cut to its last 64 hops: enough for any real proxy path


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


def client_address(peer: str | None, forwarded: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client's address as text (`unknown` for a connection without one, e.g. a Unix socket)."""
    address = _address(peer) if peer else None
    if address is None:
        return peer or "unknown"
    if not trusted or not _trusted(address, trusted):
        return str(address)
    entries = [e for header in forwarded for e in header.split(",")][-MAX_FORWARDED_ENTRIES:]
    for entry in reversed(entries):
        hop = _address(entry)
        if hop is None:
            break
        address = hop
        if not _trusted(hop, trusted):
            break
    return str(address)
