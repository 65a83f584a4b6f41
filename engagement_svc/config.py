"""Settings from the environment, checked once at start-up so a bad value stops the service with one line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE = "rocketchat"
DEFAULT_STATE_DATABASE = "engagement_svc"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it and never echoes a secret."""


@dataclass(frozen=True)
class Settings:
    mongo_url: str
    database: str
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = "UTC"
    max_range_days: int = 732
    query_timeout_ms: int = 10_000
    # The service's own state: counts of closed days, shared by restarts and replicas. Empty: MONGO_URL's server.
    state_mongo_url: str = ""
    state_database: str = DEFAULT_STATE_DATABASE
    close_grace_seconds: int = 600  # a day is closed this long after its local end
    freshness_seconds: float = 5.0  # open days are never staler than this
    sweep_seconds: int = 300  # how often closed days are re-checked for deletions
    warm_days: int = 180  # closed days of the default zone counted in the background at start-up
    # Rocket.Chat's default API rate limit: 10 calls a minute per user; 0 calls turns it off.
    rate_limit_calls: int = 10
    rate_limit_seconds: int = 60
    drain_seconds: int = 30  # on SIGTERM, requests in flight get this long to finish

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        mongo_url = env.get("MONGO_URL", "").strip()
        if not mongo_url:
            raise ConfigError("MONGO_URL is not set: give the Rocket.Chat MongoDB URL, e.g. mongodb://host:27017/rocketchat")
        state_url = env.get("ENGAGEMENT_STATE_MONGO_URL", "").strip()
        return cls(
            mongo_url=mongo_url,
            database=database_from_url(mongo_url),
            host=env.get("ENGAGEMENT_HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=_int(env, "ENGAGEMENT_PORT", 8080, low=0, high=65535),
            timezone=_zone(env, "ENGAGEMENT_TIMEZONE", "UTC"),
            max_range_days=_int(env, "ENGAGEMENT_MAX_RANGE_DAYS", 732, low=1, high=36_500),
            query_timeout_ms=_int(env, "ENGAGEMENT_QUERY_TIMEOUT_MS", 10_000, low=1, high=3_600_000),
            state_mongo_url=state_url,
            state_database=database_from_url(state_url, "ENGAGEMENT_STATE_MONGO_URL", DEFAULT_STATE_DATABASE)
            if state_url else DEFAULT_STATE_DATABASE,
            close_grace_seconds=_int(env, "ENGAGEMENT_CLOSE_GRACE_SECONDS", 600, low=0, high=7 * 86_400),
            freshness_seconds=_int(env, "ENGAGEMENT_FRESHNESS_MS", 5_000, low=0, high=3_600_000) / 1000,
            sweep_seconds=_int(env, "ENGAGEMENT_SWEEP_SECONDS", 300, low=1, high=7 * 86_400),
            warm_days=_int(env, "ENGAGEMENT_WARM_DAYS", 180, low=0, high=36_500),
            rate_limit_calls=_int(env, "ENGAGEMENT_RATE_LIMIT_CALLS", 10, low=0, high=1_000_000_000),
            rate_limit_seconds=_int(env, "ENGAGEMENT_RATE_LIMIT_SECONDS", 60, low=1, high=86_400),
            drain_seconds=_int(env, "ENGAGEMENT_DRAIN_SECONDS", 30, low=0, high=3_600),
        )


def database_from_url(url: str, variable: str = "MONGO_URL", default: str = DEFAULT_DATABASE) -> str:
    """The database is the URL's path, as in Rocket.Chat's own MONGO_URL; `default` when there is none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(f"{variable} is not a valid MongoDB URL") from None
    if parts.scheme not in ("mongodb", "mongodb+srv") or not parts.netloc:
        raise ConfigError(f"{variable} must start with mongodb:// or mongodb+srv:// and name a host")
    name = parts.path.lstrip("/")
    if not name:
        return default
    if any(c in name for c in '/\\. "$') or len(name) > 63:
        raise ConfigError(f"{variable} names an invalid database in its path")
    return name


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _zone(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip() or default
    if load_zone(raw) is None:
        raise ConfigError(f"{name} must be an IANA time zone such as Europe/Berlin, got {raw!r}")
    return raw


def load_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None: bad names (paths, empty, unknown) never raise."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name or "\\" in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
