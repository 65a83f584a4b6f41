"""MongoDB URLs for tests."""

from __future__ import annotations


def with_database(url: str, database: str) -> str:
    """The server URL with its path set to `database`, as MONGO_URL carries it."""
    base, _, options = url.partition("?")
    base = base.rstrip("/")
    if base.count("/") > 2:
        base = base.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{options}" if options else "")
