"""The rate limit's client address: the peer, or behind a trusted proxy the first untrusted hop from the right."""

from __future__ import annotations

import pytest

from engagement_svc.api.client_address import client_address
from engagement_svc.settings import networks

PROXIES = networks("127.0.0.1, 10.0.0.0/8, ::1")


@pytest.mark.parametrize(
    "peer, forwarded, trusted, expected",
    [
        ("198.51.100.7", ["203.0.113.5"], PROXIES, "198.51.100.7"),  # an untrusted peer: its header is ignored
        ("198.51.100.7", ["203.0.113.5"], (), "198.51.100.7"),  # no trusted proxies: never believed
        ("127.0.0.1", ["203.0.113.5"], PROXIES, "203.0.113.5"),
        ("127.0.0.1", [], PROXIES, "127.0.0.1"),  # a proxy that forwards nothing is its own client
        ("127.0.0.1", ["1.2.3.4, 203.0.113.5"], PROXIES, "203.0.113.5"),  # what the client wrote is skipped
        ("127.0.0.1", ["203.0.113.5, 10.1.2.3"], PROXIES, "203.0.113.5"),  # a chain of trusted proxies
        ("127.0.0.1", ["203.0.113.5", "10.1.2.3"], PROXIES, "203.0.113.5"),  # the header repeated
        ("127.0.0.1", ["garbage, 10.1.2.3"], PROXIES, "10.1.2.3"),  # a hop that is no address ends the walk
        ("127.0.0.1", ["\u2603\x00, <script>"], PROXIES, "127.0.0.1"),
        ("127.0.0.1", ["203.0.113.5:4711"], PROXIES, "203.0.113.5"),  # with a port
        ("127.0.0.1", ["[2001:db8::1]:443"], PROXIES, "2001:db8::1"),
        ("::1", ["2001:db8::2"], PROXIES, "2001:db8::2"),
        ("::ffff:127.0.0.1", ["203.0.113.9"], PROXIES, "203.0.113.9"),  # IPv4 mapped into IPv6
        (None, ["203.0.113.5"], PROXIES, "unknown"),
        ("127.0.0.1", [", ".join(["10.0.0.1"] * 10_000)], PROXIES, "10.0.0.1"),  # long chains are cut, not walked
    ],
)
def test_client_address(peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected
